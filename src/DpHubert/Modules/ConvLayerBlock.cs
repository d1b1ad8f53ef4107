using TorchSharp;
using static TorchSharp.torch;

namespace DpHubert.Modules;

/// <summary>
/// One feature-extractor convolution: Conv1d (no padding), optional norm, exact GELU, optional HardConcrete channel
/// mask. Keys: <c>layer_norm.*</c> (if any), <c>conv.weight</c>[, <c>conv.bias</c>], <c>hard_concrete.log_alpha</c> (if any).
/// </summary>
/// <remarks>Mirrors DPHuBERT <c>components.ConvLayerBlock</c>.</remarks>
public sealed class ConvLayerBlock : nn.Module<Tensor, Tensor?, (Tensor Output, Tensor? Lengths)>
{
    private nn.Module<Tensor, Tensor>? layer_norm;
    private readonly PrunableConv1d conv;
    private HardConcrete? hard_concrete;

    /// <summary>Creates the block.</summary>
    /// <param name="inChannels">Input channels.</param>
    /// <param name="outChannels">Output channels.</param>
    /// <param name="kernelSize">Kernel width.</param>
    /// <param name="stride">Stride.</param>
    /// <param name="bias">Whether the convolution has a bias.</param>
    /// <param name="layerNorm">A <see cref="PerChannelGroupNorm"/>, a channels-first <see cref="PrunableLayerNorm"/>, or null.</param>
    /// <param name="pruneConvChannels">Add a HardConcrete mask over the output channels.</param>
    public ConvLayerBlock(int inChannels, int outChannels, int kernelSize, int stride, bool bias,
        nn.Module<Tensor, Tensor>? layerNorm, bool pruneConvChannels = false) : base(nameof(ConvLayerBlock))
    {
        KernelSize = kernelSize;
        Stride = stride;
        layer_norm = layerNorm;
        conv = new PrunableConv1d(inChannels, outChannels, kernelSize, stride, bias);
        hard_concrete = pruneConvChannels ? new HardConcrete(outChannels, initMean: 0.01) : null;
        RegisterComponents();
    }

    /// <summary>Kernel width.</summary>
    public int KernelSize { get; }

    /// <summary>Stride.</summary>
    public int Stride { get; }

    /// <summary>The convolution.</summary>
    public PrunableConv1d Conv => conv;

    /// <summary>The norm, or null.</summary>
    public nn.Module<Tensor, Tensor>? Norm => layer_norm;

    /// <summary>The channel mask, or null.</summary>
    public HardConcrete? HardConcrete => hard_concrete;

    /// <summary>Current output channels.</summary>
    public int OutChannels => (int)conv.Weight.shape[0];

    /// <summary>How the convolution is computed: <see cref="ConvolutionPath.Gemm"/> (the default) or libtorch's
    /// <c>conv1d</c>. Per block, so a single faulty kernel configuration can be routed on its own.</summary>
    public ConvolutionPath Path { get; set; } = ConvolutionPath.Gemm;

    /// <summary>Runs the block.</summary>
    /// <param name="x">[batch, in_channels, in_frames].</param>
    /// <param name="length">Valid lengths [batch], or null.</param>
    /// <returns>[batch, out_channels, out_frames] and the new lengths <c>max(0, floor((len - k) / s) + 1)</c>.</returns>
    public override (Tensor Output, Tensor? Lengths) forward(Tensor x, Tensor? length)
    {
        if (Path == ConvolutionPath.LibTorch) return ForwardChannelsFirst(x, length);
        using var t = x.transpose(1, 2);
        using var channelsLast = t.contiguous();
        var (y, len) = ForwardChannelsLast(channelsLast, length);
        using (y) return (y.transpose(1, 2), len);
    }

    /// <summary>The block on channels-last input, as <see cref="FeatureExtractor"/> runs it.</summary>
    /// <param name="x">[batch, in_frames, in_channels].</param>
    /// <param name="length">Valid lengths [batch], or null.</param>
    /// <returns>[batch, out_frames, out_channels] (contiguous) and the new lengths.</returns>
    internal (Tensor Output, Tensor? Lengths) ForwardChannelsLast(Tensor x, Tensor? length)
    {
        if (Path == ConvolutionPath.LibTorch)
        {
            using var t = x.transpose(1, 2);
            var (cf, len) = ForwardChannelsFirst(t, length);
            using (cf)
            using (var back = cf.transpose(1, 2))
                return (back.contiguous(), len);
        }
        var y = GemmConvolution.Conv(x, conv.Weight, conv.Bias, Stride);
        return (ActivateChannelsLast(y, owned: true), NewLengths(length));
    }

    /// <summary>What follows the convolution (norm, GELU, channel mask) on its channels-last output [batch, frames, C];
    /// frees <paramref name="convOutput"/> when <paramref name="owned"/>.</summary>
    internal Tensor ActivateChannelsLast(Tensor convOutput, bool owned)
    {
        var x = convOutput;
        Tensor? input = owned ? null : convOutput;
        if (layer_norm is not null) x = Scopes.Replace(x, NormChannelsLast(layer_norm, x), input);
        x = Scopes.Gelu(x, owned: !ReferenceEquals(x, input));
        if (hard_concrete is not null)
        {
            using var mask = hard_concrete.forward();
            x = Scopes.Replace(x, x * mask, input);
        }
        return x;
    }

    // libtorch's conv1d on [batch, channels, frames], as the original.
    private (Tensor Output, Tensor? Lengths) ForwardChannelsFirst(Tensor x, Tensor? length)
    {
        var input = x;
        x = conv.call(x);
        if (layer_norm is not null) x = Scopes.Replace(x, layer_norm.call(x), input);
        x = Scopes.Gelu(x, owned: true);
        if (hard_concrete is not null)
        {
            using var mask = hard_concrete.forward();
            x = Scopes.Replace(x, x * mask.unsqueeze(-1), input);
        }
        return (x, NewLengths(length));
    }

    // The block's norm on [batch, frames, channels]: a channel LayerNorm is per frame over the last dim; GroupNorm(C, C)
    // is per channel over frames; any other norm runs channels-first.
    private static Tensor NormChannelsLast(nn.Module<Tensor, Tensor> norm, Tensor x)
    {
        switch (norm)
        {
            case PrunableLayerNorm { ChannelsFirst: true } ln:
                return nn.functional.layer_norm(x, new[] { ln.Weight.shape[0] }, ln.Weight, ln.Bias, ln.Eps);
            case PerChannelGroupNorm gn:
                return GemmConvolution.GroupNormOverFrames(x, gn.Weight, gn.Bias, gn.Eps);
            default:
                using (var t = x.transpose(1, 2))
                using (var y = norm.call(t))
                using (var back = y.transpose(1, 2))
                    return back.contiguous();
        }
    }

    private Tensor? NewLengths(Tensor? length)
    {
        if (length is null) return null;
        using var shifted = length.Minus((long)KernelSize);
        using var frames = shifted.FloorDividedBy(Stride);
        using var plusOne = frames.Plus(1L);
        return plusOne.ClampMin(0);
    }

    /// <summary>Pruning-aware size: <c>(params, out_channels)</c>, with the expected channel count when masked.</summary>
    /// <param name="inChannels">Input channels (possibly an expectation from the previous layer).</param>
    public (Tensor Params, Tensor OutChannels) GetNumParamsAndOutChannels(Tensor inChannels)
    {
        var @out = hard_concrete is not null ? hard_concrete.L0Norm().to(ScalarType.Float64) : tensor((double)OutChannels);
        var n = (inChannels * @out).Times((long)KernelSize);
        if (conv.Bias is not null) n = n.Plus(@out);
        if (layer_norm is not null) n = n.Plus(@out.Times(2L));
        return (n, @out);
    }

    /// <summary>Drops the HardConcrete module after pruning.</summary>
    internal void RemoveHardConcrete()
    {
        PruningUtils.RemoveModule(this, ref hard_concrete, nameof(hard_concrete));
    }
}
