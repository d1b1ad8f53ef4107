using System;
using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace DpHubert.Extraction;

/// <summary>Parses device and dtype names with errors that name the value.</summary>
public static class Devices
{
    /// <summary>Parses <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c> and checks that the device exists.</summary>
    /// <param name="name">The device name.</param>
    /// <exception cref="ArgumentException">Unknown name, or CUDA not available / index out of range.</exception>
    public static Device Parse(string name)
    {
        var text = (name ?? "").Trim().ToLowerInvariant();
        if (text == "cpu") return CPU;
        if (text == "cuda" || text.StartsWith("cuda:", StringComparison.Ordinal))
        {
            int index = 0;
            if (text.Length > 4 && !int.TryParse(text.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out index))
                throw new ArgumentException($"Invalid device '{name}': expected cpu, cuda or cuda:N.", nameof(name));
            if (!cuda.is_available())
                throw new ArgumentException($"Device '{name}' requested but CUDA is not available (is a TorchSharp-cuda runtime package referenced, and is a GPU present?).", nameof(name));
            int count = cuda.device_count();
            if (index >= count)
                throw new ArgumentException($"Device '{name}' requested but only {count} CUDA device(s) exist.", nameof(name));
            return new Device(DeviceType.CUDA, index);
        }
        throw new ArgumentException($"Invalid device '{name}': expected cpu, cuda or cuda:N.", nameof(name));
    }

    /// <summary>
    /// The compute dtype for a <c>--dtype</c> value on <paramref name="device"/>: <c>float32</c>, <c>bfloat16</c>,
    /// <c>float16</c> (CUDA only), or <c>auto</c>, which picks bfloat16 on a CPU whose bf16 kernels are fast
    /// (<see cref="CpuFeatures.BFloat16IsFast"/>: AMX, or AVX-512 BF16 confirmed by a probe) and float32 elsewhere (other CPUs, and CUDA, where the choice is yours).
    /// </summary>
    /// <param name="name">The dtype name.</param>
    /// <param name="device">Where the model runs.</param>
    /// <param name="cpu">The CPU facts <c>auto</c> decides on (null: <see cref="CpuFeatures.Current"/>).</param>
    /// <exception cref="UnsupportedDTypeException">float16 on a CPU.</exception>
    /// <exception cref="ArgumentException">An unknown name.</exception>
    public static ScalarType ResolveDType(string name, Device device, CpuFeatures? cpu = null)
    {
        ArgumentNullException.ThrowIfNull(device);
        bool onCpu = device.type == DeviceType.CPU;
        if ((name ?? "").Trim().ToLowerInvariant() == "auto")
            return onCpu && (cpu ?? CpuFeatures.Current).BFloat16IsFast ? ScalarType.BFloat16 : ScalarType.Float32;
        var dtype = ParseDType(name!);
        if (dtype == ScalarType.Float16 && onCpu)
            throw new UnsupportedDTypeException(
                "SpeechEncoderOptions.DType float16 is refused on the CPU: CPUs have no fast float16 kernels (it ran about 20x slower than float32). " +
                "Use float32 (the default, exact), or bfloat16 / auto on a CPU with bf16 units (Intel AMX or AVX-512 BF16); float16 is for CUDA.");
        return dtype;
    }

    /// <summary>Parses <c>float32</c>, <c>float16</c> or <c>bfloat16</c> (see <see cref="ResolveDType"/> for <c>auto</c>).</summary>
    /// <param name="name">The dtype name.</param>
    /// <exception cref="ArgumentException">Anything else.</exception>
    public static ScalarType ParseDType(string name) => (name ?? "").Trim().ToLowerInvariant() switch
    {
        "float32" or "fp32" => ScalarType.Float32,
        "float16" or "fp16" or "half" => ScalarType.Float16,
        "bfloat16" or "bf16" => ScalarType.BFloat16,
        _ => throw new ArgumentException($"Invalid dtype '{name}': expected float32, bfloat16, auto or (CUDA only) float16.", nameof(name)),
    };
}
