using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using DpHubert.Audio;
using FluentAssertions;
using Xunit;
using Xunit.Abstractions;

namespace DpHubert.Tests.Audio;

/// <summary>The format dispatch: by content first, by extension where the content does not say; the ffmpeg path for
/// the other containers, its absence and its time limit; unknown data refused by name.</summary>
public sealed class AudioReaderTests(ITestOutputHelper output)
{
    [AudioToolsFact("flac")]
    public void The_content_decides_whatever_the_extension_says()
    {
        var pcm = AudioTools.Pcm(4000, 1, 16, seed: 1);
        string wav = AudioTools.Temp("a.wav"), flac = Path.ChangeExtension(wav, ".flac"), misnamed = Path.ChangeExtension(wav, ".misnamed.wav");
        AudioTools.WriteWav(wav, pcm, 1, 16, 16000);
        AudioTools.Run("flac", "-s", "-f", "-o", flac, wav);
        File.Copy(flac, misnamed);
        var expected = WavReader.Read(wav).Samples;
        AudioReader.Read(misnamed).Samples.Should().Equal(expected);
        AudioReader.Detect(File.ReadAllBytes(flac).AsSpan(0, 64), "x.mp3").Should().Be(AudioFormat.Flac);
        AudioReader.Read(new NonSeekableStream(File.ReadAllBytes(flac)), "stream").Samples.Should().Equal(expected);
        AudioReader.Read(new NonSeekableStream(File.ReadAllBytes(wav))).Samples.Should().Equal(expected);
    }

    [Fact]
    public void Detects_each_container_by_its_magic_bytes()
    {
        AudioReader.Detect("RIFF\0\0\0\0WAVEfmt "u8).Should().Be(AudioFormat.Wav);
        AudioReader.Detect("fLaC\0\0\0\u0022"u8).Should().Be(AudioFormat.Flac);
        AudioReader.Detect("ID3\u0004\0\0\0\0\0\u0002\0\0fLaC"u8).Should().Be(AudioFormat.Flac);
        AudioReader.Detect(new byte[] { 0xFF, 0xFB, 0x90, 0x44 }).Should().Be(AudioFormat.Mp3);
        AudioReader.Detect(new byte[] { 0xFF, 0xF1, 0x50, 0x80 }).Should().Be(AudioFormat.Aac);
        AudioReader.Detect("\0\0\0\u0020ftypM4A "u8).Should().Be(AudioFormat.Mp4);
        AudioReader.Detect(new byte[] { 0x1A, 0x45, 0xDF, 0xA3, 0x9F }).Should().Be(AudioFormat.Matroska);
        AudioReader.Detect("FORM\0\0\0\0AIFF"u8).Should().Be(AudioFormat.Aiff);
        var opus = new byte[64];
        "OggS"u8.CopyTo(opus);
        opus[26] = 1;
        "OpusHead"u8.CopyTo(opus.AsSpan(28));
        AudioReader.Detect(opus).Should().Be(AudioFormat.OggOpus);
        AudioReader.Detect("hello world, no audio"u8, "x.opus").Should().Be(AudioFormat.OggOpus, "the extension decides when the content does not");
        AudioReader.Detect("hello world, no audio"u8, "x.txt").Should().Be(AudioFormat.Unknown);
        AudioReader.Extensions.Should().Contain(new[] { ".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".webm" });
    }

    [Fact]
    public void Unknown_data_is_refused_naming_the_file()
    {
        string path = AudioTools.Temp("notes.txt");
        File.WriteAllText(path, "not audio at all");
        var e = FluentActions.Invoking(() => AudioReader.Read(path)).Should().Throw<AudioFormatException>().Which;
        e.Message.Should().Contain(path).And.Contain("not a recognised audio format");
        e.Path.Should().Be(path);
        FluentActions.Invoking(() => AudioReader.Read(new MemoryStream(), "empty.flac")).Should().Throw<AudioFormatException>()
            .Which.Message.Should().Contain("empty.flac");
    }

    [AudioToolsTheory("ffmpeg")]
    [InlineData("m4a", "aac", 44100)]
    [InlineData("opus", "libopus", 48000)]
    [InlineData("webm", "libopus", 48000)]
    [InlineData("aiff", "pcm_s16be", 22050)]
    public void Other_containers_decode_through_ffmpeg(string extension, string codec, int rate)
    {
        var pcm = AudioTools.Voice(rate, 1, rate, seed: 2);
        string wav = AudioTools.Temp("in.wav"), encoded = Path.ChangeExtension(wav, "." + extension), reference = Path.ChangeExtension(wav, ".ref.wav");
        WavWriter.WritePcm16(wav, pcm, rate);
        AudioTools.Run("ffmpeg", "-v", "error", "-y", "-i", wav, "-c:a", codec, encoded);
        AudioTools.Run("ffmpeg", "-v", "error", "-y", "-i", encoded, "-c:a", "pcm_f32le", reference);
        var ours = AudioReader.Read(encoded);
        var expected = WavReader.Read(reference);
        ours.SampleRate.Should().Be(expected.SampleRate);
        ours.Samples.Should().Equal(expected.Samples, "the same ffmpeg decodes both");
        AudioReader.Read(new NonSeekableStream(File.ReadAllBytes(encoded)), "piped." + extension).Samples.Should().Equal(expected.Samples);

        // Cut short: refused by name, not decoded in part (ffmpeg reads a cut PCM container such as AIFF in part, silently).
        if (extension == "aiff") return;
        var bytes = File.ReadAllBytes(encoded);
        string cut = AudioTools.Temp("cut." + extension);
        File.WriteAllBytes(cut, bytes[..(bytes.Length * 2 / 3)]);
        var clock = Stopwatch.StartNew();
        var failure = FluentActions.Invoking(() => AudioReader.Read(cut)).Should().Throw<AudioFormatException>().Which;
        failure.Message.Should().Contain(cut);
        output.WriteLine($"{extension}: {failure.Message} ({clock.ElapsedMilliseconds} ms)");
    }

    [Fact]
    public void Without_ffmpeg_the_error_names_the_format_and_what_to_install()
    {
        string m4a = AudioTools.Temp("speech.m4a");
        File.WriteAllBytes(m4a, "\0\0\0\u0020ftypM4A \0\0\0\0M4A mp42isom\0\0\0\0"u8.ToArray());
        var options = new AudioReadOptions { FfmpegPath = Path.Combine(Path.GetTempPath(), "no-such-ffmpeg") };
        var e = FluentActions.Invoking(() => AudioReader.Read(m4a, options)).Should().Throw<AudioDecoderNotFoundException>().Which;
        e.FormatName.Should().Be("M4A/AAC");
        e.Message.Should().Contain(m4a).And.Contain("M4A/AAC").And.Contain("apt-get install ffmpeg");
        FfmpegAudioReader.Locate(null, "").Should().BeNull();
        FfmpegAudioReader.Locate(null, "/nonexistent-dir").Should().BeNull();
    }

    [Fact]
    public void A_hanging_ffmpeg_is_stopped_at_the_time_limit()
    {
        if (!OperatingSystem.IsLinux()) return; // the stand-in is a shell script
        string fake = AudioTools.Temp("ffmpeg");
        File.WriteAllText(fake, "#!/bin/sh\nexec sleep 60\n");
        File.SetUnixFileMode(fake, UnixFileMode.UserRead | UnixFileMode.UserExecute | UnixFileMode.UserWrite);
        string m4a = AudioTools.Temp("slow.m4a");
        File.WriteAllBytes(m4a, "\0\0\0\u0020ftypM4A \0\0\0\0"u8.ToArray());
        var clock = Stopwatch.StartNew();
        var e = FluentActions.Invoking(() => AudioReader.Read(m4a, new AudioReadOptions { FfmpegPath = fake, DecoderTimeout = TimeSpan.FromSeconds(1) }))
            .Should().Throw<AudioFormatException>().Which;
        e.Message.Should().Contain(m4a).And.Contain("did not finish within 1 s");
        clock.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(50), "the process is killed, not waited for");
    }
}
