using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using DpHubert.Audio;
using DpHubert.Extraction;

namespace DpHubert.Bench;

/// <summary>
/// <c>decode</c>: how fast each managed decoder turns a file into samples (one thread: the decoders are sequential),
/// as audio seconds per wall and per CPU second, on speech-like audio encoded by Debian's reference encoders; then a
/// folder of 1,000 short FLAC files against the same files as WAV through <see cref="SpeechEncoder.ExtractFiles"/>
/// on the tiny model (where decoding weighs most), alternating WAV and FLAC rounds.
/// </summary>
internal static class DecodeBench
{
    private const double TargetFlac = 100, TargetLossy = 30, TargetFolderRatio = 1.10;

    private static void Tool(string tool, params string[] args)
    {
        var psi = new ProcessStartInfo(tool) { RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"{tool} did not start");
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{tool} {string.Join(" ", args)}: {err}");
    }

    /// <summary>Speech-like audio at any rate: a gliding harmonic voice with a syllable envelope, a quieter copy on
    /// the second channel.</summary>
    private static float[] Voice(double seconds, int rate, int channels)
    {
        int n = (int)(seconds * rate);
        var rng = new Random(1);
        var x = new float[n * channels];
        double phase = 0;
        for (int i = 0; i < n; i++)
        {
            double t = (double)i / rate;
            phase += 2 * Math.PI * (130 + 40 * Math.Sin(2 * Math.PI * 0.7 * t)) / rate;
            double v = 0;
            for (int h = 1; h <= 10; h++) v += Math.Sin(h * phase) / h;
            v = 0.25 * (0.5 + 0.5 * Math.Sin(2 * Math.PI * 3 * t)) * v + 0.01 * (rng.NextDouble() - 0.5);
            for (int c = 0; c < channels; c++) x[i * channels + c] = (float)(v * (c == 0 ? 1 : 0.7));
        }
        return x;
    }

    public static void Run(BenchOptions o, Verdicts verdicts)
    {
        foreach (var tool in new[] { "flac", "lame", "oggenc" })
        {
            if (!File.Exists(Path.Combine("/usr/bin", tool)))
            {
                verdicts.Check("decode", false, $"{tool} is not installed (tools/setup.sh installs flac, lame, vorbis-tools)");
                return;
            }
        }
        string dir = Path.Combine(Path.GetTempPath(), $"dphubert-decode-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            Speeds(o, verdicts, dir);
            Folder(o, verdicts, dir);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static void Speeds(BenchOptions o, Verdicts verdicts, string dir)
    {
        const double seconds = 60;
        Console.WriteLine($"decode: {seconds:0} s of speech-like audio per file; AudioReader.Read (file read + decode), median of {o.Runs} after {o.Warmup} warm-up");
        Console.WriteLine("  source            format            wall x real time   CPU x real time");
        foreach (var (rate, channels) in new[] { (16000, 1), (44100, 2) })
        {
            string wav = Path.Combine(dir, $"v{rate}.wav");
            WavWriter.WritePcm16(wav, Voice(seconds, rate, channels), rate, channels);
            var files = new List<(string Name, string Path, double Target)> { ("WAV 16-bit", wav, 0) };
            string flac = Path.ChangeExtension(wav, ".flac"), mp3 = Path.ChangeExtension(wav, ".mp3"), ogg = Path.ChangeExtension(wav, ".ogg");
            Tool("flac", "-s", "-f", "-5", "-o", flac, wav);
            Tool("lame", "--quiet", "-b", channels == 1 ? "64" : "128", wav, mp3);
            Tool("oggenc", "-Q", "-q", "4", "-o", ogg, wav);
            files.Add(("FLAC -5", flac, TargetFlac));
            files.Add(($"MP3 {(channels == 1 ? 64 : 128)} kbit/s", mp3, TargetLossy));
            files.Add(("Ogg Vorbis q4", ogg, TargetLossy));
            foreach (var (name, path, target) in files)
            {
                var t = Bench.Time(() => AudioReader.Read(path), o.Warmup, o.Runs);
                double wallX = seconds / Bench.Median(t.Wall), cpuX = seconds / Bench.Median(t.Cpu);
                string source = $"{rate / 1000.0:0.#} kHz x{channels}";
                Console.WriteLine($"  {source,-17} {name,-17} {Bench.F(wallX, "0"),16}   {Bench.F(cpuX, "0"),15}");
                if (target > 0)
                {
                    verdicts.Check($"decode {name}, {source}", cpuX >= target,
                        $"{Bench.F(cpuX, "0")}x real time per CPU second (wall {Bench.F(wallX, "0")}x); target >= {target:0}x");
                }
            }
        }
    }

    private static void Folder(BenchOptions o, Verdicts verdicts, string dir)
    {
        const int count = 1000;
        string wavDir = Path.Combine(dir, "wav"), flacDir = Path.Combine(dir, "flac");
        Directory.CreateDirectory(wavDir);
        Directory.CreateDirectory(flacDir);
        var rng = new Random(3);
        var wavs = new List<string>();
        for (int i = 0; i < count; i++)
        {
            string path = Path.Combine(wavDir, $"{i:D4}.wav");
            WavWriter.WritePcm16(path, Bench.Audio(1 + 2 * rng.NextDouble(), seed: i), 16000);
            wavs.Add(path);
        }
        foreach (var chunk in wavs.Chunk(200))
            Tool("flac", new[] { "-s", "-f", "-5", "--output-prefix=" + flacDir + "/" }.Concat(chunk).ToArray());
        var flacs = wavs.Select(w => Path.Combine(flacDir, Path.ChangeExtension(Path.GetFileName(w), ".flac"))).ToList();

        using var encoder = Bench.BuildEncoder("tiny", o.Threads);
        var options = new ExtractionOptions { BatchSize = 1 };
        (double Wall, double Cpu) Pass(IReadOnlyList<string> paths)
        {
            var t = Bench.Time(() =>
            {
                foreach (var r in encoder.ExtractFiles(paths, LayerSelection.Final, options))
                    if (!r.Succeeded) throw new InvalidOperationException($"{r.Path}: {r.Error!.Message}");
            }, 0, 1);
            return (t.Wall[0], t.Cpu[0]);
        }
        Pass(wavs.Take(50).ToList());
        Pass(flacs.Take(50).ToList());
        int rounds = Math.Max(2, o.Runs);
        var wav = new List<(double Wall, double Cpu)>();
        var fl = new List<(double Wall, double Cpu)>();
        for (int r = 0; r < rounds; r++)
        {
            wav.Add(Pass(wavs));
            fl.Add(Pass(flacs));
        }
        double wallRatio = Bench.Median(fl.Select(x => x.Wall).ToList()) / Bench.Median(wav.Select(x => x.Wall).ToList());
        double cpuRatio = Bench.Median(fl.Select(x => x.Cpu).ToList()) / Bench.Median(wav.Select(x => x.Cpu).ToList());
        Console.WriteLine($"  folder of {count} files (1-3 s, 16 kHz mono), tiny model, {rounds} alternating rounds: " +
                          $"WAV {Bench.F(Bench.Median(wav.Select(x => x.Wall).ToList()))} s wall / {Bench.F(Bench.Median(wav.Select(x => x.Cpu).ToList()))} s CPU, " +
                          $"FLAC {Bench.F(Bench.Median(fl.Select(x => x.Wall).ToList()))} s / {Bench.F(Bench.Median(fl.Select(x => x.Cpu).ToList()))} s");
        verdicts.Check($"decode: folder of {count} FLAC vs the same WAV (ExtractFiles, tiny model)", cpuRatio <= TargetFolderRatio,
            $"FLAC / WAV CPU time {Bench.F(cpuRatio, "0.000")} (wall {Bench.F(wallRatio, "0.000")}); target <= {TargetFolderRatio:0.00}");
    }
}
