using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using DpHubert.Checkpoints;
using DpHubert.Extraction;
using TorchSharp;
using static TorchSharp.torch;

namespace DpHubert.Bench;

/// <summary>Command-line settings shared by every benchmark.</summary>
internal sealed record BenchOptions
{
    public string Model { get; init; } = "hubert_base";
    public double Seconds { get; init; } = 10;
    public int Threads { get; init; } = 2;
    public int Runs { get; init; } = 3;
    public int Warmup { get; init; } = 1;
    public int Iterations { get; init; } = 200;
    public int BatchRuns { get; init; } = 1;
    public double DTypeSeconds { get; init; } = 4;
    public int? ModelIterations { get; init; }
    public string? Filter { get; init; }
    public string Large { get; init; } = "hubert_large";
    public bool SkipEncoder { get; init; }
    public int Shards { get; init; } = 2;
    public int Clips { get; init; } = 12;
    public int ShardRounds { get; init; } = 3;
    public int SoakClips { get; init; } = 1000;
    /// <summary><c>stream --soak-minutes M</c>: push M minutes of audio as fast as it goes and report resident memory.</summary>
    public double? StreamSoakMinutes { get; init; }
    /// <summary>Minutes of audio between the soak's reports (default 5).</summary>
    public double StreamSoakEvery { get; init; } = 5;
    public string? Console { get; init; }

    /// <summary>fidelity: a real checkpoint to measure instead of a random-weight preset.</summary>
    public string? Checkpoint { get; init; }

    /// <summary>Where load / compare keep their generated checkpoints and audio (reused when present); a temporary
    /// folder, deleted at the end, when null.</summary>
    public string? WorkDir { get; init; }

    /// <summary>compare: recording lengths in seconds.</summary>
    public double[] CompareSeconds { get; init; } = { 10, 20, 60 };

    /// <summary>compare: use the Release builds already there instead of building the console and the ONNX Runtime runner.</summary>
    public bool SkipBuild { get; init; }

    /// <summary>Targets hold only for the configuration they were set for (HuBERT Base, 10 s, 2 threads).</summary>
    public bool IsReferenceConfig => Model == "hubert_base" && Math.Abs(Seconds - 10) < 1e-9 && Threads == 2;
}

/// <summary>Wall-clock and process CPU seconds of each timed run.</summary>
internal sealed record Timing(double[] Wall, double[] Cpu)
{
    public double WallMedian => Bench.Median(Wall);
    public double CpuMedian => Bench.Median(Cpu);
}

/// <summary>Process CPU seconds (user, system) and page faults (minor: a page mapped in, zeroed or shared; major: read from disk).</summary>
internal readonly record struct Usage(double User, double Sys, long MinorFaults, long MajorFaults)
{
    public static Usage operator -(Usage a, Usage b) =>
        new(a.User - b.User, a.Sys - b.Sys, a.MinorFaults - b.MinorFaults, a.MajorFaults - b.MajorFaults);

    /// <summary>"user 1.2 s, sys 0.3 s (20%), 12345 minor faults".</summary>
    public override string ToString() =>
        $"user {Bench.F(User, "0.0")} s, sys {Bench.F(Sys, "0.0")} s ({Bench.F(100 * Sys / Math.Max(1e-9, User + Sys), "0")}% of CPU), " +
        $"{MinorFaults} minor faults ({Bench.F(MinorFaults * 4.0 / 1024, "0")} MiB of 4 KiB pages)";
}

/// <summary>A measured value checked against a target.</summary>
internal sealed class Verdicts
{
    private readonly List<(string Name, bool Passed, string Text)> items = new();

    public void Check(string name, bool passed, string measuredVsTarget)
    {
        items.Add((name, passed, measuredVsTarget));
        Console.WriteLine($"  [{(passed ? "PASS" : "FAIL")}] {name}: {measuredVsTarget}");
    }

    public void Note(string name, string text)
    {
        items.Add((name, true, text));
        Console.WriteLine($"  [info] {name}: {text}");
    }

    public bool AllPassed => items.All(i => i.Passed);

    public void PrintSummary()
    {
        Console.WriteLine();
        Console.WriteLine("== Targets ==");
        foreach (var (name, passed, text) in items)
            Console.WriteLine($"  [{(passed ? "PASS" : "FAIL")}] {name}: {text}");
        Console.WriteLine(AllPassed ? "All targets met." : "TARGET MISSED (exit code 1).");
    }
}

internal static class Bench
{
    public const int SampleRate = 16000;

    public static string F(double v, string fmt = "0.00") => v.ToString(fmt, CultureInfo.InvariantCulture);

    /// <summary>Deterministic speech-like test signal: a few harmonics with a slow envelope plus noise, in [-1, 1].</summary>
    public static float[] Audio(double seconds, int seed = 0)
    {
        int n = (int)Math.Round(seconds * SampleRate);
        var rng = new Random(seed);
        var x = new float[n];
        double f0 = 110 + 40 * rng.NextDouble();
        for (int i = 0; i < n; i++)
        {
            double t = i / (double)SampleRate;
            double env = 0.5 + 0.5 * Math.Sin(2 * Math.PI * 3 * t);
            double v = 0;
            for (int h = 1; h <= 5; h++) v += Math.Sin(2 * Math.PI * f0 * h * t) / h;
            x[i] = (float)(0.2 * env * v + 0.02 * (rng.NextDouble() * 2 - 1));
        }
        return x;
    }

    /// <summary>A tiny config with the module types of HuBERT Base (group-norm extractor, post-norm layers) for the
    /// leak check: the code paths are those of the real model, at a hundredth of the cost.</summary>
    public static Config.Wav2Vec2Config Tiny { get; } = Config.Wav2Vec2Config.HubertBase with
    {
        ExtractorConvLayerConfig = Config.Wav2Vec2Config.DefaultConvLayers.Select(c => c with { OutChannels = 32 }).ToArray(),
        EncoderEmbedDim = 64,
        EncoderLayers = Config.EncoderLayerConfig.Standard(numHeads: 4, ffIntermFeatures: 128).Repeat(2),
        EncoderHeadDim = 16,
        EncoderPosConvKernel = 16,
    };

    /// <summary>The shape of a DPHuBERT-pruned HuBERT Base at sparsity 0.75 (about 24 M parameters): uneven conv
    /// channels (none a multiple of 16 but one), fewer heads and feed-forward units per layer, HuBERT Base's module types.</summary>
    public static Config.Wav2Vec2Config Sp075 { get; } = Config.Wav2Vec2Config.HubertBase with
    {
        ExtractorConvLayerConfig = Config.Wav2Vec2Config.DefaultConvLayers
            .Select((c, i) => c with { OutChannels = new[] { 113, 121, 123, 117, 112, 119, 120 }[i] }).ToArray(),
        EncoderLayers = new[] { (8, 900), (6, 800), (6, 700), (5, 600), (5, 500), (4, 450), (4, 400), (4, 380), (3, 350), (3, 300), (2, 250), (2, 200) }
            .Select(l => Config.EncoderLayerConfig.Standard(numHeads: l.Item1, ffIntermFeatures: l.Item2)).ToArray(),
    };

    public static Config.Wav2Vec2Config ConfigFor(string name) => name switch
    {
        "tiny" => Tiny,
        "sp075" => Sp075,
        _ => Config.Wav2Vec2Config.Preset(name),
    };

    /// <summary>A preset with random weights (seeded, so every call gives the same weights), in eval mode.</summary>
    public static Wav2Vec2Model BuildModel(string name, long seed = 0)
    {
        torch.manual_seed(seed);
        return name is "tiny" or "sp075" ? ModelFactory.Build(ConfigFor(name)) : ModelFactory.BuildPreset(name);
    }

    /// <summary>A <see cref="SpeechEncoder"/> over a random-weight preset, through a temporary safetensors file.</summary>
    public static SpeechEncoder BuildEncoder(string name, int threads, ComputeDType dtype = ComputeDType.Float32, long seed = 0)
    {
        string dir = Path.Combine(Path.GetTempPath(), $"dphubert-bench-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, $"{name}-{seed}.safetensors");
        if (!File.Exists(path))
        {
            using var model = BuildModel(name, seed);
            CheckpointWriter.SaveSafeTensors(path, model.Config, model.state_dict());
        }
        return SpeechEncoder.Load(path, new SpeechEncoderOptions { Threads = threads, DType = dtype });
    }

    /// <summary>Starts this benchmark again as a child process with <paramref name="args"/>, its output redirected.</summary>
    public static ProcessStartInfo SelfStartInfo(bool redirectInput, params string[] args)
    {
        var psi = new ProcessStartInfo { RedirectStandardInput = redirectInput, RedirectStandardOutput = true, RedirectStandardError = !redirectInput, UseShellExecute = false };
        string self = Environment.ProcessPath!;
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
            psi.ArgumentList.Add(System.Reflection.Assembly.GetEntryAssembly()!.Location);
        psi.FileName = self;
        foreach (var a in args) psi.ArgumentList.Add(a);
        return psi;
    }

    /// <summary>Runs this benchmark as a child process with <paramref name="args"/> (and <paramref name="environment"/>
    /// added) and returns its standard output; a non-zero exit throws with <paramref name="failure"/>, the exit code,
    /// its standard error and output.</summary>
    public static string RunSelf(string failure, IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        var psi = SelfStartInfo(false, args);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) psi.Environment[name] = value;
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"{failure} (exit {p.ExitCode}): {stderr.Result}{output}");
        return output;
    }

    public static void CleanTemp()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"dphubert-bench-{Environment.ProcessId}");
        try
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>Runs <paramref name="action"/> <paramref name="warmup"/> times untimed, then <paramref name="runs"/>
    /// times timed; returns the wall-clock and process CPU timings in seconds (unsorted, run order).</summary>
    public static Timing Time(Action action, int warmup, int runs)
    {
        for (int i = 0; i < warmup; i++) action();
        var wall = new double[runs];
        var cpu = new double[runs];
        using var process = Process.GetCurrentProcess();
        for (int i = 0; i < runs; i++)
        {
            process.Refresh();
            var cpu0 = process.TotalProcessorTime;
            var sw = Stopwatch.StartNew();
            action();
            wall[i] = sw.Elapsed.TotalSeconds;
            process.Refresh();
            cpu[i] = (process.TotalProcessorTime - cpu0).TotalSeconds;
        }
        return new Timing(wall, cpu);
    }

    public static double Median(IReadOnlyList<double> sorted)
    {
        var s = sorted.OrderBy(x => x).ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    public static string Spread(double[] values) => $"min {F(values.Min(), "0.000")} s, max {F(values.Max(), "0.000")} s, n={values.Length}";

    /// <summary>A /proc/self/status field in MiB (VmRSS, VmHWM), or <see cref="Environment.WorkingSet"/> where there is none.</summary>
    public static double StatusMiB(string field)
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith(field + ":", StringComparison.Ordinal))
                {
                    var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    return long.Parse(parts[1], CultureInfo.InvariantCulture) / 1024.0;
                }
        }
        catch (IOException)
        {
        }
        return Environment.WorkingSet / (1024.0 * 1024.0);
    }

    public static double RssMiB() => StatusMiB("VmRSS");

    /// <summary>
    /// The C heap as glibc sees it (MiB in use by live allocations, MiB free but held in its arenas), or null where
    /// there is no glibc mallinfo2; says whether resident memory is live tensors or allocator slack.
    /// </summary>
    public static (double InUse, double Free)? CHeapMiB()
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            var m = mallinfo2();
            const double mib = 1024.0 * 1024.0;
            return ((m.uordblks + m.hblkhd) / mib, m.fordblks / mib);
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return null;
        }
    }

    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    private struct MallInfo2
    {
        public nuint arena, ordblks, smblks, hblks, hblkhd, usmblks, fsmblks, uordblks, fordblks, keepcost;
    }

    [System.Runtime.InteropServices.DllImport("libc")]
    private static extern MallInfo2 mallinfo2();

    /// <summary>This process's CPU time and page faults so far (getrusage), or null where there is none.</summary>
    public static Usage? ProcessUsage()
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            if (getrusage(0, out var r) != 0) return null; // RUSAGE_SELF: every thread of the process
            return new Usage(r.UserSec + r.UserMicro / 1e6, r.SysSec + r.SysMicro / 1e6, r.MinorFaults, r.MajorFaults);
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return null;
        }
    }

    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    private struct RUsage
    {
        public long UserSec, UserMicro, SysSec, SysMicro;
        public long MaxRss, IxRss, IdRss, IsRss, MinorFaults, MajorFaults;
        public long NSwap, InBlock, OuBlock, MsgSnd, MsgRcv, NSignals, NvCsw, NivCsw;
    }

    [System.Runtime.InteropServices.DllImport("libc")]
    private static extern int getrusage(int who, out RUsage usage);

    /// <summary>Resets the kernel's peak-RSS mark (VmHWM) for this process; false where that is not possible.</summary>
    public static bool ResetPeak()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Full managed GC so that finalizers of forgotten tensors run before a memory reading.</summary>
    public static void Settle()
    {
        for (int i = 0; i < 2; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
    }

    /// <summary>Tensors created on this thread minus those disposed (TorchSharp's own bookkeeping).</summary>
    public static long LiveTensors() => DisposeScopeManager.Statistics.ThreadTotalLiveCount;

    public static (double MaxAbs, double Cosine, double MeanFrameCosine, double RelRms) Compare(Tensor reference, Tensor other)
    {
        using var scope = NewDisposeScope();
        var a = reference.to(ScalarType.Float64).flatten(0, -2);
        var b = other.to(ScalarType.Float64).flatten(0, -2);
        double maxAbs = (a - b).abs().max().item<double>();
        double cos = nn.functional.cosine_similarity(a.flatten(), b.flatten(), dim: 0).item<double>();
        double frameCos = nn.functional.cosine_similarity(a, b, dim: -1).mean().item<double>();
        double relRms = ((a - b).pow(2).mean().sqrt() / a.pow(2).mean().sqrt()).item<double>();
        return (maxAbs, cos, frameCos, relRms);
    }
}
