namespace DpHubert.Config;

/// <summary>One convolution of the waveform feature extractor: <c>(out_channels, kernel_size, stride)</c>.</summary>
/// <param name="OutChannels">Output channels (512 in the unpruned models).</param>
/// <param name="KernelSize">Kernel width in samples or frames.</param>
/// <param name="Stride">Stride.</param>
public sealed record ConvLayerSpec(int OutChannels, int KernelSize, int Stride);

/// <summary>Normalization used inside the convolutional feature extractor.</summary>
public enum ExtractorMode
{
    /// <summary><c>"group_norm"</c>: a per-channel GroupNorm after the first convolution only (Base models).</summary>
    GroupNorm,

    /// <summary><c>"layer_norm"</c>: a LayerNorm over channels after every convolution (Large models).</summary>
    LayerNorm,
}

/// <summary>Which attention block the encoder layers use.</summary>
public enum AttentionKind
{
    /// <summary>wav2vec 2.0 / HuBERT multi-head self-attention (<c>encoder_num_heads</c>, <c>encoder_head_dim</c>).</summary>
    Standard,

    /// <summary>WavLM self-attention with gated relative position bias (<c>encoder_total_num_heads</c>,
    /// <c>encoder_remaining_heads</c>, <c>encoder_num_buckets</c>, <c>encoder_max_distance</c>).</summary>
    WavLM,
}
