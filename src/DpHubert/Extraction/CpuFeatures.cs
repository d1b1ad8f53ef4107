using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using static TorchSharp.torch;

namespace DpHubert.Extraction;

/// <summary>What the CPU offers for reduced-precision math, as far as <c>--dtype auto</c> needs to know: its feature
/// flags (from <c>/proc/cpuinfo</c> on Linux), or, where there are none, a measured bf16-against-fp32 matmul probe.</summary>
/// <param name="Flags">The CPU's feature flags (lower case, e.g. <c>avx512_bf16</c>, <c>amx_bf16</c>), or null when
/// they cannot be read on this system.</param>
/// <param name="BFloat16Probe">Measures whether bf16 matmul is faster than fp32 here; consulted only when
/// <paramref name="Flags"/> is null (null: <see cref="MeasureBFloat16Faster"/>).</param>
public sealed record CpuFeatures(IReadOnlySet<string>? Flags, Func<bool>? BFloat16Probe = null)
{
    private static readonly Lazy<CpuFeatures> current = new(Detect);

    /// <summary>This machine's CPU (read once).</summary>
    public static CpuFeatures Current => current.Value;

    /// <summary>Whether the flags show bf16 units (Intel AMX-BF16 or AVX-512 BF16), or null when the flags are unknown.</summary>
    public bool? HasBFloat16Units => Flags is null ? null : Flags.Contains("amx_bf16") || Flags.Contains("avx512_bf16");

    /// <summary>Whether bfloat16 kernels beat float32 here: the flags when known, else the probe.</summary>
    public bool BFloat16IsFast => HasBFloat16Units ?? (BFloat16Probe ?? MeasureBFloat16Faster)();

    /// <summary>The flags of the first <c>flags</c> line of <c>/proc/cpuinfo</c> text (x86 Linux).</summary>
    /// <param name="cpuinfo">The file's text.</param>
    /// <returns>The features, with null flags when the text has no <c>flags</c> line.</returns>
    public static CpuFeatures FromCpuInfo(string cpuinfo)
    {
        ArgumentNullException.ThrowIfNull(cpuinfo);
        foreach (var line in cpuinfo.Split('\n'))
        {
            int colon = line.IndexOf(':');
            if (colon > 0 && line[..colon].Trim() is "flags" or "Features")
                return new CpuFeatures(line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries)
                    .Select(f => f.ToLowerInvariant()).ToHashSet());
        }
        return new CpuFeatures((IReadOnlySet<string>?)null);
    }

    private static CpuFeatures Detect()
    {
        try
        {
            if (OperatingSystem.IsLinux() && File.Exists("/proc/cpuinfo")) return FromCpuInfo(File.ReadAllText("/proc/cpuinfo"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
        return new CpuFeatures((IReadOnlySet<string>?)null);
    }

    /// <summary>Times a 512 x 512 matmul in bfloat16 and in float32 (best of 3 after a warm-up, a few ms on a CPU with
    /// bf16 units, well under a second on one without) and returns whether bfloat16 was faster.</summary>
    public static bool MeasureBFloat16Faster()
    {
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        var a = randn(512, 512);
        var b = randn(512, 512);
        double f32 = Best(a, b), bf16 = Best(a.to(ScalarType.BFloat16), b.to(ScalarType.BFloat16));
        return bf16 < f32;

        static double Best(Tensor x, Tensor y)
        {
            double best = double.MaxValue;
            for (int i = 0; i < 4; i++)
            {
                var sw = Stopwatch.StartNew();
                using (var r = x.matmul(y)) _ = r.sum().item<float>();
                if (i > 0) best = Math.Min(best, sw.Elapsed.TotalSeconds);
            }
            return best;
        }
    }
}

/// <summary>A compute dtype that cannot be used on the chosen device; the message says why and what to use instead.</summary>
public sealed class UnsupportedDTypeException : ArgumentException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">Why, and what to use.</param>
    public UnsupportedDTypeException(string message) : base(message)
    {
    }
}
