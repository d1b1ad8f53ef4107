using System;
using System.Collections.Generic;
using System.Linq;
using DpHubert.Modules;
using TorchSharp;
using static TorchSharp.torch;

namespace DpHubert.Bench;

/// <summary>The feature extractor's two convolution paths (GEMM, libtorch conv1d) in one alternating run: the extractor
/// alone and the whole forward, per path; and the pruned sp0.75-shaped model against HuBERT Base.</summary>
internal static class ConvPathBench
{
    /// <summary>HuBERT Base fp32, 10 s, 2 threads: warm <c>forward</c> at most this many seconds.</summary>
    public const double TargetForwardSeconds = 1.0;

    /// <summary>Of which the feature extractor's convolutions at most this many.</summary>
    public const double TargetExtractorSeconds = 0.3;

    /// <summary>The pruned sp0.75-shaped model at least this many times faster than HuBERT Base.</summary>
    public const double TargetPrunedSpeedup = 2.5;

    private static readonly ConvolutionPath[] Paths = { ConvolutionPath.Gemm, ConvolutionPath.LibTorch };

    /// <summary>Times the extractor and the forward on each path, alternating; returns the GEMM path's medians.</summary>
    public static (Timing Extractor, Timing Forward) Run(Wav2Vec2Model model, Tensor wave, BenchOptions o, Verdicts verdicts,
        string label, bool checkTargets)
    {
        var ext = Paths.ToDictionary(p => p, _ => (Wall: new List<double>(), Cpu: new List<double>()));
        var fwd = Paths.ToDictionary(p => p, _ => (Wall: new List<double>(), Cpu: new List<double>()));
        void Extractor() { using var m = inference_mode(); using var s = NewDisposeScope(); _ = model.FeatureExtractor.forward(wave, null); }
        void Forward() { using var m = inference_mode(); using var s = NewDisposeScope(); _ = model.forward(wave, null); }
        for (int round = -o.Warmup; round < o.Runs; round++)
            foreach (var path in round % 2 == 0 ? Paths : Paths.Reverse())
            {
                model.SetConvolutionPath(path);
                var e = Bench.Time(Extractor, 0, 1);
                var f = Bench.Time(Forward, 0, 1);
                if (round < 0) continue;
                ext[path].Wall.Add(e.Wall[0]); ext[path].Cpu.Add(e.Cpu[0]);
                fwd[path].Wall.Add(f.Wall[0]); fwd[path].Cpu.Add(f.Cpu[0]);
            }
        model.SetConvolutionPath(ConvolutionPath.Gemm);
        Timing T((List<double> Wall, List<double> Cpu) t) => new(t.Wall.ToArray(), t.Cpu.ToArray());
        double per10 = 10 / o.Seconds;
        foreach (var path in Paths)
            Console.WriteLine($"  {label} {path,-8}: extractor {Bench.F(T(ext[path]).WallMedian, "0.000")} s (CPU {Bench.F(T(ext[path]).CpuMedian, "0.000")}), " +
                              $"forward {Bench.F(T(fwd[path]).WallMedian, "0.000")} s (CPU {Bench.F(T(fwd[path]).CpuMedian, "0.000")}); " +
                              $"per 10 s of audio: extractor {Bench.F(T(ext[path]).WallMedian * per10, "0.000")} s, forward {Bench.F(T(fwd[path]).WallMedian * per10, "0.000")} s");
        var gExt = T(ext[ConvolutionPath.Gemm]);
        var gFwd = T(fwd[ConvolutionPath.Gemm]);
        var lExt = T(ext[ConvolutionPath.LibTorch]);
        var lFwd = T(fwd[ConvolutionPath.LibTorch]);
        Console.WriteLine($"  {label} GEMM / conv1d: extractor {Bench.F(gExt.WallMedian / lExt.WallMedian, "0.00")}x the time " +
                          $"(CPU {Bench.F(gExt.CpuMedian / lExt.CpuMedian, "0.00")}x), forward {Bench.F(gFwd.WallMedian / lFwd.WallMedian, "0.00")}x " +
                          $"(CPU {Bench.F(gFwd.CpuMedian / lFwd.CpuMedian, "0.00")}x)");
        if (checkTargets)
        {
            verdicts.Check($"{label} warm forward (hubert_base, 10 s, 2 threads, GEMM path)", gFwd.WallMedian * per10 <= TargetForwardSeconds,
                $"{Bench.F(gFwd.WallMedian * per10, "0.000")} s per 10 s (CPU {Bench.F(gFwd.CpuMedian * per10, "0.000")} s; target <= {Bench.F(TargetForwardSeconds, "0.0")} s)");
            verdicts.Check($"{label} extractor convolutions (GEMM path)", gExt.WallMedian * per10 <= TargetExtractorSeconds,
                $"{Bench.F(gExt.WallMedian * per10, "0.000")} s per 10 s (CPU {Bench.F(gExt.CpuMedian * per10, "0.000")} s; target <= {Bench.F(TargetExtractorSeconds, "0.0")} s; conv1d path {Bench.F(lExt.WallMedian * per10, "0.000")} s)");
        }
        return (gExt, gFwd);
    }

    /// <summary>The pruned sp0.75-shaped model against HuBERT Base, alternating, same audio.</summary>
    public static void PrunedSpeedup(Wav2Vec2Model baseModel, Tensor wave, BenchOptions o, Verdicts verdicts, string label)
    {
        using var pruned = Bench.BuildModel("sp075");
        if (baseModel.DType != pruned.DType) pruned.to(baseModel.DType);
        var t = Alternate(new[] { baseModel, pruned }, o, m => Forward(m, wave));
        double b = t[0].WallMedian, p = t[1].WallMedian;
        Console.WriteLine($"  {label} sp0.75-shaped ({pruned.NumParameters() / 1e6:0.0} M parameters): forward {Bench.F(p, "0.000")} s vs HuBERT Base {Bench.F(b, "0.000")} s");
        verdicts.Check($"{label} pruned sp0.75-shaped speed-up over HuBERT Base", b / p >= TargetPrunedSpeedup,
            $"{Bench.F(b / p, "0.00")}x (target >= {Bench.F(TargetPrunedSpeedup, "0.0")}x)");
    }

    /// <summary>The forward with float32 matrix products (linear layers and GEMM convolutions) on BLAS and on oneDNN
    /// (<see cref="LinearKernels"/>), alternating, next to what <see cref="LinearBackend.Auto"/> chose in this process
    /// from its own short measurement: no target, a figure for CPUs where the two libraries take different code paths
    /// (BLAS's AVX2 path on AMD).</summary>
    public static void LinearBackends(Wav2Vec2Model model, Tensor wave, string label, BenchOptions o)
    {
        Forward(model, wave); // the kernel check, and with it the auto choice, ran before the first forward
        var auto = LinearKernels.Choice;
        var t = Alternate(new[] { LinearBackend.Blas, LinearBackend.OneDnn }, o, backend =>
        {
            using var forced = LinearKernels.Override(backend);
            Forward(model, wave);
        });
        var (blas, onednn) = (t[0], t[1]);
        double per10 = 10 / o.Seconds;
        Console.WriteLine($"  {label} matrix products: BLAS forward {Bench.F(blas.WallMedian * per10, "0.000")} s per 10 s (CPU {Bench.F(blas.CpuMedian * per10, "0.000")}), " +
                          $"oneDNN {Bench.F(onednn.WallMedian * per10, "0.000")} s (CPU {Bench.F(onednn.CpuMedian * per10, "0.000")}); " +
                          $"oneDNN / BLAS {Bench.F(onednn.WallMedian / blas.WallMedian, "0.00")}x (CPU {Bench.F(onednn.CpuMedian / blas.CpuMedian, "0.00")}x)");
        Console.WriteLine($"  {label} {auto?.ToString() ?? "GEMM backend: not chosen (no float32 CPU kernel check ran)"}");
        if (auto?.Ratio is { } r)
        {
            double whole = onednn.WallMedian / blas.WallMedian;
            bool agrees = (auto.Backend == LinearBackend.OneDnn) == (whole <= 1);
            bool close = whole > LinearKernels.AutoMaxTimeRatio && whole < 1 / LinearKernels.AutoMaxTimeRatio;
            Console.WriteLine($"  {label} auto's GEMM-only ratio {Bench.F(r, "0.00")}x vs the whole forward's {Bench.F(whole, "0.00")}x: " +
                              (agrees ? "auto picked the faster one" : close ? "auto picked BLAS, the two being within its margin"
                                  : "auto's short measurement and the forward disagree"));
        }
    }

    private static void Forward(Wav2Vec2Model model, Tensor wave)
    {
        using var g = inference_mode();
        using var s = NewDisposeScope();
        _ = model.forward(wave, null);
    }

    /// <summary>Times <paramref name="run"/> once per variant per round, the order reversed every other round, after
    /// <see cref="BenchOptions.Warmup"/> untimed rounds; each variant's timings, in the order given.</summary>
    private static Timing[] Alternate<T>(T[] variants, BenchOptions o, Action<T> run)
    {
        var wall = variants.Select(_ => new List<double>()).ToArray();
        var cpu = variants.Select(_ => new List<double>()).ToArray();
        for (int round = -o.Warmup; round < o.Runs; round++)
            for (int k = 0; k < variants.Length; k++)
            {
                int i = round % 2 == 0 ? k : variants.Length - 1 - k;
                var t = Bench.Time(() => run(variants[i]), 0, 1);
                if (round < 0) continue;
                wall[i].Add(t.Wall[0]);
                cpu[i].Add(t.Cpu[0]);
            }
        return variants.Select((_, i) => new Timing(wall[i].ToArray(), cpu[i].ToArray())).ToArray();
    }
}
