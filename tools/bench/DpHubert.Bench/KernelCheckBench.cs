using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;

namespace DpHubert.Bench;

/// <summary>
/// The kernel self-check's cost on --model (target: at most 100 ms for HuBERT Base). The first check of a process also
/// pays each kernel's first-call setup (oneDNN primitive creation, BLAS thread start) that a first forward pass would
/// otherwise pay; the later ones (<see cref="KernelCheckMode.Force"/>) are the check's own cost, and the target.
/// </summary>
internal static class KernelCheckBench
{
    public static void Run(BenchOptions o, Verdicts verdicts)
    {
        Console.WriteLine($"== kernelcheck: {o.Model}, {o.Threads} threads ==");
        using var model = Bench.BuildModel(o.Model);
        model.eval();
        var process = Process.GetCurrentProcess();
        (double Wall, double Cpu, KernelCheckReport Report) Once(KernelCheckMode mode)
        {
            process.Refresh();
            var cpu0 = process.TotalProcessorTime;
            var sw = Stopwatch.StartNew();
            var report = KernelCheck.Run(model, mode);
            double wall = sw.Elapsed.TotalMilliseconds;
            process.Refresh();
            return (wall, (process.TotalProcessorTime - cpu0).TotalMilliseconds, report);
        }
        var first = Once(KernelCheckMode.On);
        Console.WriteLine($"  {first.Report.Summary}");
        Console.WriteLine($"  (the first check includes the {LinearKernels.EnvironmentVariable}=auto measurement; the later ones reuse its choice)");
        Console.WriteLine($"  first check in the process: {first.Wall:F0} ms wall, {first.Cpu:F0} ms CPU");
        var runs = Enumerable.Range(0, Math.Max(3, o.Runs)).Select(_ => Once(KernelCheckMode.Force)).ToArray();
        double wall = Median(runs.Select(r => r.Wall)), cpu = Median(runs.Select(r => r.Cpu));
        Console.WriteLine($"  again (force), median of {runs.Length}: {wall:F0} ms wall, {cpu:F0} ms CPU " +
                          $"(each: {string.Join(", ", runs.Select(r => r.Wall.ToString("F0", CultureInfo.InvariantCulture)))} ms)");
        var cached = Once(KernelCheckMode.On);
        Console.WriteLine($"  cached: {cached.Wall:F1} ms");
        var (withCheck, recorded, blasForced, without) = FirstFeatures(o);
        static string Each(double[] xs) => string.Join(", ", xs.Select(r => r.ToString("F0", CultureInfo.InvariantCulture)));
        Console.WriteLine($"  first features in a fresh process (model built, 1 s of audio), median of {withCheck.Length} alternating rounds: " +
                          $"check on, auto measuring {Median(withCheck):F0} ms, auto from the machine's record {Median(recorded):F0} ms, " +
                          $"on with {LinearKernels.EnvironmentVariable}=blas {Median(blasForced):F0} ms, off {Median(without):F0} ms; " +
                          $"the check adds {Median(recorded) - Median(without):F0} ms once the choice is recorded ({Median(withCheck) - Median(without):F0} ms " +
                          $"in the first process on a machine, of which the auto GEMM measurement {Median(withCheck) - Median(blasForced):F0} ms) " +
                          $"(measuring: {Each(withCheck)}; recorded: {Each(recorded)}; blas: {Each(blasForced)}; off: {Each(without)})");
        if (o.Model == "hubert_base")
            verdicts.Check("kernel check, HuBERT Base", wall <= 100, $"{wall:F0} ms wall ({cpu:F0} ms CPU) per check vs <= 100 ms; first in process {first.Wall:F0} ms");
        else
            verdicts.Note($"kernel check, {o.Model}", $"{wall:F0} ms wall ({cpu:F0} ms CPU); first {first.Wall:F0} ms");
    }

    /// <summary>The hidden command the parent runs in each child: <c>kernelcheck-child MODEL on|off</c>.</summary>
    public const string ChildCommand = "kernelcheck-child";

    // What a user pays on a first extraction: a fresh process per run, the check on with the GEMM backend measured (an
    // empty cache folder: the first process on a machine), on with the choice read from the machine's record (every
    // later process), on with BLAS forced (no measurement) or off, rotating.
    private static (double[] On, double[] Recorded, double[] BlasForced, double[] Off) FirstFeatures(BenchOptions o)
    {
        int rounds = Math.Max(3, o.Runs);
        var on = new double[rounds];
        var recorded = new double[rounds];
        var blas = new double[rounds];
        var off = new double[rounds];
        string root = Path.Combine(Path.GetTempPath(), $"dphubert-bench-{Environment.ProcessId}-gemm-record");
        string kept = Path.Combine(root, "kept");
        RunChild(o, "on", "auto", kept); // writes the record the "recorded" runs read
        try
        {
            for (int r = 0; r < rounds; r++)
            {
                off[r] = RunChild(o, "off", "auto", kept);
                on[r] = RunChild(o, "on", "auto", Path.Combine(root, $"fresh-{r}"));
                recorded[r] = RunChild(o, "on", "auto", kept);
                blas[r] = RunChild(o, "on", "blas", kept);
            }
        }
        finally
        {
            try
            {
                Directory.Delete(root, recursive: true);
            }
            catch (IOException)
            {
                // A temp folder left behind is harmless.
            }
        }
        return (on, recorded, blas, off);
    }

    private static double RunChild(BenchOptions o, string mode, string linear, string cacheHome)
    {
        var environment = new Dictionary<string, string>
        {
            [KernelCheck.EnvironmentVariable] = mode, [LinearKernels.EnvironmentVariable] = linear, ["XDG_CACHE_HOME"] = cacheHome,
        };
        string output = Bench.RunSelf("kernel-check child failed", environment,
            ChildCommand, o.Model, mode, "--threads", o.Threads.ToString(CultureInfo.InvariantCulture));
        return double.Parse(output.Trim().Split('\n')[^1], CultureInfo.InvariantCulture);
    }

    /// <summary>The child: build the model (untimed), then time the check (per the environment) and a forward of 1 s.</summary>
    public static int ChildMain(string model)
    {
        using var m = Bench.BuildModel(model);
        m.eval();
        using var audio = TorchSharp.torch.randn(1, 16000);
        var sw = Stopwatch.StartNew();
        KernelCheck.Run(m);
        using (TorchSharp.torch.inference_mode())
        {
            var (y, len) = m.forward(audio, null);
            y.Dispose();
            len?.Dispose();
        }
        Console.WriteLine(sw.Elapsed.TotalMilliseconds.ToString("F1", CultureInfo.InvariantCulture));
        return 0;
    }

    private static double Median(System.Collections.Generic.IEnumerable<double> xs)
    {
        var s = xs.OrderBy(x => x).ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }
}
