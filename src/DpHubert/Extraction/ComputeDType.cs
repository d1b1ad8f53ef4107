using System;
using TorchSharp;
using static TorchSharp.torch;

namespace DpHubert.Extraction;

/// <summary>The dtype a <see cref="SpeechEncoder"/> holds its weights and computes in; outputs are float32 whatever it is.</summary>
public enum ComputeDType
{
    /// <summary>float32: exact, matches PyTorch (the default).</summary>
    Float32,

    /// <summary>bfloat16: fast on CPUs with Intel AMX and on CUDA; with AVX-512 BF16 alone it depends on the CPU.</summary>
    BFloat16,

    /// <summary>float16: CUDA only (refused on a CPU, which has no fast float16 kernels).</summary>
    Float16,

    /// <summary>bfloat16 on a CPU whose bf16 kernels are fast, float32 elsewhere (see <see cref="ComputeDTypes.Resolve"/>).</summary>
    Auto,
}

/// <summary>Parsing and resolving <see cref="ComputeDType"/>: the one place the dtype names are read.</summary>
public static class ComputeDTypes
{
    /// <summary>Parses <c>float32</c> / <c>fp32</c>, <c>bfloat16</c> / <c>bf16</c>, <c>float16</c> / <c>fp16</c> /
    /// <c>half</c> or <c>auto</c> (any case, surrounding spaces ignored).</summary>
    /// <param name="name">The dtype name.</param>
    /// <exception cref="ArgumentException">Anything else.</exception>
    public static ComputeDType Parse(string name) => (name ?? "").Trim().ToLowerInvariant() switch
    {
        "float32" or "fp32" => ComputeDType.Float32,
        "float16" or "fp16" or "half" => ComputeDType.Float16,
        "bfloat16" or "bf16" => ComputeDType.BFloat16,
        "auto" => ComputeDType.Auto,
        _ => throw new ArgumentException($"Invalid dtype '{name}': expected float32, bfloat16, auto or (CUDA only) float16.", nameof(name)),
    };

    /// <summary>
    /// The TorchSharp dtype for <paramref name="dtype"/> on <paramref name="device"/>: <see cref="ComputeDType.Auto"/>
    /// picks bfloat16 on a CPU whose bf16 kernels are fast (<see cref="CpuFeatures.BFloat16IsFast"/>: AMX, or AVX-512
    /// BF16 confirmed by a probe) and float32 elsewhere (other CPUs, and CUDA, where the choice is yours); float16 is
    /// refused on a CPU.
    /// </summary>
    /// <param name="dtype">The requested dtype.</param>
    /// <param name="device">Where the model runs.</param>
    /// <param name="cpu">The CPU facts <see cref="ComputeDType.Auto"/> decides on (null: <see cref="CpuFeatures.Current"/>).</param>
    /// <exception cref="UnsupportedDTypeException">float16 on a CPU.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A value outside the enum.</exception>
    public static ScalarType Resolve(this ComputeDType dtype, Device device, CpuFeatures? cpu = null)
    {
        ArgumentNullException.ThrowIfNull(device);
        bool onCpu = device.type == DeviceType.CPU;
        switch (dtype)
        {
            case ComputeDType.Auto:
                return onCpu && (cpu ?? CpuFeatures.Current).BFloat16IsFast ? ScalarType.BFloat16 : ScalarType.Float32;
            case ComputeDType.Float32:
                return ScalarType.Float32;
            case ComputeDType.BFloat16:
                return ScalarType.BFloat16;
            case ComputeDType.Float16 when onCpu:
                var text = new OptionText(
                    $"{ApiOption.DType} float16 is refused on the CPU: CPUs have no fast float16 kernels (it ran about 20x slower than float32). Use float32 (the default, exact), or bfloat16 / auto on a CPU with bf16 units (Intel AMX or AVX-512 BF16); float16 is for CUDA.");
                throw text.Attach(new UnsupportedDTypeException(text.ToString()));
            case ComputeDType.Float16:
                return ScalarType.Float16;
            default:
                throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Not a ComputeDType.");
        }
    }
}
