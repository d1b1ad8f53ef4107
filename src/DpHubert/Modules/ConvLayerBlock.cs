using System;
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
    public int OutChannels => (int)conv.Weight.size(0);

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
        if (IsNarrow) return (ForwardNarrow(x, null), NewLengths(length));
        using (var rows = TapRows(conv.Weight.dtype)) x = GemmConvolution.Conv(x, conv.Weight, conv.Bias, Stride, rows);
        return (ActivateChannelsLast(x, owned: true), NewLengths(length));
    }

    private readonly DerivedWeight tapRows = new();

    /// <summary>The convolution's weight as <see cref="GemmConvolution.TapRows"/> in <paramref name="dtype"/>, kept
    /// between passes without autograd until the weight changes (a copy of the weight per pass otherwise); the caller
    /// disposes the result.</summary>
    private Tensor TapRows(ScalarType dtype) => tapRows.Get(conv.Weight, null, dtype, static (w, _, type) =>
    {
        using var cast = w.to(type);
        return GemmConvolution.TapRows(cast);
    });

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing) tapRows.Dispose();
        base.Dispose(disposing);
    }

    /// <summary>Frames of the next block's output computed per chunk in <see cref="ForwardNarrow"/> (this block's part:
    /// 8,193 frames, 16 MiB at 512 float32 channels, instead of 64 MiB per 10 s of audio, whole). Smaller chunks cost
    /// CPU time when other processes compete for the cores (short parallel regions wait for each other): the chunk-size
    /// figures are in tools/bench/README.md.</summary>
    internal const long ChunkFrames = 4096;

    /// <summary>A narrow block (the waveform layer: C_in·k ≤ <see cref="GemmConvolution.NarrowWindow"/>) whose norm is
    /// none, GroupNorm (folded into the weights) or a per-frame LayerNorm.</summary>
    internal bool IsNarrow => conv.Weight.size(1) * KernelSize <= GemmConvolution.NarrowWindow
        && layer_norm is null or PerChannelGroupNorm or PrunableLayerNorm { ChannelsFirst: true };

    /// <summary>Whether <paramref name="next"/> may run chunk by chunk on this narrow block's output: its own
    /// computation is local in time (no GroupNorm) and both are on the GEMM path.</summary>
    internal bool FusesWith(ConvLayerBlock next) => IsNarrow && Path == ConvolutionPath.Gemm && next.Path == ConvolutionPath.Gemm
        && next.layer_norm is null or PrunableLayerNorm { ChannelsFirst: true } && next.conv.Weight.size(1) == OutChannels;

    /// <summary>
    /// This narrow block, then <paramref name="next"/> when given, row by row and in chunks of frames: the window
    /// matrix times the (GroupNorm-folded) weights, activation, then the next block's GEMMs on that chunk while it is
    /// in cache, so this block's output (64 MB per 10 s of audio for 512 channels) is never materialised when
    /// <paramref name="next"/> is given. In a reduced-precision model this block (K = C_in·k, memory-bound) runs in
    /// float32 and its output is rounded once, for the next block.
    /// </summary>
    /// <param name="x">[batch, frames, C_in] channels-last.</param>
    /// <param name="next">The following block (see <see cref="FusesWith"/>), or null.</param>
    /// <returns>[batch, frames_out, C_out] of the last block run, in <paramref name="x"/>'s dtype.</returns>
    internal Tensor ForwardNarrow(Tensor x, ConvLayerBlock? next)
    {
        var dtype = x.dtype;
        var work = dtype is ScalarType.BFloat16 or ScalarType.Float16 ? ScalarType.Float32 : dtype;
        // Every intermediate is freed as soon as used, without a dispose scope (its set of owned tensors is managed
        // garbage per pass).
        using var mask = hard_concrete?.forward();
        using var nextMask = next?.hard_concrete?.forward();
        using var rows = TapRows(work);
        using var bias = conv.Bias?.to(work);
        using var nextRows = next?.TapRows(next.conv.Weight.dtype);
        long nextK = next?.KernelSize ?? 1, nextS = next?.Stride ?? 1;
        long channels = next?.OutChannels ?? OutChannels;
        long batch = x.size(0);
        var outs = batch == 1 ? null : new Tensor[batch];
        try
        {
            for (long b = 0; b < batch; b++)
            {
                using var item = x.select(0, b);
                using var row = item.to(work);
                using var windows = GemmConvolution.Windows(row, KernelSize, Stride);
                Tensor? foldedRows = null, foldedBias = null;
                if (layer_norm is PerChannelGroupNorm gn) (foldedRows, foldedBias) = GemmConvolution.FoldGroupNorm(windows, rows, gn.Weight, gn.Bias, gn.Eps);
                using (foldedRows)
                using (foldedBias)
                {
                    var w = foldedRows ?? rows;
                    var c = foldedRows is null ? bias : foldedBias;
                    long frames = windows.size(0);
                    long outFrames = next is null ? frames : GemmConvolution.OutFrames(frames, nextK, nextS);
                    if (outFrames == 0)
                        throw new ArgumentException($"Input of {frames} frames is shorter than the kernel ({nextK}).", nameof(x));
                    var output = empty(outFrames, channels, dtype: dtype, device: x.device);
                    try
                    {
                        for (long first = 0; first < outFrames; first += ChunkFrames)
                        {
                            long n = Math.Min(ChunkFrames, outFrames - first);
                            // This block's frames that the chunk reads: all of them for itself, the next block's receptive field otherwise.
                            long from = next is null ? first : first * nextS, count = next is null ? n : (n - 1) * nextS + nextK;
                            Tensor y;
                            using (var part = windows.narrow(0, from, count))
                                y = LinearKernels.Mm(part, w, c);
                            y = ActivateChannelsLast(y, owned: true, normFolded: true, mask: mask);
                            if (y.dtype != dtype) y = Scopes.Replace(y, y.to(dtype), null);
                            if (next is not null)
                            {
                                y = Scopes.Replace(y, GemmConvolution.ConvFrames(y, nextRows!, next.conv.Bias, nextK, nextS), null);
                                y = next.ActivateChannelsLast(y, owned: true, mask: nextMask);
                            }
                            using (y)
                            using (var slot = output.narrow(0, first, n))
                                slot.copy_(y);
                        }
                    }
                    catch
                    {
                        output.Dispose();
                        throw;
                    }
                    if (outs is null)
                    {
                        using (output) return output.unsqueeze(0);
                    }
                    outs[b] = output;
                }
            }
            return stack(outs!);
        }
        finally
        {
            if (outs is not null) foreach (var o in outs) o?.Dispose();
        }
    }

    /// <summary>What follows the convolution (norm unless folded into the weights, GELU, channel mask) on its
    /// channels-last output [batch, frames, C]; frees <paramref name="convOutput"/> when <paramref name="owned"/>.</summary>
    /// <param name="convOutput">The convolution's output.</param>
    /// <param name="owned">Whether it may be changed in place and freed.</param>
    /// <param name="normFolded">The GroupNorm is already in the weights (<see cref="GemmConvolution.FoldGroupNorm"/>).</param>
    /// <param name="mask">The channel mask when the caller computed it once for many chunks; else computed here.</param>
    internal Tensor ActivateChannelsLast(Tensor convOutput, bool owned, bool normFolded = false, Tensor? mask = null)
    {
        var x = convOutput;
        Tensor? input = owned ? null : convOutput;
        if (layer_norm is not null && !(normFolded && layer_norm is PerChannelGroupNorm))
            x = Scopes.Replace(x, NormChannelsLast(layer_norm, x), input);
        x = Activations.Gelu(x, owned: !ReferenceEquals(x, input));
        if (hard_concrete is not null)
        {
            using var own = mask is null ? hard_concrete.forward() : null;
            x = Scopes.Replace(x, x * (mask ?? own!), input);
        }
        return x;
    }

    // libtorch's conv1d on [batch, channels, frames], as the original.
    private (Tensor Output, Tensor? Lengths) ForwardChannelsFirst(Tensor x, Tensor? length)
    {
        var input = x;
        x = conv.call(x);
        if (layer_norm is not null) x = Scopes.Replace(x, layer_norm.call(x), input);
        x = Activations.Gelu(x, owned: true);
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
            case PrunableLayerNorm { ChannelsFirst: true } ln when ln.Weight.dtype == x.dtype:
                return nn.functional.layer_norm(x, ln.NormalizedShape, ln.Weight, ln.Bias, ln.Eps);
            case PrunableLayerNorm { ChannelsFirst: true } ln:
                using (var w = ln.Weight.to(x.dtype))
                using (var b = ln.Bias.to(x.dtype))
                    return nn.functional.layer_norm(x, ln.NormalizedShape, w, b, ln.Eps);
            case PerChannelGroupNorm gn:
                return GemmConvolution.GroupNormOverFrames(x, gn.Weight, gn.Bias, gn.Eps);
            default:
                using (var t = x.transpose(1, 2))
                using (var y = norm.call(t))
                using (var back = y.transpose(1, 2))
                    return back.contiguous();
        }
    }

    internal Tensor? NewLengths(Tensor? length)
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
