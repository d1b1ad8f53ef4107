using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using DpHubert.Audio;
using DpHubert.Extraction;

namespace DpHubert.Bench;

/// <summary>
/// A long-running service's view of memory: many clips of different lengths and rates through one encoder, as
/// WAV files read, resampled and extracted the way a folder run does, with resident memory sampled as it goes.
/// </summary>
internal static class SoakBench
{
    /// <summary>The resident peak of every 100-clip window may exceed the reference window's by at most this.</summary>
    public const double TargetMaxRssGrowthFraction = 0.05;

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
            using var encoder = Bench.BuildEncoder(o.Model, o.Threads);
            // Each window's peak comes from the kernel (VmHWM, reset when the window starts), so it counts the
            // highest point of every forward pass; a settled RSS sampled between the idle heap trims lands anywhere
            // on their sawtooth and says more about timing than growth.
            bool peaks = Bench.ResetPeak();
            var windows = new List<(int Clips, double Peak, double Settled, string Heaps)>();
            int done = 0, failed = 0;
            var sw = Stopwatch.StartNew();
            foreach (var result in encoder.ExtractFiles(inputs, LayerSelection.Final, new ExtractionOptions { BatchSize = 1 }))
            {
                if (!result.Succeeded && ++failed <= 5) Console.WriteLine($"  failed: {result.Path}: {result.Error!.GetType().Name}: {result.Error.Message}{(Environment.GetEnvironmentVariable("DPHUBERT_SOAK_TRACE") is null ? "" : "\n" + result.Error.StackTrace)}");
                done++;
                bool windowEnds = done == WarmupClips || (done > WarmupClips && (done - WarmupClips) % WindowClips == 0);
                if (!windowEnds) continue;
                double? peak = peaks ? Bench.StatusMiB("VmHWM") : null; // read before the GC below can move it
                Bench.Settle();
                double settled = Bench.RssMiB();
                var c = Bench.CHeapMiB();
                string heaps = $"managed {Bench.F(GC.GetGCMemoryInfo().TotalCommittedBytes / (1024.0 * 1024.0), "0")}" +
                               (c is { } h ? $", C heap live {Bench.F(h.InUse, "0")} free {Bench.F(h.Free, "0")}" : "");
                // Where the peak cannot be reset, the settled sample stands in for it.
                if (done > WarmupClips) windows.Add((done, peak ?? settled, settled, heaps));
                peaks = Bench.ResetPeak();
            }
            double elapsed = sw.Elapsed.TotalSeconds;
            Console.WriteLine($"  {done} clips in {Bench.F(elapsed, "0.0")} s, {failed} failed");
            Console.WriteLine($"  per {WindowClips}-clip window, peak RSS MiB: " + string.Join(", ", windows.Select(w => $"{w.Clips}: {Bench.F(w.Peak, "0")}")));
            Console.WriteLine($"  settled RSS at each window's end MiB (between idle heap trims, information): " + string.Join(", ", windows.Select(w => $"{w.Clips}: {Bench.F(w.Settled, "0")}")));
            foreach (var w in windows) Console.WriteLine($"    at {w.Clips}: {w.Heaps} MiB");
            verdicts.Check("soak: every clip extracted", failed == 0, $"{failed} failed");
            if (windows.Count >= 2)
            {
                double reference = windows[0].Peak;
                double worst = windows.Skip(1).Max(w => w.Peak) / reference - 1;
                verdicts.Check($"soak: each window's peak RSS within {Bench.F(100 * TargetMaxRssGrowthFraction, "0")}% of the first window after warm-up",
                    worst <= TargetMaxRssGrowthFraction,
                    $"worst {(worst >= 0 ? "+" : "")}{Bench.F(100 * worst, "0.0")}% over {windows.Count - 1} windows (reference: clips {WarmupClips + 1}-{windows[0].Clips}, peak {Bench.F(reference, "0")} MiB)");
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
