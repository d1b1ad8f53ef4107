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

    /// <summary>Parses <c>float32</c>, <c>float16</c> or <c>bfloat16</c>.</summary>
    /// <param name="name">The dtype name.</param>
    /// <exception cref="ArgumentException">Anything else.</exception>
    public static ScalarType ParseDType(string name) => (name ?? "").Trim().ToLowerInvariant() switch
    {
        "float32" or "fp32" => ScalarType.Float32,
        "float16" or "fp16" or "half" => ScalarType.Float16,
        "bfloat16" or "bf16" => ScalarType.BFloat16,
        _ => throw new ArgumentException($"Invalid dtype '{name}': expected float32, float16 or bfloat16.", nameof(name)),
    };
}
