using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using DpHubert.Audio;
using DpHubert.Extraction;
using DpHubert.Streaming;

namespace DpHubert.Tests.Streaming;

/// <summary>A real recording and what a stream must give for it, computed the slow way: every window re-encoded whole
/// with <see cref="SpeechEncoder.Extract(float[], LayerSelection)"/>.</summary>
internal static class StreamReference
{
    private static readonly string[] AlsaFiles = { "Front_Center.wav", "Front_Left.wav", "Rear_Right.wav" };

    /// <summary>alsa-utils' speech recordings (tools/setup.sh installs them) back to back: about 4.4 s of 48 kHz mono
    /// speech, so a 2.5 s context fills and then slides.</summary>
    public static float[] Speech48k()
    {
        var parts = AlsaFiles.Select(f => WavReader.Read(Path.Combine("/usr/share/sounds/alsa", f))).ToArray();
        if (parts.Any(p => p.SampleRate != 48000)) throw new InvalidOperationException("alsa-utils recordings are expected at 48 kHz");
        return parts.SelectMany(AudioPreprocessor.ToMono).ToArray();
    }

    /// <summary>The stream's frames (frame-major for every layer: [frames, layers + 1, dim]) for 16 kHz samples <paramref name="x16"/> (units padding already applied), by the
    /// stated semantics: after each block boundary b the final frames not yet returned, each computed on the window
    /// [s, b); at the end the remaining complete frames on the window ending at the end.</summary>
    public static float[] WindowFrames(SpeechEncoder encoder, float[] x16, StreamOptions options, out long frames)
    {
        const int hop = 320;
        int field = encoder.MinimumSamples;
        long FramesIn(long e) => e < field ? 0 : (e - field) / hop + 1;
        long next = 0;
        var output = new List<float>();
        void Window(long e, long end)
        {
            if (end <= next) return;
            long s = Math.Min(Math.Max(0, e - options.BlockSamples - options.ContextSamples) / hop * hop, next * hop);
            var f = encoder.Extract(x16[(int)s..(int)e], options.Layers);
            long skip = next - s / hop, lead = f.Shape.Length == 3 ? f.Shape[0] : 1;
            for (long k = skip; k < skip + end - next; k++) // frame-major: [frames, layers, dim] for every layer
                for (long l = 0; l < lead; l++)
                    output.AddRange(f.Data.AsSpan((int)((l * f.Frames + k) * f.Dim), (int)f.Dim).ToArray());
            next = end;
        }
        for (long b = options.BlockSamples; b <= x16.Length; b += options.BlockSamples)
            Window(b, FramesIn(b - (long)options.LookaheadFrames * hop));
        Window(x16.Length, FramesIn(x16.Length));
        frames = next;
        return output.ToArray();
    }

    /// <summary>Pushes <paramref name="input"/> in pieces of <paramref name="pieceSamples"/> and flushes, checking that
    /// every result continues the previous one; returns the frames concatenated.</summary>
    public static float[] Stream(SpeechStream stream, float[] input, int rate, int pieceSamples, out long frames)
    {
        var output = new List<float>();
        long expectedFirst = 0;
        void Take(StreamFrames r)
        {
            if (r.FirstFrame != expectedFirst) throw new InvalidOperationException($"frames start at {r.FirstFrame}, expected {expectedFirst}");
            expectedFirst = r.EndFrame;
            output.AddRange(r.Features.Data);
        }
        for (int at = 0; at < input.Length; at += pieceSamples)
            Take(stream.Push(input.AsSpan(at, Math.Min(pieceSamples, input.Length - at)), rate));
        Take(stream.Flush());
        frames = expectedFirst;
        return output.ToArray();
    }

    public static double MaxAbsDiff(float[] a, float[] b)
    {
        if (a.Length != b.Length) throw new InvalidOperationException($"lengths differ: {a.Length} vs {b.Length}");
        double m = 0;
        for (int i = 0; i < a.Length; i++) m = Math.Max(m, Math.Abs((double)a[i] - b[i]));
        return m;
    }
}
