using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using DpHubert.Audio;
using DpHubert.Checkpoints;

namespace DpHubert.Bench;

/// <summary>
/// Corpus throughput of the <c>dphubert extract</c> console: N shard processes of 1 thread each (<c>--shard K/N</c>)
/// against one process of 1 thread and one process of N threads over the same corpus of 2–10 s clips, the three
/// alternating round by round so that changes in machine load hit each of them alike. Whole commands are timed
/// (start-up and model load included), since that is what a job array pays.
/// </summary>
internal static class ShardsBench
{
    /// <summary>N shard processes together reach at least this fraction of N × one 1-thread process's throughput.</summary>
    public const double TargetScaling = 0.9;

    public static void Run(BenchOptions o, Verdicts verdicts)
    {
        int n = o.Shards;
        string console = LocateConsole(o);
        string dir = Path.Combine(Path.GetTempPath(), $"dphubert-bench-{Environment.ProcessId}", "shards");
        string corpus = Path.Combine(dir, "corpus");
        double audio = WriteCorpus(corpus, o.Clips);
        string checkpoint = Path.Combine(dir, $"{o.Model}.safetensors");
        using (var model = Bench.BuildModel(o.Model))
            CheckpointWriter.SaveSafeTensors(checkpoint, model.Config, model.state_dict());
        Console.WriteLine($"== shards: {o.Model} (random weights), {o.Clips} clips of 2-10 s ({Bench.F(audio, "0.0")} s of 48 kHz speech), " +
                          $"N = {n}, {o.ShardRounds} alternating rounds, console {console} ==");

        var configs = new (string Name, Func<string, string[][]> Commands)[]
        {
            ("1 process x 1 thread", outDir => new[] { Args(checkpoint, corpus, outDir, 1) }),
            ($"{n} processes x 1 thread (--shard K/{n})", outDir => Enumerable.Range(0, n)
                .Select(k => Args(checkpoint, corpus, outDir, 1, "--shard", $"{k}/{n}")).ToArray()),
            ($"1 process x {n} threads", outDir => new[] { Args(checkpoint, corpus, outDir, n) }),
        };
        var wall = configs.Select(_ => new List<double>()).ToArray();
        var rates = configs.Select(_ => new List<double>()).ToArray();
        for (int round = 0; round < o.ShardRounds; round++)
        {
            for (int j = 0; j < configs.Length; j++)
            {
                int c = (j + round) % configs.Length; // rotate the order so that no configuration always runs first
                string outDir = Path.Combine(dir, $"out{c}");
                if (Directory.Exists(outDir)) Directory.Delete(outDir, recursive: true);
                string load = LoadAverage();
                var (seconds, rate) = RunAll(console, configs[c].Commands(outDir));
                wall[c].Add(seconds);
                rates[c].Add(rate);
                Console.WriteLine($"  round {round + 1}: {configs[c].Name,-36} {Bench.F(seconds, "0.0"),6} s wall = {Bench.F(audio / seconds, "0.00")}x real time; " +
                                  $"extraction {Bench.F(rate, "0.00")}x real time (load average before: {load})");
            }
        }
        SameOutputs(Path.Combine(dir, "out0"), Path.Combine(dir, "out1"));
        SameOutputs(Path.Combine(dir, "out0"), Path.Combine(dir, "out2"));

        var throughput = wall.Select(w => audio / Bench.Median(w)).ToArray();
        var extraction = rates.Select(Bench.Median).ToArray();
        for (int c = 0; c < configs.Length; c++)
            verdicts.Note($"shards {configs[c].Name}", $"extraction {Bench.F(extraction[c])}x real time; whole commands {Bench.F(throughput[c])}x " +
                                                       $"(median wall {Bench.F(Bench.Median(wall[c]), "0.0")} s; {Bench.Spread(wall[c].ToArray())})");
        // The target is on extraction throughput: per-process start-up (runtime, libtorch, model load) is paid once
        // per shard and vanishes on a real corpus, but is a large share of a corpus small enough to benchmark.
        double scaling = extraction[1] / (n * extraction[0]);
        verdicts.Check($"shards: {n} x 1-thread processes vs {n} x one 1-thread process (extraction)", scaling >= TargetScaling,
            $"{Bench.F(scaling)} of linear (target >= {Bench.F(TargetScaling)})");
        verdicts.Note($"shards: whole commands, {n} x 1-thread processes vs {n} x one 1-thread process", $"{Bench.F(throughput[1] / (n * throughput[0]))} of linear");
        verdicts.Note($"shards: {n} x 1-thread processes vs 1 process x {n} threads", $"extraction {Bench.F(extraction[1] / extraction[2])}x, whole commands {Bench.F(throughput[1] / throughput[2])}x");
    }

    private static string[] Args(string checkpoint, string input, string output, int threads, params string[] more) =>
        new[] { "extract", "--checkpoint", checkpoint, "--input", input, "--output", output, "--threads", threads.ToString(System.Globalization.CultureInfo.InvariantCulture) }
            .Concat(more).ToArray();

    /// <summary>Starts every command at once; returns the wall-clock seconds until the last one ends and the summed
    /// extraction rate of the processes (audio seconds per second from each one's summary line, which times
    /// extraction only: start-up and model load excluded).</summary>
    private static (double Wall, double Rate) RunAll(string console, string[][] commands)
    {
        var clock = Stopwatch.StartNew();
        var processes = commands.Select(args =>
        {
            var psi = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
            psi.ArgumentList.Add(console);
            foreach (var a in args) psi.ArgumentList.Add(a);
            var p = Process.Start(psi)!;
            return (Process: p, Err: p.StandardError.ReadToEndAsync(), Out: p.StandardOutput.ReadToEndAsync());
        }).ToList();
        double rate = 0;
        foreach (var (p, err, stdout) in processes)
        {
            p.WaitForExit();
            if (p.ExitCode != 0)
                throw new InvalidOperationException($"dphubert exited with {p.ExitCode}: {err.Result}");
            p.Dispose();
            var m = System.Text.RegularExpressions.Regex.Match(stdout.Result, @"([0-9.]+) s of audio in ([0-9.]+) s");
            if (!m.Success) throw new InvalidOperationException($"no summary line in the console's output: {stdout.Result}");
            rate += double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)
                    / double.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
        }
        return (clock.Elapsed.TotalSeconds, rate);
    }

    /// <summary>Clips of 2, 3, ..., 10 s (cycling) of real speech: the alsa-utils recordings at 48 kHz, one after
    /// another; a synthetic signal where alsa-utils is missing. Returns the total duration.</summary>
    private static double WriteCorpus(string dir, int clips)
    {
        Directory.CreateDirectory(dir);
        var sources = Directory.Exists("/usr/share/sounds/alsa")
            ? Directory.GetFiles("/usr/share/sounds/alsa", "*.wav").Order(StringComparer.Ordinal).Select(WavReader.Read).ToList()
            : new List<AudioClip>();
        var speech = sources.Count > 0 && sources.All(s => s.SampleRate == 48000)
            ? sources.SelectMany(AudioPreprocessor.ToMono).ToArray()
            : null;
        int rate = speech is null ? Bench.SampleRate : 48000;
        double total = 0;
        for (int i = 0; i < clips; i++)
        {
            double seconds = 2 + i % 9;
            int length = (int)(seconds * rate);
            var samples = speech is null
                ? Bench.Audio(seconds, seed: i)
                : Enumerable.Range(0, length).Select(t => speech[(t + i * 7919) % speech.Length]).ToArray();
            string path = Path.Combine(dir, $"spk{i % 4}", $"clip{i:D3}.wav");
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            WavWriter.WritePcm16(path, samples, rate);
            total += seconds;
        }
        return total;
    }

    private static void SameOutputs(string expected, string actual)
    {
        foreach (var f in Directory.EnumerateFiles(expected, "*.npy", SearchOption.AllDirectories))
        {
            string other = Path.Combine(actual, Path.GetRelativePath(expected, f));
            if (!File.ReadAllBytes(f).AsSpan().SequenceEqual(File.ReadAllBytes(other)))
            {
                // Thread counts may change libtorch's reduction order; report rather than fail on tiny differences.
                var a = DpHubert.IO.Npy.Read(f).Data!;
                var b = DpHubert.IO.Npy.Read(other).Data!;
                double max = a.Zip(b, (x, y) => (double)Math.Abs(x - y)).Max();
                if (max > 1e-4) throw new InvalidOperationException($"{other} differs from {f} by {max}");
            }
        }
    }

    private static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "n/a";
        }
    }

    /// <summary>The built console: --console, else samples/DpHubert.FeatureExtraction/bin/Release (then any
    /// configuration) above this benchmark's folder.</summary>
    private static string LocateConsole(BenchOptions o)
    {
        if (o.Console is { } given) return File.Exists(given) ? given : throw new FileNotFoundException($"--console '{given}' does not exist", given);
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            string bin = Path.Combine(d.FullName, "samples", "DpHubert.FeatureExtraction", "bin");
            if (!Directory.Exists(bin)) continue;
            var found = Directory.EnumerateFiles(bin, "dphubert.dll", SearchOption.AllDirectories)
                .OrderByDescending(f => f.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
                .ThenByDescending(File.GetLastWriteTimeUtc).FirstOrDefault();
            if (found is not null) return found;
        }
        throw new FileNotFoundException("the dphubert console is not built; run dotnet build samples/DpHubert.FeatureExtraction -c Release, or pass --console");
    }
}
