using System;
using System.Collections.Generic;
using DpHubert.Config;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DpHubert.Modules;

/// <summary>
/// The convolutional waveform encoder: [batch, samples] to [batch, frames, channels].
/// Keys: <c>conv_layers.{i}.*</c> and <c>dummy_weight</c> [C_last].
/// </summary>
/// <remarks>
/// Mirrors DPHuBERT <c>components.FeatureExtractor</c>. <c>dummy_weight</c> holds the folded soft mask of the last
/// conv layer after pruning (ones otherwise) and is always multiplied into the output, even when it is all ones.
/// </remarks>
public sealed class FeatureExtractor : nn.Module<Tensor, Tensor?, (Tensor Output, Tensor? Lengths)>
{
    private readonly ModuleList<ConvLayerBlock> conv_layers;
    private Parameter dummy_weight;

    /// <summary>Creates the extractor from built conv blocks.</summary>
    /// <param name="convLayers">The blocks, in order.</param>
    public FeatureExtractor(IList<ConvLayerBlock> convLayers) : base(nameof(FeatureExtractor))
    {
        if (convLayers.Count == 0) throw new ArgumentException("A feature extractor needs at least one conv layer.", nameof(convLayers));
        conv_layers = nn.ModuleList(System.Linq.Enumerable.ToArray(convLayers));
        dummy_weight = nn.Parameter(ones(convLayers[^1].OutChannels), requires_grad: false);
        RegisterComponents();
    }

    /// <summary>The conv blocks.</summary>
    public ModuleList<ConvLayerBlock> ConvLayers => conv_layers;

    /// <summary>Per-channel output scale, [C_last].</summary>
    public Parameter DummyWeight => dummy_weight;

    /// <summary>Sets the <see cref="ConvLayerBlock.Path"/> of every conv block.</summary>
    /// <param name="path">How the convolutions are computed.</param>
    public void SetPath(ConvolutionPath path)
    {
        foreach (var layer in conv_layers) layer.Path = path;
    }

    /// <summary>Runs the extractor.</summary>
    /// <param name="x">Waveforms [batch, samples].</param>
    /// <param name="length">Valid sample counts [batch], or null.</param>
    /// <returns>Features [batch, frames, channels] and frame counts (or null).</returns>
    /// <remarks>Blocks on the <see cref="ConvolutionPath.Gemm"/> path work channels-last ([batch, frames, channels]),
    /// the layout of the result, so the whole extractor converts no layout at all; when every block is on
    /// <see cref="ConvolutionPath.LibTorch"/> it runs channels-first as the original.</remarks>
    public override (Tensor Output, Tensor? Lengths) forward(Tensor x, Tensor? length)
    {
        if (x.ndim != 2)
            throw new ArgumentException($"Expected the input Tensor to be 2D (batch, time), but received {Shapes.Format(x)}", nameof(x));
        bool channelsFirst = true;
        for (int i = 0; i < conv_layers.Count; i++) channelsFirst &= conv_layers[i].Path == ConvolutionPath.LibTorch;
        var input = x;
        var lengthInput = length;
        x = x.unsqueeze(channelsFirst ? 1 : -1);
        for (int i = 0; i < conv_layers.Count; i++)
        {
            // Each block frees its intermediates and its input is freed once it has run: one block's activations at a time
            // (without a dispose scope per block, whose set of owned tensors would be managed garbage per pass).
            var layer = conv_layers[i];
            Tensor y;
            Tensor? len;
            if (channelsFirst) (y, len) = layer.call(x, length);
            else if (i + 1 < conv_layers.Count && layer.FusesWith(conv_layers[i + 1]))
            {
                // The waveform layer and the next one chunk by chunk: the waveform layer's output is never whole.
                var next = conv_layers[++i];
                y = layer.ForwardNarrow(x, next);
                using var mid = layer.NewLengths(length);
                len = next.NewLengths(mid);
            }
            else (y, len) = layer.ForwardChannelsLast(x, length);
            x = Scopes.Replace(x, y, input);
            if (length is not null && len is not null) Scopes.Replace(length, len, lengthInput);
            length = len;
        }
        if (channelsFirst)
        {
            using var t = x.transpose(1, 2);
            x = Scopes.Replace(x, t * dummy_weight, input);
        }
        else x = Scopes.Replace(x, x * dummy_weight, input);
        return (x, length);
    }

    /// <summary>Pruning-aware parameter count and final channel count (expectations under HardConcrete masks).</summary>
    public (Tensor Params, Tensor FinalChannels) GetNumParamsAndFinalOutChannels()
    {
        var inChannels = tensor(1.0, float64);
        var total = tensor(0.0, float64);
        foreach (var layer in conv_layers)
        {
            var (p, o) = layer.GetNumParamsAndOutChannels(inChannels);
            total = total.Plus(p);
            inChannels = o;
        }
        total = total.Plus(inChannels); // dummy_weight
        return (total, inChannels);
    }

    /// <summary>
    /// Turns the conv HardConcrete masks into smaller convolutions, in place (eval mode required): keeps the
    /// non-zero channels, folds each soft mask into the next conv's input weights (or into <c>dummy_weight</c>
    /// after the last layer) and removes the masks.
    /// </summary>
    /// <returns>The new conv config and the kept channel indices of the last layer (for the feature projection).</returns>
    public (IReadOnlyList<ConvLayerSpec> Config, Tensor LastIndex) Prune()
    {
        using var _ = no_grad();
        var config = new List<ConvLayerSpec>();
        Tensor? index = null;
        for (int i = 0; i < conv_layers.Count; i++)
        {
            var layer = conv_layers[i];
            index?.Dispose();
            if (layer.HardConcrete is { } hc)
            {
                using var mask = hc.PruningMask();
                index = mask.nonzero().squeeze(-1);
                if (index.shape[0] == 0) throw new InvalidOperationException($"Conv channels pruned to zero at index {i}");
                config.Add(new ConvLayerSpec((int)index.shape[0], layer.KernelSize, layer.Stride));
                PruningUtils.PruneConv1dLayer(layer.Conv, index, PruneDimension.Output);
                if (layer.Norm is { } norm) PruningUtils.PruneNorm(norm, index);
                if (i == conv_layers.Count - 1)
                {
                    using var scaled = dummy_weight * mask;
                    var kept = scaled.index_select(0, index).clone();
                    dummy_weight.Dispose();
                    dummy_weight = nn.Parameter(kept, requires_grad: false);
                    dummy_weight.DetachFromDisposeScope();
                    ConditionallyRegisterParameter(nameof(dummy_weight), dummy_weight);
                }
                else
                {
                    var next = conv_layers[i + 1].Conv;
                    next.Weight.mul_(mask.unsqueeze(-1));
                    PruningUtils.PruneConv1dLayer(next, index, PruneDimension.Input);
                }
                layer.RemoveHardConcrete();
            }
            else
            {
                config.Add(new ConvLayerSpec(layer.OutChannels, layer.KernelSize, layer.Stride));
                index = ScalarSafe.Arange(layer.OutChannels);
            }
        }
        return (config, index!);
    }
}
