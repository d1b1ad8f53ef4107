using System;
using System.Collections.Generic;
using System.Linq;
using DpHubert.Extraction;

namespace DpHubert.Bench;

/// <summary>SpeechEncoder.ExtractBatch at batch sizes 1 (one by one), 4 and 8 over 16 clips.</summary>
internal static class BatchBench
{
    public const int Clips = 16;

    /// <summary>Batching equal-length clips must not be slower than one by one (batch 8 vs batch 1).</summary>
    public const double TargetEqualSpeedupBatch8 = 1.0;

    /// <summary>Batched results must equal one-by-one results within this (the library's documented 1e-4).</summary>
    public const double TargetMaxDiff = 1e-4;

    public static void Run(BenchOptions o, Verdicts verdicts, double equalSeconds, double minSeconds, double maxSeconds)
    {
        Console.WriteLine($"== batch: {o.Model}, SpeechEncoder.ExtractBatch, {Clips} clips, {o.Threads} threads ==");
        using var encoder = Bench.BuildEncoder(o.Model, o.Threads);
        var equal = Enumerable.Range(0, Clips).Select(i => Bench.Audio(equalSeconds, seed: 100 + i)).ToArray();
        var rng = new Random(7);
        var unequal = Enumerable.Range(0, Clips)
            .Select(i => Bench.Audio(minSeconds + (maxSeconds - minSeconds) * rng.NextDouble(), seed: 200 + i)).ToArray();
        encoder.Extract(equal[0]); // warm-up

        foreach (var (label, clips) in new[] { ($"equal {Bench.F(equalSeconds, "0.#")} s", equal),
                     ($"unequal {Bench.F(minSeconds, "0.#")}-{Bench.F(maxSeconds, "0.#")} s", unequal) })
        {
            double audio = clips.Sum(c => c.Length) / (double)Bench.SampleRate;
            Console.WriteLine($"  {label} ({Bench.F(audio, "0.0")} s of audio):");
            IReadOnlyList<FeatureArray>? reference = null;
            double oneByOne = 0;
            foreach (int bs in new[] { 1, 4, 8 })
            {
                IReadOnlyList<FeatureArray>? result = null;
                var times = Bench.Time(() => result = encoder.ExtractBatch(clips, LayerSelection.Final, bs), 0, o.BatchRuns);
                double median = times.WallMedian;
                if (bs == 1)
                {
                    reference = result;
                    oneByOne = median;
                }
                double maxDiff = MaxDiff(reference!, result!);
                Console.WriteLine($"    batch {bs}: median {Bench.F(median, "0.00")} s (n={times.Wall.Length}, CPU {Bench.F(times.CpuMedian, "0.00")} s), " +
                                  $"{Bench.F(audio / median, "0.0")}x real time, speed-up {Bench.F(oneByOne / median, "0.00")}x, " +
                                  $"max |diff| vs one by one {maxDiff:0.0e+0}");
                if (bs > 1)
                    verdicts.Check($"batch {bs} {label} equals one by one", maxDiff <= TargetMaxDiff,
                        $"max |diff| {maxDiff:0.0e+0} (target <= {TargetMaxDiff:0e+0})");
                if (bs == 8 && clips == equal)
                    verdicts.Check($"batch 8 {label} speed-up", oneByOne / median >= TargetEqualSpeedupBatch8,
                        $"{Bench.F(oneByOne / median, "0.00")}x (target >= {Bench.F(TargetEqualSpeedupBatch8, "0.0")}x)");
                else if (bs > 1)
                    verdicts.Note($"batch {bs} {label} speed-up", $"{Bench.F(oneByOne / median, "0.00")}x");
            }
        }
    }

    private static double MaxDiff(IReadOnlyList<FeatureArray> a, IReadOnlyList<FeatureArray> b)
    {
        double max = 0;
        for (int i = 0; i < a.Count; i++)
        {
            if (!a[i].Shape.SequenceEqual(b[i].Shape)) return double.PositiveInfinity;
            for (int j = 0; j < a[i].Data.Length; j++) max = Math.Max(max, Math.Abs(a[i].Data[j] - b[i].Data[j]));
        }
        return max;
    }
}
