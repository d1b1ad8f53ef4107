using System;
using System.Collections.Generic;
using System.Linq;
using System.Diagnostics;
using DpHubert.Extraction;
using static TorchSharp.torch;

namespace DpHubert.Bench;

/// <summary>Real-time factor of a random-weight preset, fp32, inference mode: model.forward and SpeechEncoder.Extract.</summary>
internal static class SpeedBench
{
    /// <summary>HuBERT Base fp32, 10 s, 2 threads: at least this many seconds of audio per wall-clock second
    /// (forward and SpeechEncoder.Extract). Loose on purpose: the reference machine is a shared 2-core VM.
    /// See tools/bench/README.md for how it was set.</summary>
    public const double TargetXRealTimeHubertBase = 0.5;

    /// <summary>HuBERT Base fp32, 10 s, 2 threads: at most this many process CPU seconds per second of audio
    /// (insensitive to other processes on the machine, sensitive to wasted work).</summary>
    public const double TargetCpuSecondsPerAudioSecond = 1.0;

    /// <summary><c>SpeechEncoder.Extract</c> may take at most this multiple of the raw forward's CPU time (same audio, same run).</summary>
    public const double TargetExtractOverForward = 1.05;

    public static void Run(BenchOptions o, Verdicts verdicts)
    {
        Console.WriteLine($"== speed: {o.Model}, fp32, {Bench.F(o.Seconds, "0.#")} s of audio, {o.Threads} threads, " +
                          $"{o.Warmup} warm-up + median of {o.Runs} ==");
        var audio = Bench.Audio(o.Seconds);
        var sw = Stopwatch.StartNew();
        using var model = Bench.BuildModel(o.Model);
        Console.WriteLine($"  build: {Bench.F(sw.Elapsed.TotalSeconds, "0.00")} s, {model.NumParameters() / 1e6:0.0} M parameters");
        using var wave = tensor(audio).unsqueeze(0);
        var times = Bench.Time(() => Forward(model, wave), o.Warmup, o.Runs);
        Report("Wav2Vec2Model.forward", times, o, verdicts);
        ConvPathBench.Run(model, wave, o, verdicts, "fp32", o.IsReferenceConfig);
        if (o.IsReferenceConfig) ConvPathBench.PrunedSpeedup(model, wave, o, verdicts, "fp32");
        ConvPathBench.LinearBackends(model, wave, "fp32", o);
        if (o.SkipEncoder) return;
        using var encoder = Bench.BuildEncoder(o.Model, o.Threads);
        var encTimes = Bench.Time(() => encoder.Extract(audio), o.Warmup, o.Runs);
        Report("SpeechEncoder.Extract", encTimes, o, verdicts);
        ExtractVersusForward(model, encoder, audio, wave, o, verdicts);
    }

    /// <summary>The raw forward (the model built above, same weights) in the caller's inference mode and dispose scope.</summary>
    private static void Forward(Wav2Vec2Model model, Tensor wave)
    {
        using var mode = inference_mode();
        using var scope = NewDisposeScope();
        _ = model.forward(wave, null);
    }

    /// <summary><c>SpeechEncoder.Extract</c> against the raw forward, alternating run by run in this process (both see the
    /// same C heap settings and the same moments of a shared machine's load); CPU time (user + sys) decides.</summary>
    private static void ExtractVersusForward(Wav2Vec2Model model, SpeechEncoder encoder, float[] audio, Tensor wave, BenchOptions o, Verdicts verdicts)
    {
        var variants = new (string Name, Action Run)[]
        {
            ("SpeechEncoder.Extract", () => encoder.Extract(audio)),
            ("Wav2Vec2Model.forward", () => Forward(model, wave)),
        };
        int rounds = Math.Max(o.Runs, 5);
        var cpu = variants.Select(_ => new List<double>()).ToArray();
        var wall = variants.Select(_ => new List<double>()).ToArray();
        var use = new Usage[variants.Length];
        for (int round = -o.Warmup; round < rounds; round++)
            for (int v = 0; v < variants.Length; v++)
            {
                var before = Bench.ProcessUsage();
                var t = Stopwatch.StartNew();
                variants[v].Run();
                double w = t.Elapsed.TotalSeconds;
                var d = Bench.ProcessUsage() - before;
                if (round < 0 || d is not { } u) continue;
                cpu[v].Add(u.User + u.Sys);
                wall[v].Add(w);
                use[v] = new Usage(use[v].User + u.User, use[v].Sys + u.Sys, use[v].MinorFaults + u.MinorFaults, use[v].MajorFaults + u.MajorFaults);
            }
        if (cpu[0].Count == 0) return; // no getrusage here
        for (int v = 0; v < variants.Length; v++)
            Console.WriteLine($"  alternating, {variants[v].Name}: median {Bench.F(Bench.Median(wall[v]), "0.000")} s wall, " +
                              $"{Bench.F(Bench.Median(cpu[v]), "0.000")} s CPU (user + sys), n={cpu[v].Count}; {use[v]}");
        double ratio = Bench.Median(cpu[0]) / Bench.Median(cpu[1]);
        string text = $"{Bench.F(ratio, "0.000")}x CPU ({Bench.F(Bench.Median(cpu[0]), "0.000")} vs {Bench.F(Bench.Median(cpu[1]), "0.000")} s), " +
                      $"{Bench.F(Bench.Median(wall[0]) / Bench.Median(wall[1]), "0.000")}x wall";
        if (o.IsReferenceConfig)
            verdicts.Check($"speed SpeechEncoder.Extract <= {Bench.F(TargetExtractOverForward, "0.00")}x Wav2Vec2Model.forward (CPU, alternating)", ratio <= TargetExtractOverForward, text);
        else
            verdicts.Note($"speed SpeechEncoder.Extract vs Wav2Vec2Model.forward ({o.Model}, {Bench.F(o.Seconds, "0.#")} s)", text);
    }

    private static void Report(string what, Timing times, BenchOptions o, Verdicts verdicts)
    {
        double median = times.WallMedian;
        double rtf = median / o.Seconds;
        double xrt = 1 / rtf;
        double cpuPerSecond = times.CpuMedian / o.Seconds;
        Console.WriteLine($"  {what}: median {Bench.F(median, "0.000")} s ({Bench.Spread(times.Wall)}); " +
                          $"RTF {Bench.F(rtf, "0.000")}, {Bench.F(xrt, "0.00")}x real time, {Bench.F(1000 * rtf, "0")} ms per s of audio; " +
                          $"CPU {Bench.F(cpuPerSecond, "0.000")} s per s of audio (ideal {o.Threads} threads: {Bench.F(o.Threads / cpuPerSecond, "0.0")}x real time)");
        if (o.IsReferenceConfig)
        {
            verdicts.Check($"speed {what} wall (hubert_base fp32, 10 s, 2 threads)", xrt >= TargetXRealTimeHubertBase,
                $"{Bench.F(xrt, "0.00")}x real time (target >= {Bench.F(TargetXRealTimeHubertBase, "0.0#")}x)");
            verdicts.Check($"speed {what} CPU (hubert_base fp32, 10 s, 2 threads)", cpuPerSecond <= TargetCpuSecondsPerAudioSecond,
                $"{Bench.F(cpuPerSecond, "0.000")} CPU s per s of audio (target <= {Bench.F(TargetCpuSecondsPerAudioSecond, "0.0#")})");
        }
        else
            verdicts.Note($"speed {what} ({o.Model}, {Bench.F(o.Seconds, "0.#")} s, {o.Threads} threads)",
                $"{Bench.F(xrt, "0.00")}x real time, {Bench.F(cpuPerSecond, "0.000")} CPU s per s of audio; no target for this configuration");
    }
}
