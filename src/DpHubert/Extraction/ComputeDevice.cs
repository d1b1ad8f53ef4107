using System;
using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace DpHubert.Extraction;

/// <summary>Where a <see cref="SpeechEncoder"/> runs: the CPU or one CUDA device.</summary>
/// <remarks>Parsing the names (<see cref="Parse"/>) only checks the spelling; whether the device exists is checked
/// when the model is placed on it (<see cref="ToTorchDevice"/>).</remarks>
public readonly record struct ComputeDevice
{
    private ComputeDevice(bool isCuda, int? index)
    {
        IsCuda = isCuda;
        Index = index;
    }

    /// <summary>The CPU.</summary>
    public static ComputeDevice Cpu { get; } = new(false, null);

    /// <summary>A CUDA device: <paramref name="index"/>, or the default one (index 0) when null.</summary>
    /// <param name="index">The device index, or null for the default CUDA device.</param>
    public static ComputeDevice Cuda(int? index = null) => index is null or >= 0 ? new(true, index)
        : throw new ArgumentOutOfRangeException(nameof(index), index, "A CUDA device index must be >= 0.");

    /// <summary>Whether this is a CUDA device.</summary>
    public bool IsCuda { get; }

    /// <summary>The CUDA device index as given (null: the default device, or the CPU).</summary>
    public int? Index { get; }

    /// <summary>Parses <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c> (any case, surrounding spaces ignored).</summary>
    /// <param name="name">The device name.</param>
    /// <exception cref="ArgumentException">Any other name.</exception>
    public static ComputeDevice Parse(string name)
    {
        var text = (name ?? "").Trim().ToLowerInvariant();
        if (text == "cpu") return Cpu;
        if (text == "cuda") return Cuda();
        if (text.StartsWith("cuda:", StringComparison.Ordinal)
            && int.TryParse(text.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out int index))
            return Cuda(index);
        throw new ArgumentException($"Invalid device '{name}': expected cpu, cuda or cuda:N.", nameof(name));
    }

    /// <summary>The TorchSharp device, after checking that it exists.</summary>
    /// <exception cref="ArgumentException">CUDA is not available, or the index is past the last device.</exception>
    public Device ToTorchDevice()
    {
        if (!IsCuda) return CPU;
        if (!cuda.is_available())
            throw new ArgumentException($"Device '{this}' requested but CUDA is not available (is a TorchSharp-cuda runtime package referenced, and is a GPU present?).");
        int count = cuda.device_count();
        int index = Index ?? 0;
        if (index >= count)
            throw new ArgumentException($"Device '{this}' requested but only {count} CUDA device(s) exist.");
        return new Device(DeviceType.CUDA, index);
    }

    /// <summary><c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>: the form <see cref="Parse"/> reads.</summary>
    public override string ToString() => !IsCuda ? "cpu" : Index is { } i ? $"cuda:{i.ToString(CultureInfo.InvariantCulture)}" : "cuda";
}
