using System;
using System.Threading;
using System.Diagnostics;
using System.IO;
using System.Linq;
using DpHubert.Audio;
using DpHubert.Extraction;
using DpHubert.Tests.Support;
using FluentAssertions;
using Xunit;
using Xunit.Abstractions;
using WavBytes = DpHubert.Tests.Audio.WavBytes;

namespace DpHubert.Tests.Cli;

/// <summary>The console on files pipelines really meet: odd sample rates, corrupt rates, NaN/Inf samples and a recording
/// too long for memory, mixed with good files in one folder run.</summary>
public sealed class ReliabilityCliTests(ITestOutputHelper output)
{
    private static string Checkpoint => TestFiles.DpHubertCase("hubert_post_ln", "checkpoint.pth");

    private ConsoleRunner.Result Run(params string[] args)
    {
        var r = ConsoleRunner.RunWithTimeout(TimeSpan.FromSeconds(240), args);
        output.WriteLine($"dphubert {string.Join(' ', args)}\n{r}");
        return r;
    }

    [Fact]
    public void A_folder_of_odd_and_broken_files_writes_the_good_ones_and_fails_each_bad_one()
    {
        string dir = TestFiles.TempDir(), inDir = Path.Combine(dir, "in"), outDir = Path.Combine(dir, "out");
        Directory.CreateDirectory(inDir);
        var speech = WavReader.Read(TestFiles.DpHubertCase("hubert_post_ln", "input.wav")).Samples;
        WavWriter.WritePcm16(Path.Combine(inDir, "good.wav"), speech, 16000);
        // The same samples declared at odd rates: resampled by the direct filter, without GBs of kernel.
        WavWriter.WritePcm16(Path.Combine(inDir, "rate44101.wav"), speech, 44101);
        WavWriter.WritePcm16(Path.Combine(inDir, "rate96001.wav"), speech, 96001);
        WavWriter.WritePcm16(Path.Combine(inDir, "rate2147483647.wav"), speech, int.MaxValue);
        var nan = (float[])speech.Clone();
        nan[4321] = float.NaN;
        WavWriter.WriteFloat32(Path.Combine(inDir, "nan.wav"), nan, 16000);
        var inf = (float[])speech.Clone();
        inf[5] = float.NegativeInfinity;
        WavWriter.WriteFloat32(Path.Combine(inDir, "inf.wav"), inf, 16000);
        // 10 minutes (8-bit, 9.6 MB) against a 0.2 GB limit: this small model's pass needs more, so the file must fail
        // before anything is allocated (a real model on a long recording hits the machine's own limit the same way).
        string longPath = Path.Combine(inDir, "long.wav");
        using (var f = File.Create(longPath))
        {
            int n = 10 * 60 * 16000;
            f.Write(WavBytes.Riff(WavBytes.Chunk("fmt ", WavBytes.Fmt(WavBytes.Pcm, 1, 16000, 8)), WavBytes.Chunk("data", Array.Empty<byte>(), (uint)n)));
            var block = new byte[1 << 16];
            new Random(1).NextBytes(block);
            for (int left = n; left > 0; left -= block.Length) f.Write(block, 0, Math.Min(left, block.Length));
        }

        foreach (string batch in new[] { "1", "4" })
        {
            string outBatch = outDir + batch;
            var r = Run("extract", "--checkpoint", Checkpoint, "--input", inDir, "--output", outBatch, "--batch-size", batch, "--memory-limit", "0.2");

            r.ExitCode.Should().Be(1, r.ToString());
            r.StdOut.Should().Contain("3 written, 4 failed");
            r.StdErr.Should().MatchRegex(@"rate2147483647\.wav'?: .*sample rate 2147483647 Hz is outside the supported 1000\.\.1000000 Hz");
            r.StdErr.Should().MatchRegex(@"nan\.wav'?: sample 4321 is NaN");
            r.StdErr.Should().MatchRegex(@"inf\.wav'?: sample 5 is -Infinity");
            r.StdErr.Should().MatchRegex(@"long\.wav: 600 s of audio needs about \d+(\.\d)? GB for one forward pass, but .* GB is available; split it into chunks .*--chunk-seconds");
            r.StdErr.Should().NotContain("   at ", "errors are one line each, not stack traces");
            Directory.GetFiles(outBatch).Select(Path.GetFileName).Order().Should().Equal("good.npy", "rate44101.npy", "rate96001.npy");
        }
    }

    [Theory]
    [InlineData(int.MaxValue)]
    [InlineData(44101)]
    [InlineData(96001)]
    public void A_single_file_at_an_odd_or_corrupt_rate_never_crashes(int rate)
    {
        string dir = TestFiles.TempDir();
        string input = Path.Combine(dir, "in.wav"), target = Path.Combine(dir, "out.npy");
        var speech = WavReader.Read(TestFiles.DpHubertCase("hubert_post_ln", "input.wav")).Samples;
        // 3 s of audio at the declared rate (repeated speech).
        var samples = Enumerable.Repeat(speech, 3 * rate / speech.Length + 1).SelectMany(x => x).Take(rate == int.MaxValue ? 48000 : 3 * rate).ToArray();
        WavWriter.WritePcm16(input, samples, rate);

        var r = Run("extract", "--checkpoint", Checkpoint, "--input", input, "--output", target);

        if (rate == int.MaxValue)
        {
            r.ExitCode.Should().Be(1, r.ToString());
            r.StdErr.Should().Contain(input).And.Contain("2147483647 Hz");
            File.Exists(target).Should().BeFalse();
            Directory.GetFiles(dir).Should().Equal(input); // no temporary left behind
        }
        else
        {
            r.ExitCode.Should().Be(0, r.ToString());
            using var encoder = SpeechEncoder.Load(Checkpoint);
            var expected = encoder.ExtractFile(input);
            var written = DpHubert.IO.Npy.Read(target);
            written.Shape.Should().Equal(expected.Shape);
            written.Data!.Zip(expected.Data, (a, b) => Math.Abs(a - b)).Max().Should().BeLessThan(1e-5f, "the console runs the same code");
            expected.Frames.Should().Be(encoder.Model.Config.FramesForSamples((long)Math.Ceiling(samples.Length * 16000.0 / rate)));
        }
    }

    [LinuxFact]
    public void Ctrl_C_stops_a_folder_run_between_files_keeping_complete_outputs()
    {
        string dir = TestFiles.TempDir(), inDir = Path.Combine(dir, "in"), outDir = Path.Combine(dir, "out");
        Directory.CreateDirectory(inDir);
        var speech = WavReader.Read(TestFiles.DpHubertCase("hubert_post_ln", "input.wav")).Samples;
        const int count = 400;
        for (int i = 0; i < count; i++) WavWriter.WritePcm16(Path.Combine(inDir, $"f{i:D3}.wav"), speech, 16000);

        using var p = ConsoleRunner.Start("extract", "--checkpoint", Checkpoint, "--input", inDir, "--output", outDir, "--batch-size", "2");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        // A folder run prints progress rather than per-file lines: wait for the first output file instead.
        var wait = Stopwatch.StartNew();
        while (!(Directory.Exists(outDir) && Directory.EnumerateFiles(outDir, "*.npy").Any()) && wait.Elapsed < TimeSpan.FromSeconds(120) && !p.HasExited)
            Thread.Sleep(20);
        p.HasExited.Should().BeFalse("400 files take longer than starting up");

        using (var kill = Process.Start("kill", new[] { "-INT", p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture) })!) kill.WaitForExit();
        bool exited = p.WaitForExit(60_000);
        if (!exited) p.Kill(entireProcessTree: true);
        p.WaitForExit();
        output.WriteLine($"exit {p.ExitCode}\n{stdout.Result}\n{stderr.Result}");

        exited.Should().BeTrue("Ctrl+C stops the run at the next file");
        p.ExitCode.Should().Be(130);
        stderr.Result.Should().MatchRegex(@"cancelled: \d+ written, 0 failed, \d+ of 400 input\(s\) not processed");
        var files = Directory.GetFiles(outDir);
        files.Should().OnlyContain(f => f.EndsWith(".npy", StringComparison.Ordinal), "no temporary file is left behind");
        files.Length.Should().BeInRange(1, count - 1);
        foreach (var f in files) DpHubert.IO.Npy.Read(f).Shape.Should().Equal(49, 48);
    }
}
