using System;
using System.Diagnostics;
using DpHubert.Extraction;
using static TorchSharp.torch;

namespace DpHubert.Bench;

/// <summary>Native-memory leak check: many extractions of one clip, RSS and TorchSharp's live-tensor count before and after.</summary>
internal static class MemoryBench
{
    /// <summary>Process RSS may grow at most this much between the end of warm-up and the last iteration.</summary>
    public const double TargetMaxRssGrowthMiB = 50;

    /// <summary>Live tensors (created minus disposed on this thread) may not grow at all.</summary>
    public const long TargetMaxLiveTensorGrowth = 0;

    public const double ClipSeconds = 3;
    public const int WarmupIterations = 10;

    public static void Run(BenchOptions o, Verdicts verdicts, int modelIterations)
    {
        var clip = Bench.Audio(ClipSeconds);
        Console.WriteLine($"== memory: a {Bench.F(ClipSeconds, "0.#")} s clip, {o.Threads} threads; " +
                          $"{WarmupIterations} warm-up runs, then RSS and live tensors compared after the last run ==");
        // 1. Every public inference path on a tiny model of the same module types (cheap, so many runs).
        Console.WriteLine($" tiny (HuBERT Base module types, 2 layers of 64), {o.Iterations} runs per path:");
        using (var encoder = Bench.BuildEncoder("tiny", o.Threads))
        {
            Loop("tiny SpeechEncoder.Extract", () => _ = encoder.Extract(clip), o.Iterations, verdicts);
            Loop("tiny SpeechEncoder.Extract(all layers)", () => _ = encoder.Extract(clip, LayerSelection.AllLayers), o.Iterations, verdicts);
            var clips = new[] { clip, Bench.Audio(2, 1), Bench.Audio(1, 2), clip };
            Loop("tiny SpeechEncoder.ExtractBatch(4 unequal)", () => _ = encoder.ExtractBatch(clips, LayerSelection.Final, 4), o.Iterations, verdicts);
            Loop("tiny SpeechEncoder.Extract(chunked)", () => _ = encoder.Extract(clip, LayerSelection.Final,
                new ExtractionOptions { ChunkSeconds = 1, ChunkOverlapSeconds = 0.5, BatchSize = 2 }), o.Iterations, verdicts);
        }
        using (var model = Bench.BuildModel("tiny"))
            ModelPaths("tiny ", model, clip, o.Iterations, verdicts, all: true);

        // 2. The real model on the two main paths.
        Console.WriteLine($" {o.Model}, {modelIterations} runs per path:");
        using (var encoder = Bench.BuildEncoder(o.Model, o.Threads))
            Loop($"{o.Model} SpeechEncoder.Extract", () => _ = encoder.Extract(clip), modelIterations, verdicts);
        using (var model = Bench.BuildModel(o.Model))
            ModelPaths($"{o.Model} ", model, clip, modelIterations, verdicts, all: false);
    }

    private static void ModelPaths(string prefix, Wav2Vec2Model model, float[] clip, int iterations, Verdicts verdicts, bool all)
    {
        using var wave = tensor(clip).unsqueeze(0);
        Loop($"{prefix}Wav2Vec2Model.forward in the caller's dispose scope", () =>
        {
            using var scope = NewDisposeScope();
            using var mode = inference_mode();
            var (features, _) = model.forward(wave, null);
            _ = features.shape;
        }, iterations, verdicts);
        if (!all) return;
        Loop($"{prefix}Wav2Vec2Model.forward, result disposed by hand", () =>
        {
            using var mode = inference_mode();
            var (features, lengths) = model.forward(wave, null);
            features.Dispose();
            lengths?.Dispose();
        }, iterations, verdicts);
        using var pair = cat(new[] { wave, wave }, 0);
        Loop($"{prefix}Wav2Vec2Model.forward batch 2 without lengths", () =>
        {
            using var scope = NewDisposeScope();
            using var mode = inference_mode();
            _ = model.forward(pair, null);
        }, iterations, verdicts);
        using var lengthsIn = tensor(new long[] { clip.Length, clip.Length / 2 });
        Loop($"{prefix}Wav2Vec2Model.forward with lengths (batch 2)", () =>
        {
            using var scope = NewDisposeScope();
            using var mode = inference_mode();
            _ = model.forward(pair, lengthsIn);
        }, iterations, verdicts);
        Loop($"{prefix}Wav2Vec2Model.ExtractFeatures in the caller's dispose scope", () =>
        {
            using var scope = NewDisposeScope();
            using var mode = inference_mode();
            _ = model.ExtractFeatures(wave, null);
        }, iterations, verdicts);
        Loop($"{prefix}Wav2Vec2Model.forward with grad (no inference mode)", () =>
        {
            using var scope = NewDisposeScope();
            _ = model.forward(wave, null);
        }, iterations, verdicts);
    }

    /// <summary>Runs only the paths whose name contains this (case-insensitive); null for all.</summary>
    public static string? Filter { get; set; }

    private static void Loop(string what, Action step, int iterations, Verdicts verdicts)
    {
        if (Filter is not null && !what.Contains(Filter, StringComparison.OrdinalIgnoreCase)) return;
        for (int i = 0; i < WarmupIterations; i++) step();
        Bench.Settle();
        double rss0 = Bench.RssMiB();
        long live0 = Bench.LiveTensors();
        var marks = new System.Collections.Generic.List<string>();
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < iterations; i++)
        {
            step();
            if ((i + 1) % Math.Max(1, iterations / 4) == 0 && i + 1 < iterations)
            {
                Bench.Settle();
                marks.Add(Bench.F(Bench.RssMiB(), "0"));
            }
        }
        double elapsed = sw.Elapsed.TotalSeconds;
        Bench.Settle();
        double rss1 = Bench.RssMiB();
        long live1 = Bench.LiveTensors();
        double growth = rss1 - rss0;
        Console.WriteLine($"  {what}: {iterations} runs in {Bench.F(elapsed, "0.0")} s; RSS {Bench.F(rss0, "0")} -> {string.Join(" -> ", marks)} -> {Bench.F(rss1, "0")} MiB ({(growth >= 0 ? "+" : "")}{Bench.F(growth, "0.0")} MiB, " +
                          $"{Bench.F(1024 * growth / iterations, "0.0")} KiB per run); live tensors {live0} -> {live1}");
        verdicts.Check($"memory {what}: RSS growth", growth <= TargetMaxRssGrowthMiB,
            $"{Bench.F(growth, "0.0")} MiB over {iterations} runs (target <= {Bench.F(TargetMaxRssGrowthMiB, "0")} MiB)");
        verdicts.Check($"memory {what}: live tensors", live1 - live0 <= TargetMaxLiveTensorGrowth,
            $"{live1 - live0:+0;-0;0} (target <= {TargetMaxLiveTensorGrowth})");
    }
}
