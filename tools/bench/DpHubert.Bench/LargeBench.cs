using System;
using System.Diagnostics;
using static TorchSharp.torch;

namespace DpHubert.Bench;

/// <summary>Build time and one forward pass of a large preset, with the process's peak RSS.</summary>
internal static class LargeBench
{
    public const double ForwardSeconds = 2;

    public static void Run(string preset, BenchOptions o, Verdicts verdicts)
    {
        Console.WriteLine($"== large: {preset}, build + one forward of {Bench.F(ForwardSeconds, "0")} s, fp32, {o.Threads} threads ==");
        Bench.Settle();
        bool peakReset = Bench.ResetPeak();
        double rss0 = Bench.RssMiB();
        var sw = Stopwatch.StartNew();
        using var model = Bench.BuildModel(preset);
        double build = sw.Elapsed.TotalSeconds;
        double rssBuilt = Bench.RssMiB();
        double peakBuild = Bench.StatusMiB("VmHWM");
        long parameters = model.NumParameters();
        using var wave = tensor(Bench.Audio(ForwardSeconds)).unsqueeze(0);
        Bench.ResetPeak();
        sw.Restart();
        long frames;
        using (var mode = inference_mode())
        using (var scope = NewDisposeScope())
            frames = model.forward(wave, null).Output.shape[1];
        double first = sw.Elapsed.TotalSeconds;
        double peakForward = Bench.StatusMiB("VmHWM");
        sw.Restart();
        using (var mode = inference_mode())
        using (var scope = NewDisposeScope())
            _ = model.forward(wave, null);
        double second = sw.Elapsed.TotalSeconds;
        Console.WriteLine($"  {parameters / 1e6:0.0} M parameters ({Bench.F(parameters * 4 / 1048576.0, "0")} MiB fp32); " +
                          $"build {Bench.F(build, "0.0")} s; RSS {Bench.F(rss0, "0")} -> {Bench.F(rssBuilt, "0")} MiB after build" +
                          (peakReset ? $" (peak during build {Bench.F(peakBuild, "0")} MiB)" : ""));
        Console.WriteLine($"  forward {Bench.F(ForwardSeconds, "0")} s -> {frames} frames: first {Bench.F(first, "0.00")} s, " +
                          $"second {Bench.F(second, "0.00")} s ({Bench.F(ForwardSeconds / second, "0.0")}x real time)" +
                          (peakReset ? $"; peak RSS during forward {Bench.F(peakForward, "0")} MiB ({Bench.F(peakForward - rssBuilt, "+0")} MiB over the built model)"
                                     : $"; process peak RSS {Bench.F(peakForward, "0")} MiB (peak reset unavailable)"));
        verdicts.Note($"large {preset}", $"build {Bench.F(build, "0.0")} s, forward 2 s in {Bench.F(second, "0.00")} s, peak RSS {Bench.F(peakForward, "0")} MiB");
    }
}
