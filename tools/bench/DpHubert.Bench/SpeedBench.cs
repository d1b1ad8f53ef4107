using System;
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

    public static void Run(BenchOptions o, Verdicts verdicts)
    {
        Console.WriteLine($"== speed: {o.Model}, fp32, {Bench.F(o.Seconds, "0.#")} s of audio, {o.Threads} threads, " +
                          $"{o.Warmup} warm-up + median of {o.Runs} ==");
        var audio = Bench.Audio(o.Seconds);
        var sw = Stopwatch.StartNew();
        using (var model = Bench.BuildModel(o.Model))
        {
            Console.WriteLine($"  build: {Bench.F(sw.Elapsed.TotalSeconds, "0.00")} s, {model.NumParameters() / 1e6:0.0} M parameters");
            using var wave = tensor(audio).unsqueeze(0);
            var times = Bench.Time(() =>
            {
                using var mode = inference_mode();
                using var scope = NewDisposeScope();
                _ = model.forward(wave, null);
            }, o.Warmup, o.Runs);
            Report("Wav2Vec2Model.forward", times, o, verdicts);
            ConvPathBench.Run(model, wave, o, verdicts, "fp32", o.IsReferenceConfig);
            if (o.IsReferenceConfig) ConvPathBench.PrunedSpeedup(model, wave, o, verdicts, "fp32");
            ConvPathBench.LinearBackends(model, wave, "fp32", o);
        }
        if (o.SkipEncoder) return;
        using var encoder = Bench.BuildEncoder(o.Model, o.Threads);
        var encTimes = Bench.Time(() => encoder.Extract(audio), o.Warmup, o.Runs);
        Report("SpeechEncoder.Extract", encTimes, o, verdicts);
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
