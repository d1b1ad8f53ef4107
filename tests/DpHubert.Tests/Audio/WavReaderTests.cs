using System;
using System.IO;
using System.Linq;
using DpHubert.Audio;
using FluentAssertions;
using Xunit;
using static DpHubert.Tests.Audio.WavBytes;

namespace DpHubert.Tests.Audio;

public sealed class WavReaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("dphubert-wav-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string WriteFile(string name, byte[] bytes)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    // Stereo int16 values covering the extremes and an odd pattern, as the "ground truth" audio.
    private static readonly int[] Int16Values =
        new[] { 0, 1, -1, 32767, -32768, 12345, -23456, 100, -100, 16384, -16384, 7 }
            .Concat(Enumerable.Range(0, 200).Select(i => (int)(20000 * Math.Sin(i * 0.37)) | 1))
            .ToArray();

    private static float[] ExpectedInt16Floats => Int16Values.Select(v => v / 32768f).ToArray();

    public static TheoryData<string> Encodings => new()
    {
        "pcm16", "pcm24", "pcm32", "float32", "float64",
        "ext-pcm16", "ext-pcm24", "ext-pcm32", "ext-float32", "ext-float64", "ext-pcm24-in-32",
    };

    private static byte[] Encode(string encoding, int[] int16Values, int channels, int rate)
    {
        int[] Scaled(int shift) => int16Values.Select(v => v << shift).ToArray();
        float[] floats = int16Values.Select(v => v / 32768f).ToArray();
        return encoding switch
        {
            "pcm16" => Wav(Fmt(Pcm, channels, rate, 16), Ints(int16Values, 2)),
            "pcm24" => Wav(Fmt(Pcm, channels, rate, 24), Ints(Scaled(8), 3)),
            "pcm32" => Wav(Fmt(Pcm, channels, rate, 32), Ints(Scaled(16), 4)),
            "float32" => Wav(Fmt(Float, channels, rate, 32), Floats(floats)),
            "float64" => Wav(Fmt(Float, channels, rate, 64), Doubles(floats.Select(f => (double)f).ToArray())),
            "ext-pcm16" => Wav(Fmt(Extensible, channels, rate, 16, subFormat: Pcm), Ints(int16Values, 2)),
            "ext-pcm24" => Wav(Fmt(Extensible, channels, rate, 24, subFormat: Pcm), Ints(Scaled(8), 3)),
            "ext-pcm32" => Wav(Fmt(Extensible, channels, rate, 32, subFormat: Pcm), Ints(Scaled(16), 4)),
            "ext-float32" => Wav(Fmt(Extensible, channels, rate, 32, subFormat: Float), Floats(floats)),
            "ext-float64" => Wav(Fmt(Extensible, channels, rate, 64, subFormat: Float), Doubles(floats.Select(f => (double)f).ToArray())),
            // 24 valid bits, left-justified in 32-bit containers: scales by the container, like libsndfile.
            "ext-pcm24-in-32" => Wav(Fmt(Extensible, channels, rate, 32, subFormat: Pcm, validBits: 24), Ints(Scaled(16), 4)),
            _ => throw new ArgumentException(encoding),
        };
    }

    [Theory]
    [MemberData(nameof(Encodings))]
    public void Every_encoding_of_the_same_audio_gives_identical_floats(string encoding)
    {
        var clip = WavReader.Read(WriteFile($"{encoding}.wav", Encode(encoding, Int16Values, 2, 22050)));

        clip.SampleRate.Should().Be(22050);
        clip.Channels.Should().Be(2);
        clip.Frames.Should().Be(Int16Values.Length / 2);
        clip.Samples.Should().Equal(ExpectedInt16Floats);
    }

    [Fact]
    public void Eight_bit_is_unsigned_and_maps_to_x_minus_128_over_128()
    {
        var bytes = Enumerable.Range(0, 256).Select(i => (byte)i).ToArray();
        var clip = WavReader.Read(new MemoryStream(Wav(Fmt(Pcm, 1, 8000, 8), bytes)));

        clip.Samples.Should().Equal(Enumerable.Range(0, 256).Select(i => (i - 128) / 128f));
        clip.Samples[0].Should().Be(-1f);
        clip.Samples[128].Should().Be(0f);
    }

    [Fact]
    public void Full_scale_24_and_32_bit_values_divide_by_2_to_the_bits_minus_1()
    {
        var c24 = WavReader.Read(new MemoryStream(Wav(Fmt(Pcm, 1, 8000, 24), Ints(new[] { -8388608, 8388607, 1, -1 }, 3))));
        c24.Samples.Should().Equal(-1f, 8388607 / 8388608f, 1 / 8388608f, -1 / 8388608f);

        var c32 = WavReader.Read(new MemoryStream(Wav(Fmt(Pcm, 1, 8000, 32), Ints(new[] { int.MinValue, int.MaxValue, 1, -3 }, 4))));
        c32.Samples.Should().Equal(-1f, 1f /* 2^31-1 rounds to 2^31 in float32 */, 1 / 2147483648f, -3 / 2147483648f);
    }

    [Fact]
    public void Float_samples_are_passed_through_unclipped()
    {
        var values = new[] { 1.5f, -2f, float.Epsilon, 0.1f };
        WavReader.Read(new MemoryStream(Wav(Fmt(Float, 1, 8000, 32), Floats(values)))).Samples.Should().Equal(values);
        WavReader.Read(new MemoryStream(Wav(Fmt(Float, 1, 8000, 64), Doubles(new[] { 0.1, 1e-300, -3.0 }))))
            .Samples.Should().Equal((float)0.1, 0f, -3f);
    }

    [Theory]
    [InlineData("u8")]
    [InlineData("s16")]
    [InlineData("s24")]
    [InlineData("s32")]
    [InlineData("f32")]
    [InlineData("f64")]
    public void Files_written_by_sox_decode_like_torchaudio_load(string encoding)
    {
        // sox writes 3-channel integer files as WAVE_FORMAT_EXTENSIBLE and float files with a fact chunk.
        var clip = WavReader.Read(Npy.Fixture("encodings", $"{encoding}.wav"));
        var (reference, shape) = Npy.ReadFloat32(Npy.Fixture("encodings", $"{encoding}.npy"));

        clip.SampleRate.Should().Be(8000);
        clip.Channels.Should().Be(3);
        shape.Should().Equal(3, clip.Frames);
        double maxAbs = 0;
        for (int c = 0; c < 3; c++)
        {
            var channel = clip.GetChannel(c);
            for (int i = 0; i < channel.Length; i++)
            {
                maxAbs = Math.Max(maxAbs, Math.Abs(channel[i] - reference[c * clip.Frames + i]));
            }
        }
        // torchaudio 0.13's sox backend passes every sample through sox's int32 and rounds it to float32
        // slightly differently (up to 1 ulp at 0.5, 6e-8) from libsndfile/soundfile's correctly rounded
        // (float)x / 2^31 and (float)double, which we follow. 8/16/24-bit and float32 are exact in both.
        double tolerance = encoding is "s32" or "f64" ? 6e-8 : 0;
        maxAbs.Should().BeLessThanOrEqualTo(tolerance);
    }

    [Fact]
    public void Front_Center_speech_from_alsa_utils_reads_as_48k_mono()
    {
        const string path = "/usr/share/sounds/alsa/Front_Center.wav";
        File.Exists(path).Should().BeTrue($"{path} comes with Debian's alsa-utils, which tools/setup.sh installs");
        var clip = WavReader.Read(path);
        clip.SampleRate.Should().Be(48000);
        clip.Channels.Should().Be(1);
        clip.Frames.Should().Be(68545);
        clip.Samples.Max().Should().BeLessThanOrEqualTo(1f);
        clip.Samples.Select(Math.Abs).Max().Should().BeGreaterThan(0.1f);
    }

    [Fact]
    public void Unknown_chunks_odd_sizes_and_padding_are_skipped()
    {
        var data = Ints(new[] { 1, 2, 3, 4 }, 2);
        var bytes = Riff(
            Chunk("LIST", "INFOISFT\x05\0\0\0Lavf\0"u8.ToArray()),  // odd-sized body, padded
            Chunk("fmt ", Fmt(Pcm, 2, 16000, 16)),
            Chunk("fact", new byte[] { 2, 0, 0, 0 }),
            Chunk("junk", new byte[] { 9, 9, 9 }),                   // odd again
            Chunk("data", data),
            Chunk("LIST", new byte[10]));                            // trailing chunk after data

        var clip = WavReader.Read(new MemoryStream(bytes));
        clip.Samples.Should().Equal(1 / 32768f, 2 / 32768f, 3 / 32768f, 4 / 32768f);
        WavReader.Read(new NonSeekableStream(bytes)).Samples.Should().Equal(clip.Samples);
    }

    [Fact]
    public void An_odd_chunk_without_its_pad_byte_is_tolerated()
    {
        var bytes = Riff(Chunk("fmt ", Fmt(Pcm, 1, 16000, 16)), Chunk("abcd", new byte[] { 1, 2, 3 }, pad: false), Chunk("data", Ints(new[] { 5 }, 2)));
        WavReader.Read(new MemoryStream(bytes)).Samples.Should().Equal(5 / 32768f);
        WavReader.Read(new NonSeekableStream(bytes)).Samples.Should().Equal(5 / 32768f);
    }

    [Theory]
    [InlineData(0xFFFFFFFFu, 0xFFFFFFFFu)] // ffmpeg to a pipe
    [InlineData(0x7FFFF024u, 0x7FFFF000u)] // sox to a pipe
    [InlineData(0xFFFFFFFFu, 0x7FFFFFFFu)] // arecord
    [InlineData(0u, 0u)]                   // header never finalized
    public void Streaming_placeholder_sizes_read_to_the_end(uint riffSize, uint dataSize)
    {
        var values = Enumerable.Range(-50, 101).ToArray();
        var body = Ints(values, 2).Concat(new byte[] { 0x42 }).ToArray(); // plus half a frame, dropped
        var bytes = Riff(riffSize, Chunk("fmt ", Fmt(Pcm, 1, 16000, 16)), Chunk("data", body, declaredSize: dataSize, pad: false));

        var expected = values.Select(v => v / 32768f).ToArray();
        WavReader.Read(new MemoryStream(bytes)).Samples.Should().Equal(expected);
        WavReader.Read(new NonSeekableStream(bytes)).Samples.Should().Equal(expected);
    }

    [Fact]
    public void A_sox_pipe_output_reads_like_the_file()
    {
        var path = Npy.Fixture("encodings", "s16.wav");
        var fromFile = WavReader.Read(path);
        // Re-create what `sox in.wav -t wav - | cat > out.wav` writes: placeholder sizes 0x7FFFF024 / 0x7FFFF000.
        var bytes = File.ReadAllBytes(path);
        int dataAt = bytes.AsSpan().IndexOf("data"u8);
        BitConverter.GetBytes(0x7FFFF024u).CopyTo(bytes, 4);
        BitConverter.GetBytes(0x7FFFF000u).CopyTo(bytes, dataAt + 4);
        WavReader.Read(new MemoryStream(bytes)).Samples.Should().Equal(fromFile.Samples);
    }

    [Fact]
    public void RF64_takes_the_data_size_from_the_ds64_chunk()
    {
        var values = new[] { 1, -2, 3, -4, 5, -6 };
        var ds64 = new byte[28];
        BitConverter.GetBytes(0xFFFFFFFFL).CopyTo(ds64, 0);
        BitConverter.GetBytes(8L).CopyTo(ds64, 8); // only the first 4 samples belong to the data chunk
        BitConverter.GetBytes(4L).CopyTo(ds64, 16);
        var bytes = Riff(0xFFFFFFFFu, Chunk("ds64", ds64), Chunk("fmt ", Fmt(Pcm, 1, 16000, 16)),
            Chunk("data", Ints(values, 2), declaredSize: 0xFFFFFFFFu));
        "RF64"u8.CopyTo(bytes);

        WavReader.Read(new MemoryStream(bytes)).Samples.Should().Equal(1 / 32768f, -2 / 32768f, 3 / 32768f, -4 / 32768f);
    }

    [Fact]
    public void A_zero_data_size_in_a_finalized_file_is_empty_audio()
    {
        var bytes = Riff(Chunk("fmt ", Fmt(Pcm, 1, 16000, 16)), Chunk("data", Array.Empty<byte>()));
        var clip = WavReader.Read(new MemoryStream(bytes));
        clip.Samples.Should().BeEmpty();
        clip.Frames.Should().Be(0);
    }

    [Fact]
    public void A_partial_trailing_frame_is_dropped()
    {
        var data = Ints(new[] { 1, 2, 3 }, 2); // 3 samples, 2 channels: 1 whole frame
        var clip = WavReader.Read(new MemoryStream(Wav(Fmt(Pcm, 2, 16000, 16), data)));
        clip.Samples.Should().Equal(1 / 32768f, 2 / 32768f);
    }

    [Fact]
    public void A_truncated_file_reports_expected_and_found_bytes_and_the_path()
    {
        var full = Wav(Fmt(Pcm, 1, 16000, 16), new byte[800]);
        var path = WriteFile("cut.wav", full[..(44 + 300)]);

        var act = () => WavReader.Read(path);

        var ex = act.Should().Throw<AudioFormatException>().Which;
        ex.Message.Should().Contain("truncated").And.Contain("declares 800 bytes").And.Contain("only 300 bytes").And.Contain(path);
        ex.Path.Should().Be(path);

        var fromPipe = () => WavReader.Read(new NonSeekableStream(full[..(44 + 300)]), "pipe:0");
        fromPipe.Should().Throw<AudioFormatException>().Which.Message.Should().Contain("declares 800 bytes").And.Contain("only 300 bytes").And.Contain("pipe:0");
    }

    [Fact]
    public void A_truncated_header_or_chunk_says_so()
    {
        var full = Wav(Fmt(Pcm, 1, 16000, 16), new byte[8]);
        var act = () => WavReader.Read(new MemoryStream(full[..30]), "short.wav");
        act.Should().Throw<AudioFormatException>().Which.Message.Should().Contain("'fmt '").And.Contain("expected 16 bytes, found 10").And.Contain("short.wav");

        var act2 = () => WavReader.Read(new MemoryStream(full[..10]), "tiny.wav");
        act2.Should().Throw<AudioFormatException>().Which.Message.Should().Contain("expected 12 bytes, found 10");
    }

    [Theory]
    [InlineData((ushort)0x0055, "format tag 0x0055 (MPEG Layer 3) is not supported")]
    [InlineData((ushort)0x0002, "format tag 0x0002 (Microsoft ADPCM) is not supported")]
    [InlineData((ushort)0x0011, "format tag 0x0011 (IMA ADPCM) is not supported")]
    [InlineData((ushort)0x0006, "format tag 0x0006 (A-law) is not supported")]
    [InlineData((ushort)0x1234, "format tag 0x1234 (unrecognized) is not supported")]
    public void Unsupported_format_tags_are_named(ushort tag, string expected)
    {
        var path = WriteFile("compressed.wav", Wav(Fmt(tag, 1, 44100, 4, blockAlign: 1), new byte[16]));

        var ex = FluentActions.Invoking(() => WavReader.Read(path)).Should().Throw<AudioFormatException>().Which;

        ex.Message.Should().Contain(expected).And.Contain("supported: PCM 8/16/24/32, IEEE float 32/64, extensible").And.Contain(path);
        ex.Path.Should().Be(path);
    }

    [Fact]
    public void Unsupported_extensible_sub_formats_and_sample_sizes_are_named()
    {
        FluentActions.Invoking(() => WavReader.Read(new MemoryStream(Wav(Fmt(Extensible, 1, 8000, 8, subFormat: 0x0007), new byte[4])), "mulaw.wav"))
            .Should().Throw<AudioFormatException>().WithMessage("*mulaw.wav*extensible sub-format 0x0007 (mu-law) is not supported*");
        FluentActions.Invoking(() => WavReader.Read(new MemoryStream(Wav(Fmt(Float, 1, 8000, 16), new byte[4])), "half.wav"))
            .Should().Throw<AudioFormatException>().WithMessage("*IEEE float with 16 bits per sample is not supported*");
        FluentActions.Invoking(() => WavReader.Read(new MemoryStream(Wav(Fmt(Pcm, 2, 8000, 16, blockAlign: 6), new byte[12])), "odd.wav"))
            .Should().Throw<AudioFormatException>().WithMessage("*block align 6 does not match 2 channel(s)*");
    }

    [Fact]
    public void A_non_riff_file_is_rejected_by_name()
    {
        var path = WriteFile("notes.wav", "ID3\x03 this is an mp3, honest"u8.ToArray());
        var ex = FluentActions.Invoking(() => WavReader.Read(path)).Should().Throw<AudioFormatException>().Which;
        ex.Message.Should().Contain("not a RIFF/WAVE file").And.Contain("ID3").And.Contain(path);
        ex.Path.Should().Be(path);

        FluentActions.Invoking(() => WavReader.Read(WriteFile("empty.wav", Array.Empty<byte>())))
            .Should().Throw<AudioFormatException>().WithMessage("*not a RIFF/WAVE file (it is empty)*");

        var avi = Riff(Chunk("hdrl", new byte[4]));
        avi[8] = (byte)'A'; avi[9] = (byte)'V'; avi[10] = (byte)'I'; avi[11] = (byte)' ';
        FluentActions.Invoking(() => WavReader.Read(new MemoryStream(avi), "movie.avi"))
            .Should().Throw<AudioFormatException>().WithMessage("*movie.avi*RIFF form type is 'AVI '*");
    }

    [Fact]
    public void Missing_fmt_or_data_chunks_are_reported()
    {
        FluentActions.Invoking(() => WavReader.Read(new MemoryStream(Riff(Chunk("LIST", new byte[4]))), "nofmt.wav"))
            .Should().Throw<AudioFormatException>().WithMessage("*no 'fmt ' chunk*");
        FluentActions.Invoking(() => WavReader.Read(new MemoryStream(Riff(Chunk("fmt ", Fmt(Pcm, 1, 8000, 16)))), "nodata.wav"))
            .Should().Throw<AudioFormatException>().WithMessage("*no 'data' chunk*");
    }

    [Fact]
    public void A_missing_file_throws_FileNotFoundException()
    {
        FluentActions.Invoking(() => WavReader.Read(Path.Combine(_dir, "absent.wav"))).Should().Throw<FileNotFoundException>();
    }

    [Fact]
    public void Many_channels_and_odd_rates_are_read()
    {
        var values = Enumerable.Range(0, 6 * 7).Select(i => i * 100 - 2000).ToArray();
        var clip = WavReader.Read(new MemoryStream(Wav(Fmt(Extensible, 6, 7350, 24, subFormat: Pcm), Ints(values.Select(v => v << 8).ToArray(), 3))));
        clip.Channels.Should().Be(6);
        clip.SampleRate.Should().Be(7350);
        clip.GetChannel(5).Should().Equal(Enumerable.Range(0, 7).Select(f => values[f * 6 + 5] / 32768f));
    }
}
