using System;
using System.IO;
using DpHubert.Audio;
using DpHubert.Extraction;
using DpHubert.Tests.Support;
using FluentAssertions;
using Xunit;

namespace DpHubert.Tests.Audio;

/// <summary>NaN and ±Infinity samples would come out as NaN features: the reader and the API refuse them by index.</summary>
public sealed class NonFiniteAudioTests
{
    public static TheoryData<float, string> BadFloats => new()
    {
        { float.NaN, "NaN" }, { float.PositiveInfinity, "+Infinity" }, { float.NegativeInfinity, "-Infinity" },
    };

    [Theory]
    [MemberData(nameof(BadFloats))]
    public void A_float32_wav_with_a_non_finite_sample_is_refused_naming_the_file_and_index(float bad, string text)
    {
        var samples = new float[100_000]; // more than one 64 KiB read buffer, so the index is counted across reads
        samples[77_777] = bad;
        string path = Path.Combine(TestFiles.TempDir(), "bad.wav");
        WavWriter.WriteFloat32(path, samples, 16000);

        var e = FluentActions.Invoking(() => WavReader.Read(path)).Should().Throw<AudioFormatException>().Which;

        e.Message.Should().Contain(path).And.Contain($"sample 77777 is {text}");
        e.Path.Should().Be(path);
    }

    [Fact]
    public void A_float64_wav_names_the_value_and_the_channel()
    {
        var values = new double[2 * 50];
        values[2 * 10 + 1] = double.NegativeInfinity;
        byte[] wav = WavBytes.Wav(WavBytes.Fmt(WavBytes.Float, 2, 16000, 64), WavBytes.Doubles(values));

        FluentActions.Invoking(() => WavReader.Read(new MemoryStream(wav), "stereo.wav")).Should().Throw<AudioFormatException>()
            .WithMessage("*'stereo.wav'*sample 21 (frame 10, channel 1) is -Infinity*");
    }

    [Fact]
    public void A_float64_beyond_the_float32_range_is_refused_with_its_value()
    {
        var values = new double[64];
        values[5] = 1e300;
        byte[] wav = WavBytes.Wav(WavBytes.Fmt(WavBytes.Float, 1, 16000, 64), WavBytes.Doubles(values));

        FluentActions.Invoking(() => WavReader.Read(new MemoryStream(wav), "huge.wav")).Should().Throw<AudioFormatException>()
            .WithMessage("*sample 5 is 1E+300, beyond the float32 range*");
    }

    [Fact]
    public void Huge_finite_samples_that_overflow_when_mixed_are_refused_not_passed_on_as_infinity()
    {
        var samples = new float[2 * 8000];
        samples[200] = samples[201] = float.MaxValue; // both channels of frame 100: the float32 sum overflows
        string path = Path.Combine(TestFiles.TempDir(), "loud.wav");
        WavWriter.WriteFloat32(path, samples, 16000, channels: 2);

        FluentActions.Invoking(() => AudioPreprocessor.LoadMono16k(path)).Should().Throw<AudioFormatException>()
            .WithMessage($"*{path}*overflow float32*sample 100*");
    }

    [Fact]
    public void Integer_pcm_cannot_be_non_finite_and_still_reads()
    {
        string path = Path.Combine(TestFiles.TempDir(), "pcm.wav");
        WavWriter.WritePcm16(path, new float[] { 1f, -1f, 0.5f }, 16000);
        WavReader.Read(path).Samples.Should().HaveCount(3);
    }

    [Theory]
    [MemberData(nameof(BadFloats))]
    public void The_api_refuses_non_finite_samples_by_index(float bad, string text)
    {
        using var encoder = SpeechEncoder.Load(TestFiles.DpHubertCase("hubert_post_ln", "checkpoint.pth"));
        var samples = new float[16000];
        samples[1234] = bad;

        FluentActions.Invoking(() => encoder.Extract(samples, 44100)).Should().Throw<ArgumentException>()
            .WithMessage($"samples[1234] is {text}*");
        FluentActions.Invoking(() => encoder.Extract(samples)).Should().Throw<ArgumentException>()
            .WithMessage($"samples16k[1234] is {text}*");
        FluentActions.Invoking(() => encoder.ExtractBatch(new[] { new float[16000], samples })).Should().Throw<ArgumentException>()
            .WithMessage($"samples16k[1][1234] is {text}*");
        FluentActions.Invoking(() => encoder.ExtractBatch(new[] { samples }, 22050)).Should().Throw<ArgumentException>()
            .WithMessage($"samples[0][1234] is {text}*");
        FluentActions.Invoking(() => encoder.Extract(samples, LayerSelection.Final, new ExtractionOptions { ChunkSeconds = 0.2 }))
            .Should().Throw<ArgumentException>().WithMessage($"samples16k[1234] is {text}*");
    }
}
