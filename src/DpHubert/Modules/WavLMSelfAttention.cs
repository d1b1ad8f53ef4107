using System;
using System.Collections.Generic;
using System.Linq;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DpHubert.Modules;

/// <summary>
/// WavLM self-attention: <see cref="SelfAttention"/> over a subset of the heads plus a gated relative position bias.
/// Extra keys: <c>gru_rel_pos_const</c> [1, H_total, 1, 1], <c>gru_rel_pos_linear.*</c> [8, head_dim], and, in the
/// layer that owns it (layer 0), <c>rel_attn_embed.weight</c> [num_buckets, H_total].
/// </summary>
/// <remarks>
/// Mirrors DPHuBERT <c>components.WavLMSelfAttention</c> (whose relative-bias code comes from Microsoft's WavLM,
/// MIT licence). The bias of layer 0 (bucketed offset key - query) is passed un-gated to every later layer, and each
/// layer gates it with its own <c>gru_rel_pos_*</c> computed from its attention input, then keeps its remaining heads.
/// One deliberate difference: the original raises a TypeError when a padding mask is given and no bias exists
/// (no attention in layer 0); here the padding mask is then used alone.
/// </remarks>
public sealed class WavLMSelfAttention : SelfAttention
{
    private readonly Parameter gru_rel_pos_const;
    private readonly Embedding? rel_attn_embed;
    private readonly Linear gru_rel_pos_linear;
    private long[] remainingHeads;

    /// <summary>Creates the block.</summary>
    /// <param name="embedDim">E.</param>
    /// <param name="totalNumHeads">Heads before pruning; head_dim = E / totalNumHeads.</param>
    /// <param name="remainingHeads">Indices of the kept heads, or null for all.</param>
    /// <param name="dropout">Attention dropout.</param>
    /// <param name="bias">Projection biases.</param>
    /// <param name="hasRelativeAttentionBias">Own the bucket embedding (layer 0).</param>
    /// <param name="numBuckets">Relative position buckets (320).</param>
    /// <param name="maxDistance">Largest bucketed distance (800).</param>
    /// <param name="pruneHeads">HardConcrete over the kept heads.</param>
    /// <param name="pruneLayer">HardConcrete over the block.</param>
    public WavLMSelfAttention(int embedDim, int totalNumHeads, IReadOnlyList<int>? remainingHeads = null,
        double dropout = 0.0, bool bias = true, bool hasRelativeAttentionBias = false, int numBuckets = 32,
        int maxDistance = 128, bool pruneHeads = false, bool pruneLayer = false)
        : base(nameof(WavLMSelfAttention), embedDim, (remainingHeads ?? Enumerable.Range(0, totalNumHeads).ToArray()).Count,
            embedDim / totalNumHeads, dropout, pruneHeads, pruneLayer, bias)
    {
        TotalNumHeads = totalNumHeads;
        this.remainingHeads = (remainingHeads ?? Enumerable.Range(0, totalNumHeads).ToArray()).Select(h => (long)h).ToArray();
        NumBuckets = numBuckets;
        MaxDistance = maxDistance;
        gru_rel_pos_const = nn.Parameter(ones(1, totalNumHeads, 1, 1));
        rel_attn_embed = hasRelativeAttentionBias ? nn.Embedding(numBuckets, totalNumHeads) : null;
        gru_rel_pos_linear = nn.Linear(HeadDim, 8);
        RegisterComponents();
    }

    /// <summary>Heads before pruning.</summary>
    public int TotalNumHeads { get; }

    /// <summary>Indices of the kept heads.</summary>
    public IReadOnlyList<int> RemainingHeads => remainingHeads.Select(h => (int)h).ToArray();

    /// <summary>Relative position buckets.</summary>
    public int NumBuckets { get; }

    /// <summary>Largest bucketed distance.</summary>
    public int MaxDistance { get; }

    /// <summary>Whether this layer owns the bucket embedding.</summary>
    public bool HasRelativeAttentionBias => rel_attn_embed is not null;

    /// <summary>Runs attention with the gated relative bias.</summary>
    /// <param name="query">[batch, frames, E].</param>
    /// <param name="attentionMask">Additive padding mask [batch, 1, frames, frames], or null.</param>
    /// <param name="positionBias">The un-gated bias [batch * H_total, frames, frames] from layer 0, or null.</param>
    /// <returns>[batch, frames, E] and the un-gated bias for the next layer.</returns>
    public override (Tensor Output, Tensor? PositionBias) forward(Tensor query, Tensor? attentionMask, Tensor? positionBias)
    {
        if (query.ndim != 3 || query.shape[2] != EmbedDim)
            throw new ArgumentException($"The expected input shape is (batch, sequence, embed_dim=={EmbedDim}). Found {Shapes.Format(query)}.", nameof(query));
        // The gate and bias intermediates live in this scope (attention itself frees its own as it goes).
        Tensor? mask = null;
        using (var scope = NewDisposeScope())
        {
            long b = query.shape[0], l = query.shape[1];
            if (rel_attn_embed is not null && positionBias is null)
                positionBias = ComputeBias(l, l).unsqueeze(0).repeat(b, 1, 1, 1).view(b * TotalNumHeads, l, l);

            if (positionBias is not null)
            {
                var qLayer = query.view(b, l, TotalNumHeads, -1).permute(0, 2, 1, 3);        // B, Ht, L, Hd
                var g = gru_rel_pos_linear.call(qLayer).view(b, TotalNumHeads, l, 2, 4).sum(-1L);
                var gates = g.sigmoid().chunk(2, -1);
                var gate = (gates[0] * (gates[1] * gru_rel_pos_const).Minus(1.0)).Plus(2.0);    // B, Ht, L, 1
                var gated = gate.view(b * TotalNumHeads, l, 1) * positionBias;
                var rel = gated.view(b, TotalNumHeads, l, l);
                if (remainingHeads.Length == TotalNumHeads && remainingHeads.Select((h, i) => h == i).All(x => x))
                    mask = rel;
                else
                {
                    using var index = tensor(remainingHeads, device: rel.device);
                    mask = rel.index_select(1, index);                                       // B, H, L, L
                    rel.Dispose();  // one [B, H, L, L] at a time
                    gated.Dispose();
                }
            }
            if (attentionMask is not null)
            {
                if (mask is null) mask = attentionMask;
                // The gated bias is ours: under no_grad it takes the padding mask in place instead of a second copy.
                else if (!is_grad_enabled()) mask.PlusInPlace(attentionMask);
                else mask = mask.Plus(attentionMask);
            }
            Scopes.Keep(scope, positionBias, mask);
        }
        var output = Attend(query, mask);
        if (mask is not null && !ReferenceEquals(mask, attentionMask) && !ReferenceEquals(mask, positionBias)) mask.Dispose();
        return (output, positionBias);
    }

    /// <summary>The relative bias [H_total, qLen, kLen] from the bucket embedding (layer 0 only).</summary>
    /// <param name="queryLength">Query frames.</param>
    /// <param name="keyLength">Key frames.</param>
    public Tensor ComputeBias(long queryLength, long keyLength)
    {
        if (rel_attn_embed is null) throw new InvalidOperationException("Only the layer with rel_attn_embed can compute the bias.");
        using var scope = NewDisposeScope();
        // Buckets are computed on the CPU in float32, like the original, so their boundaries are identical on any device.
        var context = ScalarSafe.Arange(queryLength).unsqueeze(1);
        var memory = ScalarSafe.Arange(keyLength).unsqueeze(0);
        var bucket = RelativePositionBucket(memory.Minus(context), NumBuckets, MaxDistance).to(rel_attn_embed.weight!.device);
        return rel_attn_embed.call(bucket).permute(2, 0, 1).MoveToOuterDisposeScope();
    }

    /// <summary>Bidirectional bucket of each relative position (key - query): exact below half the buckets per side,
    /// log-spaced up to <paramref name="maxDistance"/>, computed in float32 and truncated like the original.</summary>
    /// <param name="relativePosition">int64 offsets.</param>
    /// <param name="numBuckets">Total buckets (both sides).</param>
    /// <param name="maxDistance">Largest distinguished distance.</param>
    public static Tensor RelativePositionBucket(Tensor relativePosition, int numBuckets, int maxDistance)
    {
        using var scope = NewDisposeScope();
        long nb = numBuckets / 2;
        var buckets = relativePosition.GreaterThan(0).to(int64).Times(nb);
        var rel = relativePosition.abs();
        long maxExact = nb / 2;
        var isSmall = rel.LessThan(maxExact);
        var large = rel.to(float32).DividedBy(maxExact).log().DividedBy(Math.Log(maxDistance / (double)maxExact)).Times(nb - maxExact);
        var largeBucket = large.to(int64).Plus(maxExact);
        largeBucket = largeBucket.ClampMax(nb - 1);
        buckets = buckets.Plus(where(isSmall, rel, largeBucket));
        return buckets.MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override IReadOnlyList<int> HeadIds => RemainingHeads;

    /// <inheritdoc/>
    protected override void OnHeadsKept(IReadOnlyList<int> kept) =>
        remainingHeads = kept.Select(i => remainingHeads[i]).ToArray();
}
