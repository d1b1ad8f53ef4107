using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using DpHubert.Audio;
using DpHubert.Tests.Support;
using Xunit;

namespace DpHubert.Tests.Audio;

/// <summary>A fact that needs Debian's reference audio tools (tools/setup.sh installs them); skipped, naming what is
/// missing, without them.</summary>
public sealed class AudioToolsFactAttribute : FactAttribute
{
    public AudioToolsFactAttribute(params string[] tools)
    {
        var missing = tools.Where(t => !SoxTheoryAttribute.OnPath(t)).ToArray();
        if (missing.Length > 0) Skip = $"{string.Join(", ", missing)} not installed (tools/setup.sh installs them)";
    }
}

/// <summary>The theory form of <see cref="AudioToolsFactAttribute"/>.</summary>
public sealed class AudioToolsTheoryAttribute : TheoryAttribute
{
    public AudioToolsTheoryAttribute(params string[] tools)
    {
        var missing = tools.Where(t => !SoxTheoryAttribute.OnPath(t)).ToArray();
        if (missing.Length > 0) Skip = $"{string.Join(", ", missing)} not installed (tools/setup.sh installs them)";
    }
}

/// <summary>Runs the reference encoders and decoders, and makes the signals the tests encode.</summary>
internal static class AudioTools
{
    public static void Run(string tool, params string[] args)
    {
        var psi = new ProcessStartInfo(tool) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        string err = p.StandardError.ReadToEnd();
        if (!p.WaitForExit(120_000))
        {
            p.Kill(true);
            throw new TimeoutException($"{tool} {string.Join(" ", args)} did not finish");
        }
        stdout.Wait();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{tool} {string.Join(" ", args)} failed ({p.ExitCode}): {err}");
    }

    /// <summary>Integer PCM test content, interleaved: per channel a different mix of a chirp, tones and noise, with a
    /// stretch of silence and one of DC (constant subframes) and one of full-scale noise (verbatim subframes).</summary>
    public static int[] Pcm(int frames, int channels, int bits, int seed, int rate = 16000)
    {
        var rng = new Random(seed);
        long full = (1L << (bits - 1)) - 1;
        var x = new int[frames * channels];
        for (int c = 0; c < channels; c++)
        {
            double f0 = 150 + 90 * c;
            for (int i = 0; i < frames; i++)
            {
                double t = (double)i / rate;
                int segment = i * 8 / Math.Max(1, frames);
                double v = segment switch
                {
                    1 => 0, // silence
                    3 => 0.25, // DC
                    5 => rng.NextDouble() * 2 - 1, // full-scale noise
                    _ => 0.45 * Math.Sin(2 * Math.PI * (f0 + 400 * t) * t) + 0.2 * Math.Sin(2 * Math.PI * 1234 * t + c) + 0.02 * (rng.NextDouble() - 0.5),
                };
                x[i * channels + c] = (int)Math.Clamp(Math.Round(v * full), -full - 1, full);
            }
        }
        return x;
    }

    public static byte[] PcmWav(int[] interleaved, int channels, int bits, int rate) =>
        WavBytes.Wav(WavBytes.Fmt(WavBytes.Pcm, channels, rate, bits), WavBytes.Ints(interleaved, bits / 8));

    /// <summary>Speech-like float audio (a gliding harmonic tone with a syllable envelope) for the lossy codecs.</summary>
    public static float[] Voice(int frames, int channels, int rate, int seed)
    {
        var rng = new Random(seed);
        var x = new float[frames * channels];
        double phase = 0;
        for (int i = 0; i < frames; i++)
        {
            double t = (double)i / rate;
            double f = 140 + 40 * Math.Sin(2 * Math.PI * 1.3 * t);
            phase += 2 * Math.PI * f / rate;
            double env = 0.5 + 0.5 * Math.Sin(2 * Math.PI * 3 * t);
            double v = 0;
            for (int h = 1; h <= 12; h++) v += Math.Sin(h * phase) / h;
            v = 0.25 * env * v + 0.01 * (rng.NextDouble() - 0.5);
            for (int c = 0; c < channels; c++) x[i * channels + c] = (float)(v * (c == 0 ? 1 : 0.8));
        }
        return x;
    }

    /// <summary>Signal-to-noise ratio in dB of <paramref name="actual"/> against <paramref name="reference"/>.</summary>
    public static double Snr(float[] actual, float[] reference)
    {
        if (actual.Length != reference.Length) throw new ArgumentException($"lengths differ: {actual.Length} vs {reference.Length}");
        double e = 0, s = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            double d = actual[i] - reference[i];
            e += d * d;
            s += (double)reference[i] * reference[i];
        }
        return 10 * Math.Log10(s / Math.Max(e, 1e-30));
    }

    public static string Temp(string name) => Path.Combine(TestFiles.TempDir(), name);

    public static void WriteWav(string path, int[] pcm, int channels, int bits, int rate) => File.WriteAllBytes(path, PcmWav(pcm, channels, bits, rate));
}
