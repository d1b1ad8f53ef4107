using System;
using TorchSharp;
using static TorchSharp.torch;

namespace DpHubert.Bench;

/// <summary>fp32 vs bfloat16 (speed and output difference); float16 on a tiny input only (no fast CPU kernels).</summary>
internal static class DTypeBench
{
    /// <summary>bf16 output of a random HuBERT Base must stay this close (mean per-frame cosine) to fp32.</summary>
    public const double TargetBf16MinCosine = 0.999;

    /// <summary>bf16 at least this many times the fp32 speed end to end where the CPU has bf16 units.</summary>
    public const double TargetBf16Speedup = 2.0;

    /// <summary>bf16 speed over fp32 beyond which <c>auto</c> choosing float32 misses a clear win.</summary>
    public const double AutoMustChooseBf16Above = 1.8;

    /// <summary>Length of the float16 probe: long enough for a few frames, short enough to finish in seconds.</summary>
    public const double Fp16Seconds = 0.1;

    public static void Run(BenchOptions o, Verdicts verdicts)
    {
        o = o with { Seconds = o.DTypeSeconds };
        Console.WriteLine($"== dtype: {o.Model}, {Bench.F(o.Seconds, "0.#")} s, {o.Threads} threads, median of {o.Runs} ==");
        var audio = Bench.Audio(o.Seconds);
        var tiny = Bench.Audio(Fp16Seconds);

        // Same seed, same weights: fp32 reference, then the same model cast in place.
        using var model = Bench.BuildModel(o.Model);
        using var wave32 = tensor(audio).unsqueeze(0);
        using var tiny32 = tensor(tiny).unsqueeze(0);
        var (fp32Times, fp32Out) = Measure(model, wave32, o);
        double fp32 = fp32Times.WallMedian;
        Tensor tiny32Out;
        double tinyFp32;
        {
            var t = Bench.Time(() => { using var m = inference_mode(); using var s = NewDisposeScope(); _ = model.forward(tiny32, null); }, 1, 3);
            tinyFp32 = t.WallMedian;
            using var m = inference_mode();
            tiny32Out = model.forward(tiny32, null).Output;
        }
        Console.WriteLine($"  float32 : median {Bench.F(fp32, "0.000")} s ({Bench.Spread(fp32Times.Wall)}), {Bench.F(o.Seconds / fp32, "0.00")}x real time, CPU {Bench.F(fp32Times.CpuMedian, "0.00")} s");

        model.to(ScalarType.BFloat16);
        using var wave16 = wave32.to(ScalarType.BFloat16);
        var (bfTimes, bfOut) = Measure(model, wave16, o);
        double bf = bfTimes.WallMedian;
        var d = Bench.Compare(fp32Out, bfOut);
        Console.WriteLine($"  bfloat16: median {Bench.F(bf, "0.000")} s ({Bench.Spread(bfTimes.Wall)}), {Bench.F(o.Seconds / bf, "0.00")}x real time, CPU {Bench.F(bfTimes.CpuMedian, "0.00")} s, " +
                          $"{Bench.F(fp32 / bf, "0.00")}x the fp32 speed (CPU-time ratio {Bench.F(fp32Times.CpuMedian / bfTimes.CpuMedian, "0.00")}x)");
        Console.WriteLine($"            vs fp32: max |diff| {d.MaxAbs:0.000e+0}, cosine {Bench.F(d.Cosine, "0.000000")}, " +
                          $"mean per-frame cosine {Bench.F(d.MeanFrameCosine, "0.000000")}, relative RMS error {Bench.F(d.RelRms, "0.0000")}");
        verdicts.Check("dtype bf16 fidelity (mean per-frame cosine vs fp32)", d.MeanFrameCosine >= TargetBf16MinCosine,
            $"{Bench.F(d.MeanFrameCosine, "0.000000")} (target >= {Bench.F(TargetBf16MinCosine, "0.000")})");
        verdicts.Note("dtype bf16 speed", $"{Bench.F(fp32 / bf, "0.00")}x the fp32 speed (depends on the CPU's bf16 support)");
        if (Extraction.CpuFeatures.Current.HasBFloat16Units == true)
            verdicts.Check("dtype bf16 speed where the CPU has bf16 units", fp32 / bf >= TargetBf16Speedup,
                $"{Bench.F(fp32 / bf, "0.00")}x the fp32 speed end to end (target >= {Bench.F(TargetBf16Speedup, "0.0")}x)");
        ConvPathBench.Run(model, wave16, o, verdicts, "bf16", checkTargets: false);
        UnevenFidelity(o, verdicts, audio);

        // What --dtype auto picks here must not be slower than float32, nor leave a large bf16 win unused.
        var cpu = Extraction.CpuFeatures.Current;
        var probeWatch = System.Diagnostics.Stopwatch.StartNew();
        bool autoBf16 = cpu.BFloat16IsFast;
        double speedup = fp32 / bf;
        bool right = autoBf16 ? speedup >= 1.0 : speedup < AutoMustChooseBf16Above;
        verdicts.Check("dtype auto choice", right,
            $"auto picks {(autoBf16 ? "bfloat16" : "float32")} (flags: AMX {Flag(cpu.HasAmx)}, bf16 units {Flag(cpu.HasBFloat16Units)}; decided in " +
            $"{Bench.F(probeWatch.Elapsed.TotalSeconds, "0.000")} s) where bf16 runs {Bench.F(speedup, "0.00")}x the fp32 speed " +
            $"(wrong if bfloat16 while < 1.0x, or float32 while >= {Bench.F(AutoMustChooseBf16Above, "0.0")}x)");
        fp32Out.Dispose();
        bfOut.Dispose();

        // float16: rebuild from the same seed (casting bf16 weights would compound two roundings).
        using var model16 = Bench.BuildModel(o.Model);
        model16.to(ScalarType.Float16);
        using var tiny16 = tiny32.to(ScalarType.Float16);
        var fpTimes = Bench.Time(() => { using var m = inference_mode(); using var s = NewDisposeScope(); _ = model16.forward(tiny16, null); }, 0, 1);
        using var mode16 = inference_mode();
        using var out16 = model16.forward(tiny16, null).Output;
        var dh = Bench.Compare(tiny32Out, out16);
        double fp16 = fpTimes.WallMedian;
        Console.WriteLine($"  float16 : {Bench.F(Fp16Seconds, "0.0#")} s of audio in {Bench.F(fp16, "0.00")} s " +
                          $"({Bench.F(fp16 / Fp16Seconds, "0")}x slower than real time; fp32 on the same input {Bench.F(tinyFp32, "0.000")} s, " +
                          $"{Bench.F(fp16 / tinyFp32, "0")}x faster than fp16); vs fp32: max |diff| {dh.MaxAbs:0.000e+0}, cosine {Bench.F(dh.Cosine, "0.000000")}");
        verdicts.Note("dtype fp16 (CPU)", $"{Bench.F(fp16 / tinyFp32, "0")}x slower than fp32 on {Bench.F(Fp16Seconds, "0.0#")} s; do not use float16 on CPU");
        tiny32Out.Dispose();
    }

    /// <summary>bf16 vs fp32 on the pruned sp0.75 shape (uneven conv channels, where libtorch's bf16 conv1d gave NaN
    /// on AMD Zen 5), per convolution path.</summary>
    private static void UnevenFidelity(BenchOptions o, Verdicts verdicts, float[] audio)
    {
        using var model = Bench.BuildModel("sp075");
        using var wave32 = tensor(audio).unsqueeze(0);
        using var wave16 = wave32.to(ScalarType.BFloat16);
        using var mode = inference_mode();
        using var fp32 = model.forward(wave32, null).Output;
        model.to(ScalarType.BFloat16);
        foreach (var path in new[] { Modules.ConvolutionPath.Gemm, Modules.ConvolutionPath.LibTorch })
        {
            model.SetConvolutionPath(path);
            using var bf = model.forward(wave16, null).Output;
            using var bf32 = bf.to(ScalarType.Float32);
            var d = Bench.Compare(fp32, bf32);
            Console.WriteLine($"  sp0.75-shaped bf16 ({path}) vs fp32: mean per-frame cosine {Bench.F(d.MeanFrameCosine, "0.000000")}, max |diff| {d.MaxAbs:0.000e+0}");
            if (path == Modules.ConvolutionPath.Gemm)
                verdicts.Check("dtype bf16 fidelity, sp0.75 shape (uneven channels, GEMM path)", d.MeanFrameCosine >= TargetBf16MinCosine,
                    $"{Bench.F(d.MeanFrameCosine, "0.000000")} (target >= {Bench.F(TargetBf16MinCosine, "0.000")})");
        }
        model.SetConvolutionPath(Modules.ConvolutionPath.Gemm);
    }

    private static string Flag(bool? b) => b switch { true => "yes", false => "no", null => "unknown" };

    private static (Timing Times, Tensor Output) Measure(Wav2Vec2Model model, Tensor wave, BenchOptions o)
    {
        var times = Bench.Time(() =>
        {
            using var mode = inference_mode();
            using var scope = NewDisposeScope();
            _ = model.forward(wave, null);
        }, o.Warmup, o.Runs);
        using var m = inference_mode();
        return (times, model.forward(wave, null).Output.to(ScalarType.Float32));
    }
}
