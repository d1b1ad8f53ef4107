namespace DpHubert.Config;

/// <summary>
/// An architecture whose layers are all alike, in the form torchaudio's <c>wav2vec2_model</c> / <c>wavlm_model</c>
/// take it (head count and feed-forward width given once): what a foreign config (Hugging Face, fairseq, unilm,
/// HuBERT-Soft) describes. <see cref="ToConfig"/> is the one typed per-layer expansion.
/// </summary>
internal sealed record UniformArchitecture
{
    /// <summary>The model family, decided by the format that read it.</summary>
    public ModelKind Kind { get; init; } = ModelKind.Wav2Vec2;

    /// <summary><c>extractor_mode</c>.</summary>
    public ExtractorMode ExtractorMode { get; init; } = ExtractorMode.GroupNorm;

    /// <summary><c>extractor_conv_layer_config</c>.</summary>
    public EquatableArray<ConvLayerSpec> ConvLayers { get; init; } = Wav2Vec2Config.DefaultConvLayers;

    /// <summary><c>extractor_conv_bias</c>.</summary>
    public bool ConvBias { get; init; }

    /// <summary><c>encoder_embed_dim</c>.</summary>
    public int EmbedDim { get; init; } = 768;

    /// <summary><c>encoder_projection_dropout</c>.</summary>
    public double ProjectionDropout { get; init; } = 0.1;

    /// <summary><c>encoder_pos_conv_kernel</c>.</summary>
    public int PosConvKernel { get; init; } = 128;

    /// <summary><c>encoder_pos_conv_groups</c>.</summary>
    public int PosConvGroups { get; init; } = 16;

    /// <summary><c>encoder_num_layers</c>.</summary>
    public int NumLayers { get; init; } = 12;

    /// <summary><c>encoder_num_heads</c> of every layer (for WavLM its total, all kept).</summary>
    public int NumHeads { get; init; } = 12;

    /// <summary><c>encoder_attention_dropout</c>.</summary>
    public double AttentionDropout { get; init; } = 0.1;

    /// <summary><c>encoder_ff_interm_features</c> of every layer.</summary>
    public int FfIntermFeatures { get; init; } = 3072;

    /// <summary><c>encoder_ff_interm_dropout</c>.</summary>
    public double FfIntermDropout { get; init; }

    /// <summary><c>encoder_dropout</c>.</summary>
    public double Dropout { get; init; } = 0.1;

    /// <summary><c>encoder_layer_norm_first</c>.</summary>
    public bool LayerNormFirst { get; init; }

    /// <summary><c>encoder_layer_drop</c>.</summary>
    public double LayerDrop { get; init; } = 0.05;

    /// <summary><c>encoder_num_buckets</c> (WavLM only).</summary>
    public int NumBuckets { get; init; } = 320;

    /// <summary><c>encoder_max_distance</c> (WavLM only).</summary>
    public int MaxDistance { get; init; } = 800;

    /// <summary><c>normalize_waveform</c>.</summary>
    public bool NormalizeWaveform { get; init; }

    /// <summary><c>aux_num_out</c>.</summary>
    public int? AuxNumOut { get; init; }

    /// <summary>The per-layer config: every layer with both blocks, <see cref="NumHeads"/> heads of E / h (for WavLM
    /// every head kept) and <see cref="FfIntermFeatures"/> units. Not validated.</summary>
    public Wav2Vec2Config ToConfig()
    {
        bool wavlm = Kind == ModelKind.WavLM;
        var layer = wavlm
            ? EncoderLayerConfig.WavLM(NumHeads, FfIntermFeatures)
            : EncoderLayerConfig.Standard(NumHeads, FfIntermFeatures);
        return new Wav2Vec2Config
        {
            Kind = Kind,
            ExtractorMode = ExtractorMode,
            ExtractorConvLayerConfig = ConvLayers,
            ExtractorConvBias = ConvBias,
            EncoderEmbedDim = EmbedDim,
            EncoderProjectionDropout = ProjectionDropout,
            EncoderPosConvKernel = PosConvKernel,
            EncoderPosConvGroups = PosConvGroups,
            EncoderLayers = layer.Repeat(NumLayers),
            // A width that does not split into whole heads is refused by the caller, named by its own keys.
            EncoderHeadDim = wavlm ? null : NumHeads > 0 ? EmbedDim / NumHeads : 0,
            EncoderNumBuckets = wavlm ? NumBuckets : null,
            EncoderMaxDistance = wavlm ? MaxDistance : null,
            EncoderAttentionDropout = AttentionDropout,
            EncoderFfIntermDropout = FfIntermDropout,
            EncoderDropout = Dropout,
            EncoderLayerNormFirst = LayerNormFirst,
            EncoderLayerDrop = LayerDrop,
            AuxNumOut = AuxNumOut,
            NormalizeWaveform = NormalizeWaveform,
        };
    }
}
