using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using DpHubert.Audio;
using DpHubert.IO;

namespace DpHubert.Bench;

/// <summary>
/// Side by side, whole processes, alternating in one run: our console (<c>dphubert extract</c>), ONNX Runtime 1.31
/// (tools/bench/OrtRunner on the same weights exported to ONNX) and PyTorch eager (tools/bench/compare/torch_side.py),
/// each on the same WAV with the same thread count; wall time and peak RSS from <c>/usr/bin/time</c>.
/// </summary>
internal static class CompareBench
{
    /// <summary>Lengths at or under which the peers run too (ONNX Runtime was killed for memory at 5 minutes).</summary>
    public const double PeerMaxSeconds = 60;

    /// <summary>Our peak RSS bound for a whole 5-minute recording, bytes.</summary>
    public const double LongPeakBytes = 6e9;

    /// <summary>Our console with <c>DPHUBERT_LINEAR=onednn</c>.</summary>
    private const string OneDnnVariant = "DpHubert oneDNN-linear";

    private const string GemmLinePrefix = "GEMM backend: ";

    private sealed record Runner(string Name, Func<string, string, IReadOnlyList<string>> Command);

    private sealed record Measurement(double Seconds, double PeakBytes, bool Ok, string Error, double CpuSeconds = double.NaN, string? Gemm = null);

    public static void Run(BenchOptions o, Verdicts verdicts)
    {
        string root = RepoRoot();
        string dir = o.WorkDir ?? Path.Combine(Path.GetTempPath(), $"dphubert-bench-{Environment.ProcessId}", "compare");
        Directory.CreateDirectory(dir);
        var lengths = o.CompareSeconds;
        Console.WriteLine($"== compare: {o.Model} random weights, fp32, {o.Threads} threads, whole processes, {o.Runs} alternating rounds per length; " +
                          $"lengths {string.Join(", ", lengths.Select(l => Bench.F(l, "0") + " s"))} (peers up to {Bench.F(PeerMaxSeconds, "0")} s) ==");
        Console.WriteLine($"  CPU: {CpuDescription()}");
        if (!File.Exists("/usr/bin/time"))
            throw new InvalidOperationException("/usr/bin/time is needed for peak RSS (apt-get install time; tools/setup.sh installs it)");

        string console = BuildProject(root, "samples/DpHubert.FeatureExtraction", "dphubert.dll", o.SkipBuild);
        string ortRunner = BuildProject(root, "tools/bench/OrtRunner", "ort-runner.dll", o.SkipBuild);
        string pth = Path.Combine(dir, $"{o.Model}.pth");
        if (!File.Exists(pth))
            LoadBench.WriteCheckpoint(o.Model, pth, half: false);
        string onnx = Path.Combine(dir, $"{o.Model}.onnx");
        string script = Path.Combine(root, "tools", "bench", "compare", "torch_side.py");
        if (!File.Exists(onnx) || File.GetLastWriteTimeUtc(onnx) < File.GetLastWriteTimeUtc(pth))
        {
            var sw = Stopwatch.StartNew();
            var export = Exec("/usr/bin/python3", new[] { script, "export", pth, onnx }, null);
            if (export.Ok is false)
                throw new InvalidOperationException($"ONNX export failed: {export.Error}");
            Console.WriteLine($"  exported {onnx} in {Bench.F(sw.Elapsed.TotalSeconds, "0")} s");
        }

        string threads = o.Threads.ToString(CultureInfo.InvariantCulture);
        // The console as a user runs it (the GEMM library chosen by auto; --verbose prints the choice, read back per run).
        var ours = new Runner("DpHubert", (wav, npy) => new[] { "env", $"{LinearKernels.EnvironmentVariable}=auto", "dotnet", console, "extract", "--checkpoint", pth, "--input", wav, "--output", npy, "--threads", threads, "--quiet", "--verbose" });
        // The same console with float32 matrix products forced onto oneDNN: no target, the figure for CPUs where
        // the two libraries take different code paths.
        var oursOneDnn = new Runner(OneDnnVariant, (wav, npy) => new[] { "env", $"{LinearKernels.EnvironmentVariable}=onednn" }.Concat(ours.Command(wav, npy).Skip(2)).ToArray());
        var ort = new Runner("ONNX Runtime", (wav, npy) => new[] { "dotnet", ortRunner, onnx, wav, npy, "--threads", threads });
        var eager = new Runner("PyTorch", (wav, npy) => new[] { "/usr/bin/python3", script, "run", pth, wav, npy, "--threads", threads });

        var table = new List<string>();
        foreach (var seconds in lengths)
        {
            string wav = Path.Combine(dir, $"speech-{Bench.F(seconds, "0")}s.wav");
            if (!File.Exists(wav))
                WavWriter.WritePcm16(wav, Bench.Audio(seconds, seed: 1), Bench.SampleRate);
            var runners = seconds <= PeerMaxSeconds ? new[] { ours, ort, eager, oursOneDnn } : new[] { ours };
            var runs = runners.ToDictionary(r => r.Name, _ => new List<Measurement>());
            for (int round = 0; round < o.Runs; round++)
                for (int k = 0; k < runners.Length; k++)
                {
                    // Rotate who goes first so that no runner always follows the same one.
                    var r = runners[(k + round) % runners.Length];
                    string npy = Path.Combine(dir, $"out-{r.Name.Replace(' ', '-')}-{Bench.F(seconds, "0")}s.npy");
                    var cmd = r.Command(wav, npy);
                    var result = Timed(cmd, dir);
                    runs[r.Name].Add(result);
                    Console.WriteLine($"  {Bench.F(seconds, "0"),4} s  round {round + 1}  {r.Name,-12} " +
                                      (result.Ok ? $"{Bench.F(result.Seconds, "0.00")} s ({Bench.F(result.CpuSeconds, "0.0")} CPU-s), peak RSS {Bench.F(result.PeakBytes / 1e9, "0.00")} GB" : $"FAILED: {result.Error}")
                                      + (result.Gemm is null ? "" : $"; {result.Gemm}"));
                }
            Summarize(seconds, runners.Select(r => r.Name).ToArray(), runs, dir, verdicts, table);
        }
        Console.WriteLine();
        Console.WriteLine("  | recording | DpHubert time / peak RSS | ONNX Runtime time / peak RSS | PyTorch eager time / peak RSS | time ours/ORT | peak RSS ours/ORT | time ours/PyTorch | peak RSS ours/PyTorch |");
        Console.WriteLine("  |---|---|---|---|---|---|---|---|");
        foreach (var row in table)
            Console.WriteLine("  " + row);
    }

    private static void Summarize(double seconds, string[] names, Dictionary<string, List<Measurement>> runs, string dir, Verdicts verdicts, List<string> table)
    {
        string len = Bench.F(seconds, "0") + " s";
        (double Time, double Peak, double Cpu, string Cell)? Stat(string name)
        {
            if (!runs.TryGetValue(name, out var list)) return null;
            var ok = list.Where(r => r.Ok).ToList();
            if (ok.Count == 0) return (double.NaN, double.NaN, double.NaN, "failed");
            double t = Bench.Median(ok.Select(r => r.Seconds).ToArray()), p = Bench.Median(ok.Select(r => r.PeakBytes).ToArray());
            double c = Bench.Median(ok.Select(r => r.CpuSeconds).ToArray());
            string range = ok.Count > 1 ? $"{Bench.F(ok.Min(r => r.Seconds), "0.0")}–{Bench.F(ok.Max(r => r.Seconds), "0.0")} s" : $"{Bench.F(t, "0.0")} s";
            return (t, p, c, $"{range} ({Bench.F(c, "0.0")} CPU-s) / {Bench.F(p / 1e9, "0.00")} GB");
        }
        var ours = Stat("DpHubert");
        var ort = Stat("ONNX Runtime");
        var torch = Stat("PyTorch");
        string Ratio(double a, double b) => double.IsNaN(a) || double.IsNaN(b) ? "–" : Bench.F(a / b, "0.00") + "×";
        string Ratios((double Time, double Peak, double Cpu, string Cell)? peer) => peer is { } q && ours is { } u
            ? $"{Ratio(u.Time, q.Time)} ({Ratio(u.Cpu, q.Cpu)} CPU) | {Ratio(u.Peak, q.Peak)}"
            : "– | –";
        if (Stat(OneDnnVariant) is { } variant && ort is { } o1 && ours is { } u1)
            Console.WriteLine($"  {len}: {OneDnnVariant}: {variant.Cell}; time vs ONNX Runtime {Ratio(variant.Time, o1.Time)} ({Ratio(variant.Cpu, o1.Cpu)} CPU), " +
                              $"vs DpHubert (auto) {Ratio(variant.Time, u1.Time)}");
        table.Add($"| {len} | {ours?.Cell ?? "–"} | {ort?.Cell ?? "not run"} | {torch?.Cell ?? "not run"} | {Ratios(ort)} | {Ratios(torch)} |");

        // The three computed the same thing: a quick agreement check on the last outputs.
        string Npy(string name) => Path.Combine(dir, $"out-{name.Replace(' ', '-')}-{Bench.F(seconds, "0")}s.npy");
        foreach (var peer in names.Where(n => n != "DpHubert"))
            if (File.Exists(Npy("DpHubert")) && File.Exists(Npy(peer)))
            {
                var (maxAbs, frameCos) = Agreement(Npy("DpHubert"), Npy(peer));
                Console.WriteLine($"  {len}: DpHubert vs {peer}: max abs diff {maxAbs:0.0e0}, mean per-frame cosine {Bench.F(frameCos, "0.000000")}");
                verdicts.Check($"compare {len} same features as {peer}", frameCos >= 0.9999, $"mean per-frame cosine {Bench.F(frameCos, "0.000000")} (>= 0.9999)");
            }

        if (ours is null || double.IsNaN(ours.Value.Time))
        {
            verdicts.Check($"compare {len} DpHubert ran", false, "our console failed");
            return;
        }
        double o = ours.Value.Time, op = ours.Value.Peak, oc = ours.Value.Cpu;
        if (ort is { } r && !double.IsNaN(r.Time))
        {
            if (Math.Abs(seconds - 60) < 1e-9)
            {
                verdicts.Check($"compare {len} time vs ONNX Runtime", o <= r.Time, $"{Ratio(o, r.Time)} wall, {Ratio(oc, r.Cpu)} CPU (target <= 1.0× wall)");
                verdicts.Check($"compare {len} peak RSS vs ONNX Runtime", op <= r.Peak, $"{Ratio(op, r.Peak)} (target <= 1.0×)");
            }
            else if (Math.Abs(seconds - 20) < 1e-9)
                verdicts.Check($"compare {len} time vs ONNX Runtime", o <= r.Time, $"{Ratio(o, r.Time)} wall, {Ratio(oc, r.Cpu)} CPU (target <= 1.0× wall)");
            else
                verdicts.Note($"compare {len} vs ONNX Runtime", $"time {Ratio(o, r.Time)} wall, {Ratio(oc, r.Cpu)} CPU, peak RSS {Ratio(op, r.Peak)}");
        }
        if (torch is { } t && !double.IsNaN(t.Time))
            verdicts.Note($"compare {len} vs PyTorch eager", $"time {Ratio(o, t.Time)} wall, {Ratio(oc, t.Cpu)} CPU, peak RSS {Ratio(op, t.Peak)}");
        if (seconds >= 300 - 1e-9)
            verdicts.Check($"compare {len} DpHubert peak RSS", op <= LongPeakBytes, $"{Bench.F(op / 1e9, "0.00")} GB (target <= {Bench.F(LongPeakBytes / 1e9, "0")} GB, whole, no chunking)");
    }

    private static (double MaxAbs, double MeanFrameCosine) Agreement(string a, string b)
    {
        var x = Npy.Read(a);
        var y = Npy.Read(b);
        if (!x.Shape.SequenceEqual(y.Shape) || x.Data is null || y.Data is null)
            return (double.PositiveInfinity, 0);
        int dim = (int)x.Shape[^1];
        int frames = x.Data.Length / dim;
        double maxAbs = 0, cosSum = 0;
        for (int f = 0; f < frames; f++)
        {
            double dot = 0, nx = 0, ny = 0;
            for (int d = 0; d < dim; d++)
            {
                double p = x.Data[f * dim + d], q = y.Data[f * dim + d];
                dot += p * q;
                nx += p * p;
                ny += q * q;
                maxAbs = Math.Max(maxAbs, Math.Abs(p - q));
            }
            cosSum += dot / Math.Max(Math.Sqrt(nx * ny), 1e-30);
        }
        return (maxAbs, cosSum / Math.Max(frames, 1));
    }

    /// <summary>Runs a command under <c>/usr/bin/time</c>: its wall time and peak RSS (maximum resident set size).</summary>
    private static Measurement Timed(IReadOnlyList<string> command, string dir)
    {
        string report = Path.Combine(dir, "time.txt");
        File.Delete(report);
        var args = new List<string> { "-f", "%e %M %U %S", "-o", report };
        args.AddRange(command);
        var result = Exec("/usr/bin/time", args, null);
        // What the console's --verbose said about its GEMM library (the kernel check's summary line ends with it).
        string? gemm = result.Output.Split('\n').Select(l => l.IndexOf(GemmLinePrefix, StringComparison.Ordinal) is var i and >= 0 ? l[i..].Trim() : null)
            .LastOrDefault(l => l is not null);
        string[] fields = File.Exists(report) ? File.ReadAllLines(report).LastOrDefault()?.Split(' ') ?? Array.Empty<string>() : Array.Empty<string>();
        var v = fields.Select(f => double.TryParse(f, NumberStyles.Float, CultureInfo.InvariantCulture, out var x) ? x : double.NaN).ToArray();
        if (v.Length != 4 || v.Any(double.IsNaN))
            return new Measurement(double.NaN, double.NaN, false, $"no /usr/bin/time report; {result.Error}");
        // The report's last line holds the numbers; a killed process (out of memory) still gets one.
        return new Measurement(v[0], v[1] * 1024, result.Ok, result.Error, v[2] + v[3], gemm);
    }

    private static (bool Ok, string Error, string Output) Exec(string file, IReadOnlyList<string> args, string? workDir)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        if (workDir is not null) psi.WorkingDirectory = workDir;
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        string tail = (stderr.Result + stdout.Result).Trim();
        if (tail.Length > 600) tail = "..." + tail[^600..];
        return p.ExitCode == 0 ? (true, "", stderr.Result) : (false, $"exit code {p.ExitCode}: {tail}", stderr.Result);
    }

    private static string BuildProject(string root, string project, string dll, bool skipBuild)
    {
        string dir = Path.Combine(root, project);
        if (!skipBuild)
        {
            var build = Exec("dotnet", new[] { "build", "-c", "Release", "--nologo", "-v", "q", dir }, root);
            if (!build.Ok)
                throw new InvalidOperationException($"dotnet build {project} failed: {build.Error}");
        }
        var found = Directory.Exists(Path.Combine(dir, "bin", "Release"))
            ? Directory.EnumerateFiles(Path.Combine(dir, "bin", "Release"), dll, SearchOption.AllDirectories).OrderByDescending(File.GetLastWriteTimeUtc).FirstOrDefault()
            : null;
        return found ?? throw new InvalidOperationException($"{dll} not found under {project}/bin/Release (build it with -c Release)");
    }

    private static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "DpHubert.sln")))
                return d.FullName;
        throw new InvalidOperationException("run the benchmark from the repository (DpHubert.sln not found above " + AppContext.BaseDirectory + ")");
    }

    /// <summary>The CPU model and whether it has bf16 units (AVX-512 BF16, AMX), from /proc/cpuinfo.</summary>
    public static string CpuDescription()
    {
        try
        {
            var lines = File.ReadAllLines("/proc/cpuinfo");
            string model = lines.FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown";
            var flags = (lines.FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal))?.Split(':', 2)[1] ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet();
            var bf16 = new[] { "avx512_bf16", "amx_bf16", "amx_tile" }.Where(flags.Contains).ToArray();
            return $"{model}, {Environment.ProcessorCount} logical CPUs; bf16 flags: {(bf16.Length == 0 ? "none" : string.Join(" ", bf16))}";
        }
        catch (IOException)
        {
            return "unknown (no /proc/cpuinfo)";
        }
    }
}
