using System;
using static TorchSharp.torch;

namespace DpHubert.Modules;

/// <summary>
/// An unpadded 1-D convolution, <c>nn.Conv1d(in, out, k, stride, bias)</c> with the same keys (<c>weight</c>
/// [out, in, k], <c>bias</c> [out]) and initialization. Its sizes come from <c>weight</c>, so the in-place channel pruning
/// of <see cref="PruningUtils"/> keeps it runnable (TorchSharp's Conv1d checks its input against the channel count it
/// was built with). The module is named <c>Conv1d</c>, the original's class name.
/// </summary>
public sealed class PrunableConv1d : nn.Module<Tensor, Tensor>
{
    private Parameter weight;
    private Parameter? bias;

    /// <summary>Creates the convolution.</summary>
    /// <param name="inChannels">Input channels.</param>
    /// <param name="outChannels">Output channels.</param>
    /// <param name="kernelSize">Kernel width.</param>
    /// <param name="stride">Stride.</param>
    /// <param name="hasBias">Whether there is a bias.</param>
    public PrunableConv1d(int inChannels, int outChannels, int kernelSize, int stride, bool hasBias) : base("Conv1d")
    {
        OneDnn.ApplyEnvironmentOnce(); // before any convolution runs
        Stride = stride;
        weight = nn.Parameter(DeferredInit.Empty(outChannels, inChannels, kernelSize));
        bias = hasBias ? nn.Parameter(DeferredInit.Empty(outChannels)) : null;
        if (!DeferredInit.Active)
        {
            using var _ = no_grad();
            // PyTorch's default: kaiming_uniform(a=sqrt(5)) weights, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) bias.
            nn.init.kaiming_uniform_(weight, Math.Sqrt(5));
            if (bias is not null)
            {
                double bound = 1.0 / Math.Sqrt(inChannels * kernelSize);
                nn.init.uniform_(bias, -bound, bound);
            }
        }
        RegisterComponents();
    }

    /// <summary>Stride.</summary>
    public int Stride { get; }

    /// <summary>[out, in, k].</summary>
    public Parameter Weight
    {
        get => weight;
        set { weight = value; ConditionallyRegisterParameter(nameof(weight), value); }
    }

    /// <summary>[out], or null.</summary>
    public Parameter? Bias
    {
        get => bias;
        set { bias = value; ConditionallyRegisterParameter(nameof(bias), value); }
    }

    /// <summary>[batch, in, frames] to [batch, out, (frames - k) / stride + 1].</summary>
    /// <param name="x">Input.</param>
    public override Tensor forward(Tensor x) => nn.functional.conv1d(x, weight, bias, stride: Stride);
}
