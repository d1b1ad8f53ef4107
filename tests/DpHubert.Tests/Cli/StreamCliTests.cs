using System;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using DpHubert.Audio;
using DpHubert.Extraction;
using DpHubert.IO;
using DpHubert.Streaming;
using DpHubert.Tests.Support;
using FluentAssertions;
using Xunit;

namespace DpHubert.Tests.Cli;

/// <summary><c>dphubert stream</c>: a WAV or raw PCM on standard input, block by block, into one .npy equal to the
/// library's stream, with per-block latency statistics; errors and exit codes as <c>extract</c>'s.</summary>
public sealed class StreamCliTests
{
    private const string Speech = "/usr/share/sounds/alsa/Front_Center.wav"; // 48 kHz, 16-bit mono speech
    private static string Checkpoint => TestFiles.DpHubertCase("hubert_post_ln", "checkpoint.pth");

    private static float[] LibraryStream(StreamOptions options)
    {
        using var encoder = SpeechEncoder.Load(Checkpoint);
        using var stream = encoder.OpenStream(options);
        var clip = WavReader.Read(Speech);
        return Streaming.StreamReference.Stream(stream, AudioPreprocessor.ToMono(clip), clip.SampleRate, (int)Math.Round(options.BlockSeconds * clip.SampleRate), out _);
    }

    [Fact]
    public void A_wav_streams_into_the_library_streams_frames_with_latency_statistics()
    {
        string dir = TestFiles.TempDir();
        string npy = Path.Combine(dir, "out", "stream.npy");
        var r = ConsoleRunner.Run("stream", "--checkpoint", Checkpoint, "--input", Speech, "--output", npy, "--block", "0.1", "--context", "0.5", "--lookahead", "2");
        r.ExitCode.Should().Be(0, r.ToString());
        var got = Npy.Read(npy);
        var expected = LibraryStream(new StreamOptions { BlockSeconds = 0.1, ContextSeconds = 0.5, LookaheadFrames = 2 });
        using (var encoder = SpeechEncoder.Load(Checkpoint))
            got.Shape.Should().Equal(encoder.ExtractFile(Speech).Shape, "the stream gives offline extraction's frame count");
        Streaming.StreamReference.MaxAbsDiff(got.Data!, expected).Should().BeLessThanOrEqualTo(1e-6);
        r.StdOut.Should().Contain($"-> {npy} [{got.Shape[0]}, 48]").And.Contain("compute per block median").And.Contain("p99")
            .And.Contain("latency (block + lookahead + compute)").And.Contain("real-time factor");
        r.StdOut.Should().NotContain("deadline misses", "only --realtime paces the input and counts misses");
    }

    [Fact]
    public void A_stereo_wav_at_another_rate_is_read_block_by_block_and_mixed_as_the_library_mixes_it()
    {
        // 44.1 kHz stereo float WAV: the left channel the speech, the right its half (the mix is 0.75 of it).
        var mono = AudioPreprocessor.Resample(AudioPreprocessor.ToMono(WavReader.Read(Speech)), 48000, 44100);
        var stereo = mono.SelectMany(x => new[] { x, 0.5f * x }).ToArray();
        string dir = TestFiles.TempDir();
        string wav = Path.Combine(dir, "stereo.wav"), npy = Path.Combine(dir, "stereo.npy");
        WavWriter.WriteFloat32(wav, stereo, 44100, channels: 2);
        var r = ConsoleRunner.Run("stream", "--checkpoint", Checkpoint, "--input", wav, "--output", npy, "--block", "0.2", "--context", "1");
        r.ExitCode.Should().Be(0, r.ToString());
        using var encoder = SpeechEncoder.Load(Checkpoint);
        var options = new StreamOptions { BlockSeconds = 0.2, ContextSeconds = 1 };
        using var stream = encoder.OpenStream(options);
        var expected = Streaming.StreamReference.Stream(stream, AudioPreprocessor.ToMono(WavReader.Read(wav)), 44100, 8820, out long frames);
        var got = Npy.Read(npy);
        got.Shape[0].Should().Be(frames);
        got.Data.Should().Equal(expected, "the console's blocks mix and stream exactly as the library does");
    }

    [Fact]
    public void Raw_pcm_on_standard_input_gives_what_the_wav_gives()
    {
        var clip = WavReader.Read(Speech);
        string dir = TestFiles.TempDir();
        string fromWav = Path.Combine(dir, "wav.npy"), fromS16 = Path.Combine(dir, "s16.npy"), fromF32 = Path.Combine(dir, "f32.npy");
        string[] common = { "--checkpoint", Checkpoint, "--block", "0.25", "--context", "1", "--layer", "all" };
        ConsoleRunner.Run(new[] { "stream", "--input", Speech, "--output", fromWav }.Concat(common).ToArray()).ExitCode.Should().Be(0);

        // The file's 16-bit samples as s16le, and the decoded floats as f32le in two channels (mixed back to the same mono).
        var s16 = clip.Samples.Select(x => (short)Math.Round(x * 32768)).ToArray();
        var r = ConsoleRunner.RunWithInput(MemoryMarshal.AsBytes(s16.AsSpan()).ToArray(),
            new[] { "stream", "--input", "-", "--raw-rate", "48000", "--output", fromS16, "--realtime" }.Concat(common).ToArray());
        r.ExitCode.Should().Be(0, r.ToString());
        r.StdOut.Should().Contain("deadline misses:");
        var stereo = clip.Samples.SelectMany(x => new[] { x, x }).ToArray();
        r = ConsoleRunner.RunWithInput(MemoryMarshal.AsBytes(stereo.AsSpan()).ToArray(),
            new[] { "stream", "--input", "-", "--raw-rate", "48000", "--raw-format", "f32le", "--raw-channels", "2", "--output", fromF32 }.Concat(common).ToArray());
        r.ExitCode.Should().Be(0, r.ToString());

        var wav = Npy.Read(fromWav);
        wav.Shape.Length.Should().Be(3, "--layer all writes (layers + 1, frames, dim)");
        Npy.Read(fromS16).Data.Should().Equal(wav.Data);
        Npy.Read(fromF32).Data.Should().Equal(wav.Data);
    }

    [Fact]
    public void Bad_options_and_inputs_exit_2_or_1_with_a_named_error_and_write_nothing()
    {
        string dir = TestFiles.TempDir();
        string npy = Path.Combine(dir, "x.npy");
        var r = ConsoleRunner.Run("stream", "--checkpoint", Checkpoint, "--input", "-", "--output", npy);
        r.ExitCode.Should().Be(2);
        r.StdErr.Should().Contain("--raw-rate");
        r = ConsoleRunner.Run("stream", "--checkpoint", Checkpoint, "--input", "-", "--raw-rate", "48000", "--raw-format", "u8", "--output", npy);
        r.ExitCode.Should().Be(2);
        r.StdErr.Should().Contain("--raw-format").And.Contain("u8");
        r = ConsoleRunner.Run("stream", "--checkpoint", Checkpoint, "--input", Speech, "--output", npy, "--context", "-2");
        r.ExitCode.Should().Be(2);
        r.StdErr.Should().Contain("--context");
        r = ConsoleRunner.Run("stream", "--checkpoint", Checkpoint, "--input", Path.Combine(dir, "missing.wav"), "--output", npy);
        r.ExitCode.Should().Be(2);
        r.StdErr.Should().Contain("missing.wav");

        string broken = Path.Combine(dir, "broken.wav");
        File.WriteAllBytes(broken, new byte[] { (byte)'R', (byte)'I', (byte)'F', (byte)'F', 1, 2, 3 });
        r = ConsoleRunner.Run("stream", "--checkpoint", Checkpoint, "--input", broken, "--output", npy);
        r.ExitCode.Should().Be(1, r.ToString());
        r.StdErr.Should().Contain("broken.wav");
        // Three bytes of 16-bit PCM: one whole sample and half of another.
        r = ConsoleRunner.RunWithInput(new byte[] { 1, 2, 3 }, "stream", "--checkpoint", Checkpoint, "--input", "-", "--raw-rate", "16000", "--output", npy);
        r.ExitCode.Should().Be(1, r.ToString());
        r.StdErr.Should().Contain("standard input");
        File.Exists(npy).Should().BeFalse();
        Directory.GetFiles(dir).Should().OnlyContain(f => f.EndsWith("broken.wav", StringComparison.Ordinal));
    }
}
