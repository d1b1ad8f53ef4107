using System;
using System.Diagnostics;
using System.Globalization;
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
        Console.WriteLine($"  first check in the process: {first.Wall:F0} ms wall, {first.Cpu:F0} ms CPU");
        var runs = Enumerable.Range(0, Math.Max(3, o.Runs)).Select(_ => Once(KernelCheckMode.Force)).ToArray();
        double wall = Median(runs.Select(r => r.Wall)), cpu = Median(runs.Select(r => r.Cpu));
        Console.WriteLine($"  again (force), median of {runs.Length}: {wall:F0} ms wall, {cpu:F0} ms CPU " +
                          $"(each: {string.Join(", ", runs.Select(r => r.Wall.ToString("F0", CultureInfo.InvariantCulture)))} ms)");
        var cached = Once(KernelCheckMode.On);
        Console.WriteLine($"  cached: {cached.Wall:F1} ms");
        if (o.Model == "hubert_base")
            verdicts.Check("kernel check, HuBERT Base", wall <= 100, $"{wall:F0} ms wall ({cpu:F0} ms CPU) per check vs <= 100 ms; first in process {first.Wall:F0} ms");
        else
            verdicts.Note($"kernel check, {o.Model}", $"{wall:F0} ms wall ({cpu:F0} ms CPU); first {first.Wall:F0} ms");
    }

    private static double Median(System.Collections.Generic.IEnumerable<double> xs)
    {
        var s = xs.OrderBy(x => x).ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }
}
