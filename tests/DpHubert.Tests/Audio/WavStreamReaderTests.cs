using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using DpHubert.Audio;
using FluentAssertions;
using Xunit;

namespace DpHubert.Tests.Audio;

/// <summary><see cref="WavReader.Open(string)"/>: a WAV read block by block gives exactly the whole file's samples, reads
/// no further than the blocks asked for (so a pipe or a file still being written streams), and fails as the whole-file
/// reader does on truncated data.</summary>
public sealed class WavStreamReaderTests
{
    public static TheoryData<string, int> Encodings() => new()
    {
        { "pcm16 stereo", 1 }, { "pcm16 stereo", 7 }, { "pcm16 stereo", 1000 },
        { "pcm24 mono", 13 }, { "pcm8 mono", 5 }, { "float32 3ch", 11 }, { "float64 mono", 3 }, { "streaming header", 17 },
    };

    private static byte[] File(string kind)
    {
        var rng = new Random(3);
        int[] Ints(int n, int bits) => Enumerable.Range(0, n).Select(_ => rng.Next(-(1 << (bits - 1)), 1 << (bits - 1))).ToArray();
        return kind switch
        {
            "pcm16 stereo" => WavBytes.Wav(WavBytes.Fmt(WavBytes.Pcm, 2, 44100, 16), WavBytes.Ints(Ints(2 * 2501, 16), 2)),
            "pcm24 mono" => WavBytes.Wav(WavBytes.Fmt(WavBytes.Pcm, 1, 22050, 24), WavBytes.Ints(Ints(1999, 24), 3)),
            "pcm8 mono" => WavBytes.Wav(WavBytes.Fmt(WavBytes.Pcm, 1, 8000, 8), WavBytes.Ints(Enumerable.Range(0, 777).Select(i => i % 256).ToArray(), 1)),
            "float32 3ch" => WavBytes.Wav(WavBytes.Fmt(WavBytes.Float, 3, 48000, 32), WavBytes.Floats(Enumerable.Range(0, 3 * 1234).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray())),
            "float64 mono" => WavBytes.Wav(WavBytes.Fmt(WavBytes.Float, 1, 16000, 64), WavBytes.Doubles(Enumerable.Range(0, 901).Select(_ => rng.NextDouble() - 0.5).ToArray())),
            "streaming header" => WavBytes.Riff(0xFFFFFFFFu, WavBytes.Chunk("fmt ", WavBytes.Fmt(WavBytes.Pcm, 1, 16000, 16)),
                WavBytes.Chunk("data", WavBytes.Ints(Ints(3001, 16), 2), declaredSize: 0xFFFFFFFFu)),
            _ => throw new ArgumentException(kind),
        };
    }

    [Theory]
    [MemberData(nameof(Encodings))]
    public void Blocks_of_any_size_concatenate_to_the_whole_files_samples(string kind, int blockFrames)
    {
        var bytes = File(kind);
        var whole = WavReader.Read(new MemoryStream(bytes), kind);
        using var reader = WavReader.Open(new MemoryStream(bytes), kind);
        reader.SampleRate.Should().Be(whole.SampleRate);
        reader.Channels.Should().Be(whole.Channels);
        var got = new List<float>();
        var block = new float[blockFrames * reader.Channels];
        int n;
        while ((n = reader.Read(block, blockFrames)) > 0) got.AddRange(block.AsSpan(0, n * reader.Channels).ToArray());
        got.Should().Equal(whole.Samples);
        reader.Read(block, blockFrames).Should().Be(0, "after the end");
    }

    [Fact]
    public void It_reads_only_the_header_and_the_frames_asked_for()
    {
        var bytes = File("pcm16 stereo");
        var source = new NonSeekableStream(bytes);
        using var reader = WavReader.Open(source, "pipe");
        long header = source.Consumed;
        header.Should().Be(44, "RIFF, fmt and the data chunk's header");
        var block = new float[2 * 100];
        reader.Read(block, 100).Should().Be(100);
        source.Consumed.Should().Be(header + 100 * 4, "100 frames of two 16-bit samples and not a byte more");
    }

    [Fact]
    public void Truncated_data_is_an_error_naming_the_file_once_its_end_is_reached()
    {
        var data = WavBytes.Ints(Enumerable.Range(0, 1000).ToArray(), 2);
        var bytes = WavBytes.Riff(WavBytes.Chunk("fmt ", WavBytes.Fmt(WavBytes.Pcm, 1, 16000, 16)),
            WavBytes.Chunk("data", data, declaredSize: 4000));
        using var reader = WavReader.Open(new NonSeekableStream(bytes), "cut.wav");
        var block = new float[600];
        reader.Read(block, 600).Should().Be(600);
        var act = () => reader.Read(block, 600);
        act.Should().Throw<AudioFormatException>().WithMessage("*cut.wav*truncated*4000*2000*");
    }
}
