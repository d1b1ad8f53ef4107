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
    /// <summary>Resident memory at the end (and at every sample) may exceed the post-warm-up level by at most this.</summary>
    public const double TargetMaxRssGrowthFraction = 0.05;

    /// <summary>Clips before the reference RSS is taken (allocator pools and caches fill up first).</summary>
    public const int WarmupClips = 100;

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
                              $"{o.Threads} threads, ExtractFiles batch 1; RSS after {WarmupClips} clips vs every 100 after ==");
            using var encoder = Bench.BuildEncoder(o.Model, o.Threads);
            var marks = new List<(int Clips, double Rss)>();
            int done = 0, failed = 0;
            double reference = 0;
            var sw = Stopwatch.StartNew();
            foreach (var result in encoder.ExtractFiles(inputs, LayerSelection.Final, new ExtractionOptions { BatchSize = 1 }))
            {
                if (!result.Succeeded && ++failed <= 5) Console.WriteLine($"  failed: {result.Path}: {result.Error!.GetType().Name}: {result.Error.Message}{(Environment.GetEnvironmentVariable("DPHUBERT_SOAK_TRACE") is null ? "" : "\n" + result.Error.StackTrace)}");
                done++;
                if (done == WarmupClips || (done > WarmupClips && done % 100 == 0) || done == total)
                {
                    Bench.Settle();
                    double rss = Bench.RssMiB();
                    if (done == WarmupClips) reference = rss;
                    marks.Add((done, rss));
                }
            }
            double elapsed = sw.Elapsed.TotalSeconds;
            Console.WriteLine($"  {done} clips in {Bench.F(elapsed, "0.0")} s, {failed} failed; RSS MiB: " +
                              string.Join(", ", marks.Select(m => $"{m.Clips}: {Bench.F(m.Rss, "0")}")));
            verdicts.Check("soak: every clip extracted", failed == 0, $"{failed} failed");
            if (total > WarmupClips)
            {
                double worst = marks.Where(m => m.Clips > WarmupClips).Max(m => m.Rss) / reference - 1;
                verdicts.Check($"soak: RSS within {Bench.F(100 * TargetMaxRssGrowthFraction, "0")}% of the post-warm-up level",
                    worst <= TargetMaxRssGrowthFraction,
                    $"worst {(worst >= 0 ? "+" : "")}{Bench.F(100 * worst, "0.0")}% over {total - WarmupClips} clips (reference {Bench.F(reference, "0")} MiB)");
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
