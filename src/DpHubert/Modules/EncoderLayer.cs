using System;
using System.Collections.Generic;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DpHubert.Modules;

/// <summary>
/// One transformer layer: residual attention block and residual feed-forward block, either of which may be absent,
/// in pre-norm (<c>layer_norm_first</c>, Large) or post-norm (Base) order. Keys: <c>attention.*</c> (if any),
/// <c>layer_norm.*</c>, <c>feed_forward.*</c> (if any), <c>final_layer_norm.*</c>.
/// </summary>
/// <remarks>
/// Mirrors DPHuBERT <c>components.EncoderLayer</c>. In post-norm both LayerNorms always run, even when a block is
/// absent; an absent attention block skips its pre-norm and passes the position bias through, as the original does.
/// </remarks>
public sealed class EncoderLayer : nn.Module<Tensor, Tensor?, Tensor?, (Tensor Output, Tensor? PositionBias)>
{
    private SelfAttention? attention;
    private readonly Dropout dropout;
    private readonly PrunableLayerNorm layer_norm;
    private FeedForward? feed_forward;
    private readonly PrunableLayerNorm final_layer_norm;

    /// <summary>Creates the layer from built blocks.</summary>
    /// <param name="attention">A <see cref="SelfAttention"/> or <see cref="WavLMSelfAttention"/>, or null.</param>
    /// <param name="dropout">Dropout on the attention output.</param>
    /// <param name="layerNormFirst">Pre-norm when true (same meaning as <c>Wav2Vec2Config.EncoderLayerNormFirst</c>).</param>
    /// <param name="feedForward">The feed-forward block, or null.</param>
    /// <param name="embedDim">E (explicit because attention may be absent).</param>
    public EncoderLayer(SelfAttention? attention, double dropout, bool layerNormFirst, FeedForward? feedForward, int embedDim)
        : base(nameof(EncoderLayer))
    {
        this.attention = attention;
        this.dropout = nn.Dropout(dropout);
        layer_norm = new PrunableLayerNorm(embedDim);
        LayerNormFirst = layerNormFirst;
        feed_forward = feedForward;
        final_layer_norm = new PrunableLayerNorm(embedDim);
        EmbedDim = embedDim;
        RegisterComponents();
    }

    /// <summary>Pre-norm order: each block's LayerNorm runs before the block (true) rather than after its residual
    /// sum (false); the same meaning as <c>Wav2Vec2Config.EncoderLayerNormFirst</c> and the original's name.</summary>
    public bool LayerNormFirst { get; }

    /// <summary>E.</summary>
    public int EmbedDim { get; }

    /// <summary>The attention block, or null.</summary>
    public SelfAttention? Attention => attention;

    /// <summary>The feed-forward block, or null.</summary>
    public FeedForward? FeedForward => feed_forward;

    /// <summary>Runs the layer.</summary>
    /// <param name="x">[batch, frames, E].</param>
    /// <param name="attentionMask">Additive padding mask, or null.</param>
    /// <param name="positionBias">WavLM relative bias, or null.</param>
    /// <returns>[batch, frames, E] and the position bias for the next layer.</returns>
    public override (Tensor Output, Tensor? PositionBias) forward(Tensor x, Tensor? attentionMask, Tensor? positionBias)
    {
        // Every intermediate is freed here as soon as used (the layer runs without a dispose scope); the input is the caller's.
        var input = x;
        if (attention is not null)
        {
            Tensor a;
            using (var normed = LayerNormFirst ? layer_norm.call(x) : null)
                (a, positionBias) = attention.call(normed ?? x, attentionMask, positionBias);
            if (training) a = Scopes.Replace(a, dropout.call(a), null);
            x = Residual(x, a);
        }
        if (LayerNormFirst)
        {
            if (feed_forward is not null)
            {
                Tensor f;
                using (var normed = final_layer_norm.call(x)) f = feed_forward.call(normed);
                x = Scopes.Replace(x, Residual(x, f), input);
            }
        }
        else
        {
            x = Scopes.Replace(x, layer_norm.call(x), input);
            if (feed_forward is not null) x = Scopes.Replace(x, Residual(x, feed_forward.call(x)), input);
            x = Scopes.Replace(x, final_layer_norm.call(x), input);
        }
        return (x, positionBias);
    }

    /// <summary><paramref name="x"/> + <paramref name="block"/> (the block's output, which this frees or reuses):
    /// accumulated into the block's own output without autograd (addition is commutative, so the same numbers), a new
    /// tensor otherwise.</summary>
    private static Tensor Residual(Tensor x, Tensor block)
    {
        if (Scopes.NoGrad) return block.PlusInPlace(x);
        using (block) return x.Plus(block);
    }

    /// <summary>Pruning-aware size: two LayerNorms plus the blocks that exist.</summary>
    public Tensor GetNumParams()
    {
        var n = tensor(EmbedDim * 2.0 * 2.0, float64);
        if (attention is not null) n = n.Plus(attention.GetNumParams());
        if (feed_forward is not null) n = n.Plus(feed_forward.GetNumParams());
        return n;
    }

    /// <summary>
    /// Prunes the attention and feed-forward blocks in place (eval mode) and removes a block pruned away entirely.
    /// Unlike the original, a block that is already absent is reported as absent instead of failing.
    /// </summary>
    /// <returns>Whether each block survives, the kept heads (see <see cref="SelfAttention.Prune"/>; empty when absent)
    /// and the feed-forward width (null when the block was already absent).</returns>
    public (bool UseAttention, IReadOnlyList<int> KeptHeads, bool UseFeedForward, int? FfIntermFeatures) Prune()
    {
        bool useAttention = false, useFeedForward = false;
        IReadOnlyList<int> kept = Array.Empty<int>();
        int? features = null;
        if (attention is not null)
        {
            (useAttention, kept) = attention.Prune();
            if (!useAttention) PruningUtils.RemoveModule(this, ref attention, nameof(attention));
        }
        if (feed_forward is not null)
        {
            int width;
            (useFeedForward, width) = feed_forward.Prune();
            features = width;
            if (!useFeedForward) PruningUtils.RemoveModule(this, ref feed_forward, nameof(feed_forward));
        }
        return (useAttention, kept, useFeedForward, features);
    }
}
