using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using static TorchSharp.torch;

namespace DpHubert.Extraction;

/// <summary>What the CPU offers for reduced-precision math, as far as <c>--dtype auto</c> needs to know: its feature
/// flags (from <c>/proc/cpuinfo</c> on Linux) and, where the flags do not settle it, a measured bf16-against-fp32 probe.</summary>
/// <remarks>AMX settles it (bf16 matmul about 4x float32). AVX-512 BF16 alone does not: on one AMD EPYC it gave about
/// 2.25x float32 matmul speed, on an Intel Xeon without AMX 0.6x (the whole model 0.62x), so there the probe decides.
/// No bf16 flag settles it the other way (bf16 ran 37x slower than float32 on such a CPU), without measuring.</remarks>
/// <param name="Flags">The CPU's feature flags (lower case, e.g. <c>avx512_bf16</c>, <c>amx_bf16</c>), or null when
/// they cannot be read on this system.</param>
/// <param name="BFloat16Probe">Measures whether bf16 beats fp32 here; consulted only when the flags do not settle it
/// (unknown flags, or AVX-512 BF16 without AMX; null: <see cref="MeasureBFloat16Faster"/>, once per process).</param>
public sealed record CpuFeatures(IReadOnlySet<string>? Flags, Func<bool>? BFloat16Probe = null)
{
    private static readonly Lazy<CpuFeatures> current = new(Detect);
    private static readonly Lazy<bool> measured = new(MeasureBFloat16Faster);

    /// <summary>This machine's CPU (read once).</summary>
    public static CpuFeatures Current => current.Value;

    /// <summary>Whether the flags show bf16 units (Intel AMX-BF16 or AVX-512 BF16), or null when the flags are unknown.</summary>
    public bool? HasBFloat16Units => Flags is null ? null : Flags.Contains("amx_bf16") || Flags.Contains("avx512_bf16");

    /// <summary>Whether the flags show Intel AMX-BF16 tiles, or null when the flags are unknown.</summary>
    public bool? HasAmx => Flags?.Contains("amx_bf16");

    /// <summary>Whether bfloat16 kernels beat float32 here: true with AMX, false without any bf16 flag, and the probe's
    /// answer otherwise (AVX-512 BF16 alone, or flags that cannot be read).</summary>
    public bool BFloat16IsFast => HasAmx == true || (HasBFloat16Units != false && (BFloat16Probe ?? (() => measured.Value))());

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

    /// <summary>The most bf16 may take, as a fraction of float32's time on the probe, to be chosen: norms, casts and
    /// the waveform statistics do not speed up, so the kernels must win clearly for the whole pass to.</summary>
    public const double BFloat16ProbeMaxTimeRatio = 0.8;

    /// <summary>The least cosine similarity, bfloat16 against float32, of the probe's outputs for bfloat16 to be chosen:
    /// a fast kernel that gives wrong values must not win.</summary>
    public const double BFloat16ProbeMinCosine = 0.999;

    /// <summary>Times the two kernels that take most of a pass, a 768 x 3072 linear layer over 400 frames and a 512-channel
    /// kernel-3 stride-2 convolution over 4,000 steps as the feature extractor computes it (the GEMM path, channels-last), in bfloat16 and in float32 (best of 3 after a warm-up: about 0.2 s on a CPU
    /// with AVX-512 BF16), and returns whether bfloat16 took at most <see cref="BFloat16ProbeMaxTimeRatio"/> of the time
    /// with results that agree with float32's (<see cref="BFloat16ProbeMinCosine"/>).</summary>
    public static bool MeasureBFloat16Faster() => ProbeBFloat16().BFloat16Chosen;

    /// <summary>What <see cref="MeasureBFloat16Faster"/> measures: the best time of each dtype and the least cosine
    /// similarity of the bfloat16 outputs to the float32 ones.</summary>
    internal static BFloat16Probe ProbeBFloat16()
    {
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        // Its own generator: a caller who seeded torch gets the same random numbers whether or not auto probed.
        using var gen = new TorchSharp.torch.Generator(0x5eed);
        var frames = randn(new long[] { 1, 400, 768 }, generator: gen);
        var weight = randn(new long[] { 3072, 768 }, generator: gen);
        var steps = randn(new long[] { 1, 4000, 512 }, generator: gen);
        var kernel = randn(new long[] { 512, 512, 3 }, generator: gen);
        var (f32, f32Out) = Best(frames, weight, steps, kernel);
        var (bf16, bf16Out) = Best(frames.to(ScalarType.BFloat16), weight.to(ScalarType.BFloat16), steps.to(ScalarType.BFloat16), kernel.to(ScalarType.BFloat16));
        double cosine = Math.Min(Cosine(f32Out.Linear, bf16Out.Linear), Cosine(f32Out.Conv, bf16Out.Conv));
        return new BFloat16Probe(f32, bf16, cosine);

        static (double Seconds, (Tensor Linear, Tensor Conv) Outputs) Best(Tensor x, Tensor w, Tensor s, Tensor k)
        {
            double best = double.MaxValue;
            (Tensor, Tensor) last = default;
            for (int i = 0; i < 4; i++)
            {
                var sw = Stopwatch.StartNew();
                var a = nn.functional.linear(x, w);
                var b = DpHubert.Modules.GemmConvolution.Conv(s, k, null, 2);
                using (var sa = a.sum())
                using (var sb = b.sum())
                    _ = sa.to(ScalarType.Float32).item<float>() + sb.to(ScalarType.Float32).item<float>();  // forces the results
                if (i > 0) best = Math.Min(best, sw.Elapsed.TotalSeconds);
                last = (a, b);
            }
            return (best, last);
        }

        static double Cosine(Tensor reference, Tensor other)
        {
            using var a = reference.to(ScalarType.Float64).flatten();
            using var b = other.to(ScalarType.Float64).flatten();
            using var dot = a.dot(b);
            using var na = a.norm();
            using var nb = b.norm();
            return dot.item<double>() / Math.Max(double.Epsilon, na.item<double>() * nb.item<double>());
        }
    }
}

/// <summary>What the bfloat16 probe measured.</summary>
/// <param name="Float32Seconds">Best time of the probe's kernels in float32.</param>
/// <param name="BFloat16Seconds">Best time of the same kernels in bfloat16.</param>
/// <param name="Cosine">The least cosine similarity of a bfloat16 output to its float32 counterpart.</param>
internal readonly record struct BFloat16Probe(double Float32Seconds, double BFloat16Seconds, double Cosine)
{
    /// <summary>Whether bfloat16 wins: right (<see cref="CpuFeatures.BFloat16ProbeMinCosine"/>) and fast
    /// (<see cref="CpuFeatures.BFloat16ProbeMaxTimeRatio"/>).</summary>
    public bool BFloat16Chosen => Cosine >= CpuFeatures.BFloat16ProbeMinCosine
                                  && BFloat16Seconds <= CpuFeatures.BFloat16ProbeMaxTimeRatio * Float32Seconds;
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
