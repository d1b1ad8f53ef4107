namespace DpHubert.Config;

/// <summary>Which attention block the encoder layers use; <see cref="Wav2Vec2Config.Kind"/> decides it.</summary>
public enum AttentionKind
{
    /// <summary>wav2vec 2.0 / HuBERT multi-head self-attention (<c>encoder_num_heads</c>, <c>encoder_head_dim</c>).</summary>
    Standard,

    /// <summary>WavLM self-attention with gated relative position bias (<c>encoder_total_num_heads</c>,
    /// <c>encoder_remaining_heads</c>, <c>encoder_num_buckets</c>, <c>encoder_max_distance</c>).</summary>
    WavLM,
}
