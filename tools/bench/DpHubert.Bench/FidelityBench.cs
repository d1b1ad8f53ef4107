using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using DpHubert.Audio;
using DpHubert.Extraction;
using DpHubert.Streaming;

namespace DpHubert.Bench;

/// <summary>
/// <c>fidelity</c>: how far window-mode streamed features are from whole-file features, per layer: mean and
/// 5th-percentile per-frame cosine, mean and 95th-percentile per-frame relative error (|a − b| / |b|), for left contexts
/// of 0.5–4 s and lookaheads of 0–10 frames (block 0.25 s), on real speech: espeak-ng sentences (22.05 kHz, streamed at
/// that rate) and alsa-utils' recordings (48 kHz). <c>--checkpoint F</c> measures a real checkpoint; without it, the
/// <c>--model</c> preset (or <c>sp075</c>) with random weights, whose figures say how the architecture's receptive
/// field meets the window, not what a trained model does.
/// </summary>
internal static class FidelityBench
{
    private static readonly double[] Contexts = { 0.5, 1, 2, 4 };
    private static readonly int[] Lookaheads = { 0, 5, 10 };

    private static readonly string[] Sentences =
    {
        "The quick brown fox jumps over the lazy dog while the band plays on.",
        "Streaming speech features must match what the whole recording gives.",
        "Please call Stella and ask her to bring these things with her from the store.",
    };

    public static void Run(BenchOptions o, Verdicts verdicts)
    {
        using var encoder = o.Checkpoint is { } path
            ? SpeechEncoder.Load(path, new SpeechEncoderOptions { Threads = o.Threads })
            : StreamBench.Encoder(Bench.ConfigFor(o.Model), ComputeDType.Float32, o.Threads);
        string what = o.Checkpoint ?? $"{o.Model} with RANDOM weights";
        var recordings = Recordings();
        Console.WriteLine($"fidelity: {what}; {recordings.Count} recordings, {recordings.Sum(r => r.Samples.Length / (double)r.Rate):0.0} s of speech; block 0.25 s");
        int layers = encoder.Model.NumLayers + 1;
        var whole = recordings.Select(r => encoder.Extract(r.Samples, r.Rate, LayerSelection.AllLayers)).ToArray();
        var rows = new List<(double Context, int Lookahead, double[] MeanCos, double[] P5Cos, double[] MeanRel, double[] P95Rel)>();
        var clock = Stopwatch.StartNew();
        foreach (double context in Contexts)
            foreach (int lookahead in Lookaheads)
            {
                var cos = Enumerable.Range(0, layers).Select(_ => new List<double>()).ToArray();
                var rel = Enumerable.Range(0, layers).Select(_ => new List<double>()).ToArray();
                var options = new StreamOptions { BlockSeconds = 0.25, ContextSeconds = context, LookaheadFrames = lookahead, Layers = LayerSelection.AllLayers };
                for (int i = 0; i < recordings.Count; i++)
                {
                    var (samples, rate, _) = recordings[i];
                    using var stream = encoder.OpenStream(options);
                    int block = (int)Math.Round(0.25 * rate);
                    var parts = new List<StreamFrames>();
                    for (int at = 0; at < samples.Length; at += block)
                        parts.Add(stream.Push(samples.AsSpan(at, Math.Min(block, samples.Length - at)), rate));
                    parts.Add(stream.Flush());
                    var reference = whole[i];
                    int dim = (int)reference.Dim, frames = (int)reference.Frames;
                    foreach (var p in parts)
                        for (int f = 0; f < p.Count; f++)
                            for (int l = 0; l < layers; l++)
                            {
                                var a = p.Features.Data.AsSpan((l * p.Count + f) * dim, dim);
                                var b = reference.Data.AsSpan((int)((l * (long)frames + p.FirstFrame + f) * dim), dim);
                                double ab = 0, aa = 0, bb = 0, dd = 0;
                                for (int d = 0; d < dim; d++)
                                {
                                    ab += a[d] * (double)b[d];
                                    aa += a[d] * (double)a[d];
                                    bb += b[d] * (double)b[d];
                                    dd += (a[d] - (double)b[d]) * (a[d] - (double)b[d]);
                                }
                                cos[l].Add(ab / Math.Sqrt(aa * bb + 1e-30));
                                rel[l].Add(Math.Sqrt(dd / (bb + 1e-30)));
                            }
                }
                foreach (var c in cos) c.Sort();
                foreach (var r in rel) r.Sort();
                rows.Add((context, lookahead, cos.Select(c => c.Average()).ToArray(), cos.Select(c => c[(int)(0.05 * (c.Count - 1))]).ToArray(),
                    rel.Select(r => r.Average()).ToArray(), rel.Select(r => r[(int)(0.95 * (r.Count - 1))]).ToArray()));
                Console.WriteLine($"  context {context} s, lookahead {lookahead}: done ({clock.Elapsed.TotalSeconds:0} s)");
            }

        int last = layers - 1, mid = layers / 2;
        Console.WriteLine();
        Console.WriteLine($"Summary ({what}): layer {mid} and the last layer ({last}); cos = per-frame cosine, rel = per-frame relative error");
        Console.WriteLine($"| context | lookahead | L{mid} mean cos | L{mid} p5 cos | L{last} mean cos | L{last} p5 cos | L{last} mean rel | L{last} p95 rel |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        foreach (var r in rows)
            Console.WriteLine($"| {r.Context:0.#} s | {r.Lookahead} | {r.MeanCos[mid]:0.0000} | {r.P5Cos[mid]:0.0000} | {r.MeanCos[last]:0.0000} | {r.P5Cos[last]:0.0000} | {r.MeanRel[last]:0.000} | {r.P95Rel[last]:0.000} |");
        Console.WriteLine();
        Console.WriteLine("Every layer:");
        Console.WriteLine("| context | lookahead | layer | mean cos | p5 cos | mean rel | p95 rel |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        foreach (var r in rows)
            for (int l = 0; l < layers; l++)
                Console.WriteLine($"| {r.Context:0.#} s | {r.Lookahead} | {l} | {r.MeanCos[l]:0.0000} | {r.P5Cos[l]:0.0000} | {r.MeanRel[l]:0.000} | {r.P95Rel[l]:0.000} |");
        verdicts.Note("fidelity", $"{what}: last layer mean cosine {rows.Min(r => r.MeanCos[last]):0.0000}..{rows.Max(r => r.MeanCos[last]):0.0000} over the grid");
    }

    /// <summary>espeak-ng sentences (when installed; tools/setup.sh installs it) and alsa-utils' recordings.</summary>
    private static List<(float[] Samples, int Rate, string Name)> Recordings()
    {
        var list = new List<(float[], int, string)>();
        string dir = Path.Combine(Path.GetTempPath(), $"dphubert-fidelity-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        try
        {
            for (int i = 0; i < Sentences.Length; i++)
            {
                string wav = Path.Combine(dir, $"s{i}.wav");
                try
                {
                    var psi = new ProcessStartInfo("espeak-ng") { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
                    foreach (var a in new[] { "-w", wav, Sentences[i] }) psi.ArgumentList.Add(a);
                    using var p = Process.Start(psi)!;
                    p.WaitForExit();
                    if (p.ExitCode != 0 || !File.Exists(wav)) continue;
                }
                catch (System.ComponentModel.Win32Exception)
                {
                    Console.WriteLine("  (espeak-ng not installed: alsa-utils recordings only)");
                    break;
                }
                var clip = WavReader.Read(wav);
                list.Add((AudioPreprocessor.ToMono(clip), clip.SampleRate, $"espeak-ng {i}"));
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
        foreach (var f in new[] { "Front_Center.wav", "Front_Left.wav", "Rear_Right.wav", "Side_Left.wav" })
        {
            string path = Path.Combine("/usr/share/sounds/alsa", f);
            if (!File.Exists(path)) continue;
            var clip = WavReader.Read(path);
            list.Add((AudioPreprocessor.ToMono(clip), clip.SampleRate, f));
        }
        if (list.Count == 0) throw new InvalidOperationException("no speech: install espeak-ng or alsa-utils (tools/setup.sh)");
        return list;
    }
}
