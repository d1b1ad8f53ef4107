using System;
using System.IO;
using System.Linq;
using DpHubert.Audio;
using FluentAssertions;
using Xunit;

namespace DpHubert.Tests.Audio;

public sealed class WavWriterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("dphubert-wavw-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Pcm16_round_trips_values_on_the_1_over_32768_grid_and_clamps()
    {
        var path = Path.Combine(_dir, "a.wav");
        var grid = new[] { 0f, 1 / 32768f, -1f, 32767 / 32768f, 0.5f, -0.25f };

        WavWriter.WritePcm16(path, grid, 16000, 2);
        var clip = WavReader.Read(path);

        clip.SampleRate.Should().Be(16000);
        clip.Channels.Should().Be(2);
        clip.Samples.Should().Equal(grid);
        new FileInfo(path).Length.Should().Be(44 + 2 * grid.Length);

        WavWriter.WritePcm16(path, new[] { 1f, 2f, -3f, float.NaN, 0.7f / 32768f }, 8000);
        WavReader.Read(path).Samples.Should().Equal(32767 / 32768f, 32767 / 32768f, -1f, 0f, 1 / 32768f);
    }

    [Fact]
    public void Float32_round_trips_exactly()
    {
        var path = Path.Combine(_dir, "f.wav");
        var values = Enumerable.Range(0, 300).Select(i => (float)Math.Sin(i * 0.1) * 1.3f).ToArray();

        WavWriter.WriteFloat32(path, values, 44100, 3);
        var clip = WavReader.Read(path);

        clip.Should().BeEquivalentTo(new { SampleRate = 44100, Channels = 3 });
        clip.Samples.Should().Equal(values);
    }

    [Fact]
    public void Writing_replaces_an_existing_file_atomically_and_leaves_no_temp_files()
    {
        var path = Path.Combine(_dir, "out.wav");
        File.WriteAllText(path, "old");

        WavWriter.WriteFloat32(path, new AudioClip(new[] { 0.25f }, 16000, 1));

        WavReader.Read(path).Samples.Should().Equal(0.25f);
        Directory.GetFiles(_dir).Should().Equal(path);
    }

    [Fact]
    public void Streams_get_the_same_bytes_as_files()
    {
        var path = Path.Combine(_dir, "s.wav");
        var values = new[] { 0.1f, -0.2f };
        WavWriter.WritePcm16(path, values, 16000);
        var ms = new MemoryStream();
        WavWriter.WritePcm16(ms, values, 16000);
        ms.ToArray().Should().Equal(File.ReadAllBytes(path));
    }

    [Fact]
    public void Invalid_arguments_are_rejected()
    {
        var path = Path.Combine(_dir, "bad.wav");
        FluentActions.Invoking(() => WavWriter.WritePcm16(path, new float[3], 16000, 2)).Should().Throw<ArgumentException>();
        FluentActions.Invoking(() => WavWriter.WritePcm16(path, new float[2], 0, 1)).Should().Throw<ArgumentOutOfRangeException>();
        File.Exists(path).Should().BeFalse();
    }
}
