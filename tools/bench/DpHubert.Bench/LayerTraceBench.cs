using System;
using System.Collections.Generic;
using System.Linq;
using static TorchSharp.torch;

namespace DpHubert.Bench;

/// <summary>Per-layer memory trace of one forward pass: live tensors and RSS right after each encoder layer, and the
/// peak RSS of the pass. With intermediates freed per layer the live count stays flat from layer to layer.</summary>
internal static class LayerTraceBench
{
    public static void Run(BenchOptions o, Verdicts verdicts)
    {
        Console.WriteLine($"== layers: {o.Model}, {Bench.F(o.Seconds, "0.#")} s, fp32, forward and extract_features, per-layer trace ==");
        using var model = Bench.BuildModel(o.Model);
        using var wave = tensor(Bench.Audio(o.Seconds)).unsqueeze(0);
        var trace = new List<(long Live, double Rss)>();
        var hooks = model.Encoder.Transformer.Layers
            .Select(layer => layer.register_forward_hook((_, _, _, _, result) =>
            {
                trace.Add((Bench.LiveTensors(), Bench.RssMiB()));
                return result;
            })).ToList();
        try
        {
            foreach (var path in new[] { "forward", "extract_features" })
            {
                trace.Clear();
                Bench.Settle();
                bool reset = Bench.ResetPeak();
                long live0 = Bench.LiveTensors();
                double rss0 = Bench.RssMiB();
                var sw = System.Diagnostics.Stopwatch.StartNew();
                using (var mode = inference_mode())
                using (var scope = NewDisposeScope())
                {
                    if (path == "forward") _ = model.forward(wave, null);
                    else _ = model.ExtractFeatures(wave);
                }
                double seconds = sw.Elapsed.TotalSeconds;
                double peak = Bench.StatusMiB("VmHWM");
                Console.WriteLine($"  {path}: {Bench.F(seconds, "0.00")} s; before: {live0} live tensors, RSS {Bench.F(rss0, "0")} MiB; " +
                                  (reset ? $"peak RSS {Bench.F(peak, "0")} MiB" : "peak RSS unavailable"));
                for (int i = 0; i < trace.Count; i++)
                    Console.WriteLine($"    after layer {i + 1,2}: live tensors {trace[i].Live - live0,5:+0;-0}, RSS {Bench.F(trace[i].Rss, "0"),6} MiB");
                long growth = trace.Count > 1 ? (trace[^1].Live - trace[0].Live) / (trace.Count - 1) : 0;
                verdicts.Note($"layers {path} {Bench.F(o.Seconds, "0.#")} s", $"live tensors grow {growth:+0;-0} per layer; peak RSS {Bench.F(peak, "0")} MiB; {Bench.F(seconds, "0.00")} s");
            }
        }
        finally
        {
            foreach (var h in hooks) h.remove();
        }
    }
}
