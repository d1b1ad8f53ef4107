using System;
using static TorchSharp.torch;

namespace DpHubert.Modules;

/// <summary>
/// The optional final projection of HuBERT / ContentVec (fairseq <c>final_proj</c>, a Linear E → final_dim) applied
/// to encoder features, as so-vits-svc does for ContentVec's 256-dim features.
/// </summary>
public sealed class FinalProjection : IDisposable
{
    private readonly Tensor _weight;
    private readonly Tensor? _bias;

    /// <summary>Creates the projection from its weights (copied, as float32 on the CPU).</summary>
    /// <param name="weight">[out, in].</param>
    /// <param name="bias">[out] or null.</param>
    public FinalProjection(Tensor weight, Tensor? bias) : this(weight, bias, float32, CPU)
    {
    }

    /// <summary>Creates the projection with its weights copied to <paramref name="device"/> in <paramref name="dtype"/>
    /// (the model's, so applying it converts nothing).</summary>
    internal FinalProjection(Tensor weight, Tensor? bias, ScalarType dtype, Device device)
    {
        ArgumentNullException.ThrowIfNull(weight);
        if (weight.dim() != 2) throw new ArgumentException($"final_proj weight must be 2-D, got {Shapes.Format(weight)}", nameof(weight));
        if (bias is not null && (bias.dim() != 1 || bias.shape[0] != weight.shape[0]))
            throw new ArgumentException($"final_proj bias {Shapes.Format(bias)} does not fit weight {Shapes.Format(weight)}", nameof(bias));
        _weight = Copy(weight, dtype, device);
        _bias = bias is null ? null : Copy(bias, dtype, device);
    }

    // One conversion straight to the wanted dtype and device, always a tensor of our own.
    private static Tensor Copy(Tensor t, ScalarType dtype, Device device)
    {
        using var d = t.detach();
        return d.dtype == dtype && d.device_type == device.type && d.device_index == device.index ? d.clone() : d.to(dtype, device, copy: true);
    }

    /// <summary>Input width (the encoder width E).</summary>
    public long InFeatures => _weight.shape[1];

    /// <summary>W [out, in], as stored.</summary>
    internal Tensor Weight => _weight;

    /// <summary>b [out], or null.</summary>
    internal Tensor? Bias => _bias;

    /// <summary>Output width (final_dim).</summary>
    public long OutFeatures => _weight.shape[0];

    /// <summary>Applies <c>x W^T + b</c> over the last dimension, on the features' device and dtype.</summary>
    /// <param name="features">(..., E).</param>
    public Tensor Apply(Tensor features)
    {
        ArgumentNullException.ThrowIfNull(features);
        if (features.size(-1) != InFeatures)
            throw new ArgumentException($"features have width {features.size(-1)}, final_proj expects {InFeatures}", nameof(features));
        if (features.dtype == _weight.dtype && features.device_type == _weight.device_type && features.device_index == _weight.device_index)
            return LinearKernels.Linear(features, _weight, _bias);
        using var w = _weight.to(features.dtype, features.device);
        using var b = _bias?.to(features.dtype, features.device);
        return LinearKernels.Linear(features, w, b);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _weight.Dispose();
        _bias?.Dispose();
    }
}
