using System;
using System.Collections.Generic;
using System.Linq;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DpHubert.Modules;

/// <summary>What <see cref="Transformer.Prune"/> decided for each layer.</summary>
/// <param name="UseAttention">Whether layer i keeps its attention block.</param>
/// <param name="KeptHeads">Heads kept in layer i (WavLM: indices into the total heads; otherwise positions 0..n-1),
/// as the original counts them: all heads when only the block mask removed the block, empty when every head was
/// pruned or the block was already absent.</param>
/// <param name="UseFeedForward">Whether layer i keeps its feed-forward block.</param>
/// <param name="FfIntermFeatures">Feed-forward width of layer i (the kept units; null when the block was already absent).</param>
public sealed record TransformerPruneResult(
    IReadOnlyList<bool> UseAttention,
    IReadOnlyList<IReadOnlyList<int>> KeptHeads,
    IReadOnlyList<bool> UseFeedForward,
    IReadOnlyList<int?> FfIntermFeatures);

/// <summary>
/// Positional convolution, one LayerNorm and the stack of <see cref="EncoderLayer"/>s. Keys: <c>pos_conv_embed.*</c>,
/// <c>layer_norm.*</c>, <c>layers.{i}.*</c>.
/// </summary>
/// <remarks>
/// Mirrors DPHuBERT <c>components.Transformer</c>, whose own <c>layer_norm_first</c> is the inverse of the config's
/// <c>encoder_layer_norm_first</c>; here it is named for what it does: <see cref="LayerNormBeforeLayers"/> is true for
/// post-norm layers (<c>layer_norm</c> runs right after the positional convolution) and false for pre-norm layers
/// (<c>layer_norm</c> runs after the last layer). LayerDrop applies in training mode only.
/// </remarks>
public sealed class Transformer : nn.Module<Tensor, Tensor?, Tensor?, Tensor>
{
    private readonly ConvolutionalPositionalEmbedding pos_conv_embed;
    private readonly PrunableLayerNorm layer_norm;
    private readonly Dropout dropout;
    private readonly ModuleList<EncoderLayer> layers;

    /// <summary>Creates the transformer from built parts.</summary>
    /// <param name="posConvEmbed">Positional convolution.</param>
    /// <param name="dropout">Dropout after the positional step.</param>
    /// <param name="layers">The layers.</param>
    /// <param name="layerNormBeforeLayers">Apply <c>layer_norm</c> before the layers (post-norm layers) instead of after
    /// them (pre-norm layers); the inverse of <c>Wav2Vec2Config.EncoderLayerNormFirst</c>.</param>
    /// <param name="layerDrop">LayerDrop probability (training only).</param>
    public Transformer(ConvolutionalPositionalEmbedding posConvEmbed, double dropout, IList<EncoderLayer> layers,
        bool layerNormBeforeLayers, double layerDrop) : base(nameof(Transformer))
    {
        pos_conv_embed = posConvEmbed;
        layer_norm = new PrunableLayerNorm(posConvEmbed.EmbedDim);
        LayerNormBeforeLayers = layerNormBeforeLayers;
        LayerDrop = layerDrop;
        this.dropout = nn.Dropout(dropout);
        this.layers = nn.ModuleList(layers.ToArray());
        RegisterComponents();
    }

    /// <summary>Whether <c>layer_norm</c> runs before the layers (true for post-norm layers) rather than after the
    /// last one (pre-norm layers).</summary>
    public bool LayerNormBeforeLayers { get; }

    /// <summary>LayerDrop probability.</summary>
    public double LayerDrop { get; }

    /// <summary>The layers.</summary>
    public ModuleList<EncoderLayer> Layers => layers;

    /// <summary>The positional convolution.</summary>
    public ConvolutionalPositionalEmbedding PosConvEmbed => pos_conv_embed;

    // The intermediates of the layers are freed by each module as soon as used, not by dispose scopes: a scope per layer
    // keeps a set of what it owns, managed garbage per pass that a live stream would pay for on every block.
    private Tensor Preprocess(Tensor x)
    {
        Tensor y;
        using (var position = pos_conv_embed.call(x)) y = x.Plus(position);
        if (LayerNormBeforeLayers) y = Scopes.Replace(y, layer_norm.call(y), null);
        return training ? Scopes.Replace(y, dropout.call(y), null) : y;
    }

    /// <summary>Runs every layer.</summary>
    /// <param name="x">[batch, frames, E].</param>
    /// <param name="attentionMask">Additive padding mask or null.</param>
    /// <param name="positionBias">Initial position bias (normally null).</param>
    /// <returns>[batch, frames, E].</returns>
    public override Tensor forward(Tensor x, Tensor? attentionMask, Tensor? positionBias)
    {
        var input = x;
        var initialBias = positionBias;
        x = Preprocess(x);
        for (int i = 0; i < layers.Count; i++)
        {
            if (training && Dropped()) continue;
            var (y, bias) = layers[i].call(x, attentionMask, positionBias);
            x = Scopes.Replace(x, y, input);
            positionBias = bias;
        }
        if (!ReferenceEquals(positionBias, initialBias)) positionBias?.Dispose();
        if (!LayerNormBeforeLayers) x = Scopes.Replace(x, layer_norm.call(x), input);
        return x;
    }

    /// <summary>Outputs of the first <paramref name="numLayers"/> layers (all when null), with no LayerDrop and no
    /// final LayerNorm.</summary>
    /// <param name="x">[batch, frames, E].</param>
    /// <param name="attentionMask">Additive padding mask or null.</param>
    /// <param name="numLayers">How many layers, 1..L, or null for all.</param>
    /// <param name="positionBias">Initial position bias (normally null).</param>
    public IReadOnlyList<Tensor> GetIntermediateOutputs(Tensor x, Tensor? attentionMask = null, int? numLayers = null,
        Tensor? positionBias = null)
    {
        if (numLayers is { } n && (n <= 0 || n > layers.Count))
            throw new ArgumentOutOfRangeException(nameof(numLayers), n, $"num_layers must be between 1 and {layers.Count}.");
        var ret = new List<Tensor>();
        var initialBias = positionBias;
        var pre = Preprocess(x);
        x = pre;
        foreach (var layer in layers)
        {
            (x, positionBias) = layer.call(x, attentionMask, positionBias);
            ret.Add(x);
            if (numLayers is { } k && ret.Count >= k) break;
        }
        if (!ReferenceEquals(positionBias, initialBias)) positionBias?.Dispose();
        bool returned = false;
        foreach (var t in ret) returned |= ReferenceEquals(t, pre); // by reference: Tensor.Equals compares values
        if (!returned) pre.Dispose();
        return ret;
    }

    // LayerDrop's draw for one layer (training only).
    private bool Dropped()
    {
        using var draw = rand(1);
        return draw.item<float>() <= LayerDrop;
    }

    /// <summary>Pruning-aware size: positional conv parameters, the LayerNorm, and every layer.</summary>
    public Tensor GetNumParams()
    {
        var n = tensor((double)pos_conv_embed.NumParameters() + pos_conv_embed.EmbedDim * 2, float64);
        foreach (var layer in layers) n = n.Plus(layer.GetNumParams());
        return n;
    }

    /// <summary>Prunes every layer in place (eval mode); see <see cref="EncoderLayer.Prune"/>.</summary>
    public TransformerPruneResult Prune()
    {
        var results = layers.Select(layer => layer.Prune()).ToList();
        return new TransformerPruneResult(
            results.Select(r => r.UseAttention).ToArray(),
            results.Select(r => r.KeptHeads).ToArray(),
            results.Select(r => r.UseFeedForward).ToArray(),
            results.Select(r => r.FfIntermFeatures).ToArray());
    }
}
