using System.Linq;

namespace DpHubert.Config;

public sealed partial record Wav2Vec2Config
{
    /// <summary>wav2vec 2.0 Base (group-norm extractor, 12 post-norm layers of 768, 12 heads, FFN 3072).</summary>
    public static Wav2Vec2Config Wav2Vec2Base { get; } = Uniform(ExtractorMode.GroupNorm, false, 768, 12, 12, 3072, false,
        projection: 0.1, attention: 0.1, ffInterm: 0.1, dropout: 0.1, layerDrop: 0.1);

    /// <summary>wav2vec 2.0 Large (group-norm extractor, 24 post-norm layers of 1024, 16 heads, FFN 4096).</summary>
    public static Wav2Vec2Config Wav2Vec2Large { get; } = Uniform(ExtractorMode.GroupNorm, false, 1024, 24, 16, 4096, false,
        projection: 0.1, attention: 0.1, ffInterm: 0.1, dropout: 0.1, layerDrop: 0.1);

    /// <summary>wav2vec 2.0 Large LV-60k (layer-norm extractor with conv bias, 24 pre-norm layers of 1024).</summary>
    public static Wav2Vec2Config Wav2Vec2LargeLv60k { get; } = Uniform(ExtractorMode.LayerNorm, true, 1024, 24, 16, 4096, true,
        projection: 0.1, attention: 0.0, ffInterm: 0.1, dropout: 0.0, layerDrop: 0.1);

    /// <summary>HuBERT Base, as DPHuBERT's teacher config (<c>convert_hubert_from_hf.py</c>).</summary>
    public static Wav2Vec2Config HubertBase { get; } = Uniform(ExtractorMode.GroupNorm, false, 768, 12, 12, 3072, false,
        projection: 0.1, attention: 0.1, ffInterm: 0.0, dropout: 0.1, layerDrop: 0.05);

    /// <summary>HuBERT Large (layer-norm extractor, 24 pre-norm layers of 1024, 16 heads, FFN 4096).</summary>
    public static Wav2Vec2Config HubertLarge { get; } = Uniform(ExtractorMode.LayerNorm, false, 1024, 24, 16, 4096, true,
        projection: 0.0, attention: 0.0, ffInterm: 0.0, dropout: 0.0, layerDrop: 0.0);

    /// <summary>HuBERT X-Large (layer-norm extractor, 48 pre-norm layers of 1280, 16 heads of 80, FFN 5120).</summary>
    public static Wav2Vec2Config HubertXLarge { get; } = Uniform(ExtractorMode.LayerNorm, false, 1280, 48, 16, 5120, true,
        projection: 0.0, attention: 0.0, ffInterm: 0.0, dropout: 0.0, layerDrop: 0.0);

    /// <summary>WavLM Base / Base+ (group-norm extractor, 12 post-norm layers, 320 buckets up to distance 800).</summary>
    public static Wav2Vec2Config WavLMBase { get; } = ToWavLM(Uniform(ExtractorMode.GroupNorm, false, 768, 12, 12, 3072, false,
        projection: 0.1, attention: 0.1, ffInterm: 0.1, dropout: 0.1, layerDrop: 0.1), 12);

    /// <summary>WavLM Large (layer-norm extractor, 24 pre-norm layers of 1024, 16 heads).</summary>
    public static Wav2Vec2Config WavLMLarge { get; } = ToWavLM(Uniform(ExtractorMode.LayerNorm, false, 1024, 24, 16, 4096, true,
        projection: 0.1, attention: 0.1, ffInterm: 0.0, dropout: 0.1, layerDrop: 0.1), 16);

    /// <summary>The named presets, by the original builder names (<c>wav2vec2_base</c>, <c>hubert_large</c>, ...).</summary>
    public static System.Collections.Generic.IReadOnlyDictionary<string, Wav2Vec2Config> Presets { get; } =
        new System.Collections.Generic.Dictionary<string, Wav2Vec2Config>
        {
            ["wav2vec2_base"] = Wav2Vec2Base,
            ["wav2vec2_large"] = Wav2Vec2Large,
            ["wav2vec2_large_lv60k"] = Wav2Vec2LargeLv60k,
            ["hubert_base"] = HubertBase,
            ["hubert_large"] = HubertLarge,
            ["hubert_xlarge"] = HubertXLarge,
            ["wavlm_base"] = WavLMBase,
            ["wavlm_large"] = WavLMLarge,
        };

    /// <summary>Looks up a preset by its builder name.</summary>
    /// <param name="name">e.g. <c>hubert_base</c>.</param>
    /// <exception cref="System.ArgumentException">Unknown name; the message lists the available presets.</exception>
    public static Wav2Vec2Config Preset(string name) => Presets.TryGetValue(name, out var c) ? c
        : throw new System.ArgumentException(
            $"Unknown architecture '{name}'. Available presets: {string.Join(", ", Presets.Keys)}", nameof(name));

    // The torchaudio presets, with the per-layer lists DPHuBERT needs filled in (torchaudio's factories leave them out)
    // and normalize_waveform on for layer-norm extractors, as DPHuBERT's converters set it.
    private static Wav2Vec2Config Uniform(ExtractorMode mode, bool convBias, int embed, int layers, int heads, int ffn,
        bool layerNormFirst, double projection, double attention, double ffInterm, double dropout, double layerDrop) => new()
    {
        ExtractorMode = mode,
        ExtractorConvLayerConfig = DefaultConvLayers,
        ExtractorConvBias = convBias,
        EncoderEmbedDim = embed,
        EncoderProjectionDropout = projection,
        EncoderPosConvKernel = 128,
        EncoderPosConvGroups = 16,
        EncoderNumLayers = layers,
        EncoderUseAttention = Enumerable.Repeat(true, layers).ToArray(),
        EncoderUseFeedForward = Enumerable.Repeat(true, layers).ToArray(),
        EncoderNumHeads = Enumerable.Repeat(heads, layers).ToArray(),
        EncoderHeadDim = embed / heads,
        EncoderAttentionDropout = attention,
        EncoderFfIntermFeatures = Enumerable.Repeat(ffn, layers).ToArray(),
        EncoderFfIntermDropout = ffInterm,
        EncoderDropout = dropout,
        EncoderLayerNormFirst = layerNormFirst,
        EncoderLayerDrop = layerDrop,
        AuxNumOut = null,
        NormalizeWaveform = mode == ExtractorMode.LayerNorm,
    };

    /// <summary>The WavLM form of a uniform config: every head of every layer kept, 320 buckets up to distance 800.</summary>
    internal static Wav2Vec2Config ToWavLM(Wav2Vec2Config c, int heads) => c with
    {
        EncoderNumHeads = null,
        EncoderHeadDim = null,
        EncoderTotalNumHeads = Enumerable.Repeat(heads, c.EncoderNumLayers).ToArray(),
        EncoderRemainingHeads = Enumerable.Range(0, c.EncoderNumLayers)
            .Select(_ => (System.Collections.Generic.IReadOnlyList<int>)Enumerable.Range(0, heads).ToArray()).ToArray(),
        EncoderNumBuckets = 320,
        EncoderMaxDistance = 800,
    };
}
