using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using DpHubert.Checkpoints;
using static TorchSharp.torch;

namespace DpHubert.Bench;

/// <summary>
/// Checkpoint loading: a random-weight preset written by our own writers (.pth fp32, .pth fp16, safetensors), each
/// loaded by <see cref="CheckpointLoader.LoadModel"/> in a fresh child process so that RSS is that of the load alone.
/// </summary>
internal static class LoadBench
{
    /// <summary>HuBERT Base .pth fp32: model loaded within this many wall-clock seconds.</summary>
    public const double TargetSeconds = 1.0;

    /// <summary>HuBERT Base .pth fp32: RSS the load adds (after it, and at its peak) at most this many times the file size.</summary>
    public const double TargetRssRatio = 1.3;

    /// <summary>The hidden command the parent runs in each child: <c>load-child FILE</c>.</summary>
    public const string ChildCommand = "load-child";

    private sealed record Sample(double Seconds, double BaselineMiB, double RssMiB, double PeakMiB, double ReadSeconds, double CpuSeconds);

    public static void Run(BenchOptions o, Verdicts verdicts)
    {
        int runs = Math.Max(1, o.Runs);
        Console.WriteLine($"== load: {o.Model} random weights, CheckpointLoader.LoadModel in a fresh process, {runs} runs per file (alternating) ==");
        string dir = o.WorkDir ?? Path.Combine(Path.GetTempPath(), $"dphubert-bench-{Environment.ProcessId}", "load");
        Directory.CreateDirectory(dir);
        var files = WriteFiles(o.Model, dir);
        var samples = files.ToDictionary(f => f.Name, _ => new List<Sample>());
        for (int r = 0; r < runs; r++)
            foreach (var f in files)
                samples[f.Name].Add(RunChild(f.Path, o.Threads));

        foreach (var f in files)
        {
            var s = samples[f.Name];
            double size = new FileInfo(f.Path).Length / 1048576.0;
            double Med(Func<Sample, double> pick) => Bench.Median(s.Select(pick).ToArray());
            double time = Med(x => x.Seconds), cpu = Med(x => x.CpuSeconds), read = Med(x => x.ReadSeconds);
            double baseline = Med(x => x.BaselineMiB), rss = Med(x => x.RssMiB), peak = Med(x => x.PeakMiB);
            // The runtime (.NET + libtorch, ~140 MiB) is there before any load: the ratio is over what the load adds.
            double ratio = (rss - baseline) / size, peakRatio = (peak - baseline) / size;
            Console.WriteLine($"  {f.Name,-20} {Bench.F(size, "0")} MiB: load {Bench.F(time, "0.000")} s wall ({Bench.Spread(s.Select(x => x.Seconds).ToArray())}), " +
                              $"{Bench.F(cpu, "0.000")} CPU-s; read {Bench.F(read, "0.000")} s + build and fill {Bench.F(time - read, "0.000")} s");
            Console.WriteLine($"  {"",-20} RSS {Bench.F(baseline, "0")} MiB started -> {Bench.F(rss, "0")} MiB after load: +{Bench.F(ratio, "0.00")}x the file " +
                              $"(whole process {Bench.F(rss / size, "0.00")}x); peak +{Bench.F(peakRatio, "0.00")}x ({Bench.F(peak, "0")} MiB)");
            if (f.Targeted && o.Model == "hubert_base")
            {
                verdicts.Check($"load {f.Name} time", time <= TargetSeconds,
                    $"{Bench.F(time, "0.000")} s wall, {Bench.F(cpu, "0.000")} CPU-s (target <= {Bench.F(TargetSeconds, "0.0")} s wall)");
                verdicts.Check($"load {f.Name} RSS", ratio <= TargetRssRatio && peakRatio <= TargetRssRatio,
                    $"+{Bench.F(ratio, "0.00")}x the file after load, peak +{Bench.F(peakRatio, "0.00")}x (target <= {Bench.F(TargetRssRatio, "0.0")}x both)");
            }
            else
                verdicts.Note($"load {f.Name}", $"{Bench.F(time, "0.000")} s, RSS +{Bench.F(ratio, "0.00")}x the {Bench.F(size, "0")} MiB file, peak +{Bench.F(peakRatio, "0.00")}x");
        }
    }

    private sealed record BenchFile(string Name, string Path, bool Targeted);

    private static List<BenchFile> WriteFiles(string preset, string dir)
    {
        var files = new List<BenchFile>
        {
            new("pth float32", Path.Combine(dir, $"{preset}.pth"), true),
            new("safetensors float32", Path.Combine(dir, $"{preset}.safetensors"), false),
            new("pth float16", Path.Combine(dir, $"{preset}-fp16.pth"), false),
        };
        if (files.All(f => File.Exists(f.Path)))
        {
            Console.WriteLine($"  reusing the checkpoints in {dir}");
            return files;
        }
        var sw = Stopwatch.StartNew();
        WriteCheckpoint(preset, files[0].Path, half: false);
        using (var model = Bench.BuildModel(preset))
            CheckpointWriter.SaveSafeTensors(files[1].Path, model.Config, model.state_dict());
        WriteCheckpoint(preset, files[2].Path, half: true);
        Console.WriteLine($"  wrote {files.Count} files in {Bench.F(sw.Elapsed.TotalSeconds, "0.0")} s to {dir}");
        return files;
    }

    /// <summary>A DPHuBERT .pth of the preset with seeded random weights (the same weights on every call), float32 or
    /// stored as float16.</summary>
    public static void WriteCheckpoint(string preset, string path, bool half)
    {
        using var model = Bench.BuildModel(preset);
        using var scope = NewDisposeScope();
        var sd = model.state_dict().Select(kv => KeyValuePair.Create(kv.Key, half ? kv.Value.to(ScalarType.Float16) : kv.Value));
        CheckpointWriter.SaveDpHubert(path, model.Config, sd);
    }

    private static Sample RunChild(string file, int threads)
    {
        string output = Bench.RunSelf($"load child failed on {file}", null, ChildCommand, file, "--threads", threads.ToString(CultureInfo.InvariantCulture));
        var line = output.Split('\n').FirstOrDefault(l => l.StartsWith("LOAD ", StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"load child failed on {file} (exit 0, no LOAD line): {output}");
        var v = line.Split(' ').Skip(1).Select(x => double.Parse(x, CultureInfo.InvariantCulture)).ToArray();
        return new Sample(v[0], v[1], v[2], v[3], v[4], v[5]);
    }

    /// <summary>The child: start libtorch, then load the checkpoint once and print time and RSS.</summary>
    public static int Child(string file)
    {
        using (var warm = ones(4)) _ = warm.sum().item<float>();
        Bench.Settle();
        double baseline = Bench.RssMiB();
        using var process = Process.GetCurrentProcess();
        var cpu0 = process.TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        // The two steps of CheckpointLoader.LoadModel, timed apart.
        var checkpoint = CheckpointLoader.Read(file);
        double read = sw.Elapsed.TotalSeconds;
        Wav2Vec2Model model;
        using (checkpoint)
            model = CheckpointLoader.BuildModel(checkpoint);
        double seconds = sw.Elapsed.TotalSeconds;
        process.Refresh();
        double cpu = (process.TotalProcessorTime - cpu0).TotalSeconds;
        double rss = Bench.RssMiB();
        double peak = Bench.StatusMiB("VmHWM");
        using (model)
            Console.WriteLine(FormattableString.Invariant($"LOAD {seconds:0.0000} {baseline:0.0} {rss:0.0} {peak:0.0} {read:0.0000} {cpu:0.0000}"));
        return 0;
    }
}
