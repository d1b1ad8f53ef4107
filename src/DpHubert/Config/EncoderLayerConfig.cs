using System;
using System.Linq;

namespace DpHubert.Config;

/// <summary>
/// One transformer layer of <see cref="Wav2Vec2Config.EncoderLayers"/>: entry <c>i</c> of the original's per-layer
/// lists (<c>encoder_use_attention</c>, <c>encoder_num_heads</c> or WavLM's <c>encoder_total_num_heads</c> and
/// <c>encoder_remaining_heads</c>, <c>encoder_use_feed_forward</c>, <c>encoder_ff_interm_features</c>). Pruned models
/// differ per layer; <see cref="Repeat"/> makes a uniform stack.
/// </summary>
public sealed record EncoderLayerConfig
{
    /// <summary><c>encoder_use_attention[i]</c>: whether the attention block exists.</summary>
    public bool UseAttention { get; init; } = true;

    /// <summary><c>encoder_num_heads[i]</c>: kept heads (<see cref="AttentionKind.Standard"/> only; null for WavLM).
    /// Kept as written where the attention block is absent.</summary>
    public int? NumHeads { get; init; }

    /// <summary><c>encoder_total_num_heads[i]</c>: heads before pruning (WavLM only; null otherwise).</summary>
    public int? TotalNumHeads { get; init; }

    /// <summary><c>encoder_remaining_heads[i]</c>: indices of the kept heads (WavLM only; null otherwise).</summary>
    public EquatableArray<int>? RemainingHeads { get; init; }

    /// <summary><c>encoder_use_feed_forward[i]</c>: whether the feed-forward block exists.</summary>
    public bool UseFeedForward { get; init; } = true;

    /// <summary><c>encoder_ff_interm_features[i]</c>: feed-forward width (kept as written where the block is absent).</summary>
    public int FfIntermFeatures { get; init; }

    /// <summary>A wav2vec 2.0 / HuBERT layer with both blocks.</summary>
    /// <param name="numHeads">Attention heads.</param>
    /// <param name="ffIntermFeatures">Feed-forward width.</param>
    public static EncoderLayerConfig Standard(int numHeads, int ffIntermFeatures) =>
        new() { NumHeads = numHeads, FfIntermFeatures = ffIntermFeatures };

    /// <summary>A WavLM layer with both blocks and every head kept.</summary>
    /// <param name="totalNumHeads">Attention heads.</param>
    /// <param name="ffIntermFeatures">Feed-forward width.</param>
    public static EncoderLayerConfig WavLM(int totalNumHeads, int ffIntermFeatures) =>
        WavLM(totalNumHeads, Enumerable.Range(0, Math.Max(0, totalNumHeads)).ToArray(), ffIntermFeatures);

    /// <summary>A WavLM layer with both blocks and the given heads kept.</summary>
    /// <param name="totalNumHeads">Attention heads before pruning.</param>
    /// <param name="remainingHeads">Indices of the kept heads.</param>
    /// <param name="ffIntermFeatures">Feed-forward width.</param>
    public static EncoderLayerConfig WavLM(int totalNumHeads, EquatableArray<int> remainingHeads, int ffIntermFeatures) =>
        new() { TotalNumHeads = totalNumHeads, RemainingHeads = remainingHeads, FfIntermFeatures = ffIntermFeatures };

    /// <summary><paramref name="count"/> copies of this layer, for <see cref="Wav2Vec2Config.EncoderLayers"/>.</summary>
    /// <param name="count">Number of layers.</param>
    public EquatableArray<EncoderLayerConfig> Repeat(int count) =>
        new(Enumerable.Repeat(this, Math.Max(0, count)));
}
