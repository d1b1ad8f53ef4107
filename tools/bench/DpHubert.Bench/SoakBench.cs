using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using DpHubert.Audio;
using DpHubert.Extraction;
using static TorchSharp.torch;

namespace DpHubert.Bench;

/// <summary>
/// A long-running service's view of memory and speed in one run, so neither can be traded for the other unseen:
/// many clips of different lengths and rates through one encoder (WAV files read, resampled and extracted the way a
/// folder run does) with each window's peak resident memory, and the encoder's <c>Extract</c> timed against the raw
/// <c>Wav2Vec2Model.forward</c>, with the system time and page faults each phase cost.
/// </summary>
internal static class SoakBench
{
    /// <summary>The resident peak of every 100-clip window may exceed the reference window's by at most this.</summary>
    public const double TargetMaxRssGrowthFraction = 0.10;

    /// <summary>The least-squares line through the window peaks may rise by at most this much of the reference over the run.</summary>
    public const double TargetMaxTrendFraction = 0.05;

    /// <summary><c>SpeechEncoder.Extract</c> may take at most this multiple of the raw forward's time (same audio).</summary>
    public const double TargetExtractOverForward = 1.05;

    /// <summary>Clips before the reference window starts (allocator pools and caches fill up first).</summary>
    public const int WarmupClips = 100;

    /// <summary>Clips per measured window: two passes over the 50 distinct files, so each window holds the longest.</summary>
    public const int WindowClips = 100;

    public static void Run(BenchOptions o, Verdicts verdicts)
    {
        int total = o.SoakClips;
        string dir = Path.Combine(Path.GetTempPath(), $"dphubert-soak-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        try
        {
            // 50 distinct files (0.5–4 s; 16, 44.1 and 48 kHz) cycled, so shapes vary the way a corpus's do.
            var rates = new[] { 16000, 44100, 48000 };
            var files = Enumerable.Range(0, 50).Select(i =>
            {
                double seconds = 0.5 + 3.5 * ((i * 37) % 50) / 49.0;
                int rate = rates[i % rates.Length];
                var samples16k = Bench.Audio(seconds, i);
                var samples = rate == 16000 ? samples16k : AudioPreprocessor.Resample(samples16k, 16000, rate);
                string path = Path.Combine(dir, $"clip{i:00}.wav");
                WavWriter.WritePcm16(path, samples, rate);
                return path;
            }).ToArray();
            var inputs = Enumerable.Range(0, total).Select(i => files[i % files.Length]).ToList();
            Console.WriteLine($"== soak: {total} clips (50 distinct WAVs, 0.5-4 s, 16/44.1/48 kHz) through one {o.Model} encoder, " +
                              $"{o.Threads} threads, ExtractFiles batch 1; peak RSS per {WindowClips} clips after {WarmupClips} of warm-up ==");
            var audio = Bench.Audio(o.Seconds);
            using var encoder = Bench.BuildEncoder(o.Model, o.Threads);
            // Each window's peak comes from the kernel (VmHWM, reset when the window starts), so it counts the
            // highest point of every forward pass; a settled RSS sampled between the idle heap trims lands anywhere
            // on their sawtooth and says more about timing than growth.
            bool peaks = Bench.ResetPeak();
            var windows = new List<(int Clips, double Peak, double Settled, string Heaps, Usage? Use)>();
            int done = 0, failed = 0;
            var sw = Stopwatch.StartNew();
            var soakStart = Bench.ProcessUsage();
            var windowStart = soakStart;
            foreach (var result in encoder.ExtractFiles(inputs, LayerSelection.Final, new ExtractionOptions { BatchSize = 1 }))
            {
                if (!result.Succeeded && ++failed <= 5) Console.WriteLine($"  failed: {result.Path}: {result.Error!.GetType().Name}: {result.Error.Message}{(Environment.GetEnvironmentVariable("DPHUBERT_SOAK_TRACE") is null ? "" : "\n" + result.Error.StackTrace)}");
                done++;
                bool windowEnds = done == WarmupClips || (done > WarmupClips && (done - WarmupClips) % WindowClips == 0);
                if (!windowEnds) continue;
                double? peak = peaks ? Bench.StatusMiB("VmHWM") : null; // read before the GC below can move it
                var now = Bench.ProcessUsage();
                Usage? used = now - windowStart;
                Bench.Settle();
                double settled = Bench.RssMiB();
                var c = Bench.CHeapMiB();
                string heaps = $"managed {Bench.F(GC.GetGCMemoryInfo().TotalCommittedBytes / (1024.0 * 1024.0), "0")}" +
                               (c is { } h ? $", C heap live {Bench.F(h.InUse, "0")} free {Bench.F(h.Free, "0")}" : "");
                // Where the peak cannot be reset, the settled sample stands in for it.
                if (done > WarmupClips) windows.Add((done, peak ?? settled, settled, heaps, used));
                // Progress as it goes (a long soak on a busy machine runs for hours).
                Console.WriteLine($"  {(done > WarmupClips ? "window" : "warm-up")} to clip {done}: peak {(peak is { } p ? Bench.F(p, "0") : "n/a")} MiB, settled {Bench.F(settled, "0")} MiB, " +
                                  $"{Bench.F(sw.Elapsed.TotalSeconds, "0")} s; {used}");
                peaks = Bench.ResetPeak();
                windowStart = Bench.ProcessUsage();
            }
            double elapsed = sw.Elapsed.TotalSeconds;
            Console.WriteLine($"  {done} clips in {Bench.F(elapsed, "0.0")} s, {failed} failed; {Bench.ProcessUsage() - soakStart}");
            Console.WriteLine($"  per {WindowClips}-clip window, peak RSS MiB: " + string.Join(", ", windows.Select(w => $"{w.Clips}: {Bench.F(w.Peak, "0")}")));
            Console.WriteLine($"  settled RSS at each window's end MiB (between idle heap trims, information): " + string.Join(", ", windows.Select(w => $"{w.Clips}: {Bench.F(w.Settled, "0")}")));
            foreach (var w in windows) Console.WriteLine($"    at {w.Clips}: {w.Heaps} MiB; {w.Use}");

            // After the soak (the heap as a long run leaves it), Extract alternates with the raw forward of the same
            // preset in a child process that never made an encoder, so it runs with the C allocator as the host left
            // it, and both see the same moments of a shared machine's load.
            var extractRuns = new List<(Timing Time, Usage? Use)>();
            var rawRuns = new List<(Timing Time, Usage? Use)>();
            using (var child = ForwardChild.Start(o))
                for (int round = 0; round < o.Warmup + o.Runs; round++)
                {
                    var f = child.Forward();
                    var e = Measure(() => encoder.Extract(audio), 0, 1);
                    if (round < o.Warmup) continue;
                    rawRuns.Add(f);
                    extractRuns.Add(e);
                }
            var rawForward = Join(rawRuns);
            Console.WriteLine($"  raw Wav2Vec2Model.forward, {Bench.F(o.Seconds, "0.#")} s, in a process without an encoder: {Describe(rawForward)}");
            var forwardRuns = new List<(Timing Time, Usage? Use)>();
            using (var wave = tensor(audio).unsqueeze(0))
                forwardRuns.Add(Measure(() => Forward(encoder.Model, wave), 0, o.Runs));
            var extract = Join(extractRuns);
            var forwardAfter = Join(forwardRuns);
            Console.WriteLine($"  SpeechEncoder.Extract, {Bench.F(o.Seconds, "0.#")} s, after the soak, alternating with it: {Describe(extract)}");
            Console.WriteLine($"  Wav2Vec2Model.forward of the encoder's model in this process, after them (information): {Describe(forwardAfter)}");
            verdicts.Check("soak: every clip extracted", failed == 0, $"{failed} failed");
            if (windows.Count >= 2)
            {
                double reference = windows[0].Peak;
                double worst = windows.Skip(1).Max(w => w.Peak) / reference - 1;
                verdicts.Check($"soak: each window's peak RSS within {Bench.F(100 * TargetMaxRssGrowthFraction, "0")}% of the first window after warm-up",
                    worst <= TargetMaxRssGrowthFraction,
                    $"worst {(worst >= 0 ? "+" : "")}{Bench.F(100 * worst, "0.0")}% over {windows.Count - 1} windows (reference: clips {WarmupClips + 1}-{windows[0].Clips}, peak {Bench.F(reference, "0")} MiB)");
            }
            if (windows.Count >= 3)
            {
                double rise = Trend(windows.Select(w => w.Peak).ToArray()) / windows[0].Peak;
                verdicts.Check($"soak: no upward trend (least-squares line through the window peaks rises <= {Bench.F(100 * TargetMaxTrendFraction, "0")}% of the first over the run)",
                    rise <= TargetMaxTrendFraction, $"{(rise >= 0 ? "+" : "")}{Bench.F(100 * rise, "0.0")}% over {windows.Count} windows");
            }
            double wallRatio = extract.Time.WallMedian / rawForward.Time.WallMedian;
            double cpuRatio = extract.Time.CpuMedian / rawForward.Time.CpuMedian;
            // CPU time decides (a shared machine moves wall time by more than 5%); it counts the kernel's page zeroing too.
            verdicts.Check($"soak: SpeechEncoder.Extract <= {Bench.F(TargetExtractOverForward, "0.00")}x the raw forward's CPU time ({Bench.F(o.Seconds, "0.#")} s, in the same run as the window peaks)",
                cpuRatio <= TargetExtractOverForward,
                $"{Bench.F(cpuRatio, "0.00")}x CPU ({Bench.F(extract.Time.CpuMedian, "0.00")} vs {Bench.F(rawForward.Time.CpuMedian, "0.00")} s), " +
                $"{Bench.F(wallRatio, "0.00")}x wall ({Bench.F(extract.Time.WallMedian, "0.00")} vs {Bench.F(rawForward.Time.WallMedian, "0.00")} s); " +
                $"minor faults per pass {FaultsPerRun(extract)} vs {FaultsPerRun(rawForward)}; " +
                $"forward after the encoder's setting {Bench.F(forwardAfter.Time.CpuMedian / rawForward.Time.CpuMedian, "0.00")}x CPU");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>The argument that makes the benchmark a raw-forward child (see <see cref="ForwardChild"/>).</summary>
    public const string ForwardChildCommand = "soak-forward-child";

    /// <summary>Child side: builds the preset, runs the warm-up, then one timed forward per line read from stdin,
    /// answering "FORWARD wall cpu user sys minorFaults majorFaults".</summary>
    public static int ChildMain(string model, double seconds, int warmup)
    {
        var audio = Bench.Audio(seconds);
        using var m = Bench.BuildModel(model);
        using var wave = tensor(audio).unsqueeze(0);
        for (int i = 0; i < warmup; i++) Forward(m, wave);
        Console.WriteLine("READY");
        while (Console.ReadLine() is not null)
        {
            var (time, use) = Measure(() => Forward(m, wave), 0, 1);
            var u = use ?? new Usage(double.NaN, double.NaN, -1, -1);
            Console.WriteLine(string.Join(' ', "FORWARD", Bench.F(time.Wall[0], "R"), Bench.F(time.Cpu[0], "R"), Bench.F(u.User, "R"), Bench.F(u.Sys, "R"),
                u.MinorFaults.ToString(System.Globalization.CultureInfo.InvariantCulture), u.MajorFaults.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }
        return 0;
    }

    /// <summary>Parent side of the raw-forward child.</summary>
    private sealed class ForwardChild : IDisposable
    {
        private readonly Process process;

        private ForwardChild(Process process) => this.process = process;

        public static ForwardChild Start(BenchOptions o)
        {
            var psi = Bench.SelfStartInfo(true, ForwardChildCommand, o.Model, Bench.F(o.Seconds, "R"),
                o.Warmup.ToString(System.Globalization.CultureInfo.InvariantCulture), "--threads", o.Threads.ToString(System.Globalization.CultureInfo.InvariantCulture));
            var child = new ForwardChild(Process.Start(psi)!);
            child.Expect("READY");
            return child;
        }

        public (Timing Time, Usage? Use) Forward()
        {
            process.StandardInput.WriteLine("go");
            process.StandardInput.Flush();
            var v = Expect("FORWARD ").Split(' ').Skip(1).Select(x => double.Parse(x, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
            return (new Timing(new[] { v[0] }, new[] { v[1] }), double.IsNaN(v[2]) ? null : new Usage(v[2], v[3], (long)v[4], (long)v[5]));
        }

        private string Expect(string prefix)
        {
            while (process.StandardOutput.ReadLine() is { } line)
                if (line.StartsWith(prefix, StringComparison.Ordinal)) return line;
            throw new InvalidOperationException($"the raw-forward child ended without '{prefix.Trim()}' (exit {(process.HasExited ? process.ExitCode : -1)})");
        }

        public void Dispose()
        {
            process.StandardInput.Close();
            if (!process.WaitForExit(60_000)) process.Kill();
            process.Dispose();
        }
    }

    private static void Forward(Wav2Vec2Model model, Tensor wave)
    {
        using var mode = inference_mode();
        using var scope = NewDisposeScope();
        _ = model.forward(wave, null);
    }

    /// <summary>Times <paramref name="action"/> and sums the CPU time and page faults of its timed runs.</summary>
    private static (Timing Time, Usage? Use) Measure(Action action, int warmup, int runs)
    {
        for (int i = 0; i < warmup; i++) action();
        var before = Bench.ProcessUsage();
        var time = Bench.Time(action, 0, runs);
        return (time, Bench.ProcessUsage() - before);
    }

    private static (Timing Time, Usage? Use) Join(List<(Timing Time, Usage? Use)> runs) =>
        (new Timing(runs.SelectMany(r => r.Time.Wall).ToArray(), runs.SelectMany(r => r.Time.Cpu).ToArray()),
         runs.Aggregate((Usage?)new Usage(0, 0, 0, 0), (sum, r) => sum is { } a && r.Use is { } b ? new Usage(a.User + b.User, a.Sys + b.Sys, a.MinorFaults + b.MinorFaults, a.MajorFaults + b.MajorFaults) : null));

    private static string FaultsPerRun((Timing Time, Usage? Use) m) =>
        m.Use is { } u ? (u.MinorFaults / m.Time.Wall.Length).ToString(System.Globalization.CultureInfo.InvariantCulture) : "n/a";

    private static string Describe((Timing Time, Usage? Use) m) =>
        $"median {Bench.F(m.Time.WallMedian, "0.000")} s wall, {Bench.F(m.Time.CpuMedian, "0.000")} s CPU ({Bench.Spread(m.Time.Wall)})" +
        (m.Use is { } u ? $"; over the {m.Time.Wall.Length} runs {u}" : "");

    /// <summary>Rise of the least-squares line through <paramref name="y"/> from its first point to its last.</summary>
    internal static double Trend(double[] y)
    {
        int n = y.Length;
        double mx = (n - 1) / 2.0, my = y.Average();
        double sxy = 0, sxx = 0;
        for (int i = 0; i < n; i++)
        {
            sxy += (i - mx) * (y[i] - my);
            sxx += (i - mx) * (i - mx);
        }
        return sxx == 0 ? 0 : sxy / sxx * (n - 1);
    }
}
