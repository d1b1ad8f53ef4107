using System;
using System.Collections.Generic;

namespace DpHubert.Config;

// torchaudio's factory functions (wav2vec2_base() ... wavlm_large()) as literal records: the default conv stack, the
// positional conv of 128 / 16 groups, every layer alike with heads of E / h, and normalize_waveform on for layer-norm
// extractors, as DPHuBERT's converters set it.
public sealed partial record Wav2Vec2Config
{
    /// <summary>wav2vec 2.0 Base (group-norm extractor, 12 post-norm layers of 768, 12 heads, FFN 3072).</summary>
    public static Wav2Vec2Config Wav2Vec2Base { get; } = new()
    {
        Kind = ModelKind.Wav2Vec2,
        ExtractorMode = ExtractorMode.GroupNorm,
        EncoderEmbedDim = 768,
        EncoderLayers = EncoderLayerConfig.Standard(numHeads: 12, ffIntermFeatures: 3072).Repeat(12),
        EncoderHeadDim = 64,
        EncoderProjectionDropout = 0.1, EncoderAttentionDropout = 0.1, EncoderFfIntermDropout = 0.1, EncoderDropout = 0.1,
        EncoderLayerDrop = 0.1,
    };

    /// <summary>wav2vec 2.0 Large (group-norm extractor, 24 post-norm layers of 1024, 16 heads, FFN 4096).</summary>
    public static Wav2Vec2Config Wav2Vec2Large { get; } = new()
    {
        Kind = ModelKind.Wav2Vec2,
        ExtractorMode = ExtractorMode.GroupNorm,
        EncoderEmbedDim = 1024,
        EncoderLayers = EncoderLayerConfig.Standard(numHeads: 16, ffIntermFeatures: 4096).Repeat(24),
        EncoderHeadDim = 64,
        EncoderProjectionDropout = 0.1, EncoderAttentionDropout = 0.1, EncoderFfIntermDropout = 0.1, EncoderDropout = 0.1,
        EncoderLayerDrop = 0.1,
    };

    /// <summary>wav2vec 2.0 Large LV-60k (layer-norm extractor with conv bias, 24 pre-norm layers of 1024).</summary>
    public static Wav2Vec2Config Wav2Vec2LargeLv60k { get; } = new()
    {
        Kind = ModelKind.Wav2Vec2,
        ExtractorMode = ExtractorMode.LayerNorm,
        ExtractorConvBias = true,
        EncoderEmbedDim = 1024,
        EncoderLayers = EncoderLayerConfig.Standard(numHeads: 16, ffIntermFeatures: 4096).Repeat(24),
        EncoderHeadDim = 64,
        EncoderLayerNormFirst = true,
        NormalizeWaveform = true,
        EncoderProjectionDropout = 0.1, EncoderAttentionDropout = 0.0, EncoderFfIntermDropout = 0.1, EncoderDropout = 0.0,
        EncoderLayerDrop = 0.1,
    };

    /// <summary>HuBERT Base, as DPHuBERT's teacher config (<c>convert_hubert_from_hf.py</c>).</summary>
    public static Wav2Vec2Config HubertBase { get; } = new()
    {
        Kind = ModelKind.Hubert,
        ExtractorMode = ExtractorMode.GroupNorm,
        EncoderEmbedDim = 768,
        EncoderLayers = EncoderLayerConfig.Standard(numHeads: 12, ffIntermFeatures: 3072).Repeat(12),
        EncoderHeadDim = 64,
        EncoderProjectionDropout = 0.1, EncoderAttentionDropout = 0.1, EncoderFfIntermDropout = 0.0, EncoderDropout = 0.1,
        EncoderLayerDrop = 0.05,
    };

    /// <summary>HuBERT Large (layer-norm extractor, 24 pre-norm layers of 1024, 16 heads, FFN 4096).</summary>
    public static Wav2Vec2Config HubertLarge { get; } = new()
    {
        Kind = ModelKind.Hubert,
        ExtractorMode = ExtractorMode.LayerNorm,
        EncoderEmbedDim = 1024,
        EncoderLayers = EncoderLayerConfig.Standard(numHeads: 16, ffIntermFeatures: 4096).Repeat(24),
        EncoderHeadDim = 64,
        EncoderLayerNormFirst = true,
        NormalizeWaveform = true,
        EncoderProjectionDropout = 0.0, EncoderAttentionDropout = 0.0, EncoderFfIntermDropout = 0.0, EncoderDropout = 0.0,
        EncoderLayerDrop = 0.0,
    };

    /// <summary>HuBERT X-Large (layer-norm extractor, 48 pre-norm layers of 1280, 16 heads of 80, FFN 5120).</summary>
    public static Wav2Vec2Config HubertXLarge { get; } = new()
    {
        Kind = ModelKind.Hubert,
        ExtractorMode = ExtractorMode.LayerNorm,
        EncoderEmbedDim = 1280,
        EncoderLayers = EncoderLayerConfig.Standard(numHeads: 16, ffIntermFeatures: 5120).Repeat(48),
        EncoderHeadDim = 80,
        EncoderLayerNormFirst = true,
        NormalizeWaveform = true,
        EncoderProjectionDropout = 0.0, EncoderAttentionDropout = 0.0, EncoderFfIntermDropout = 0.0, EncoderDropout = 0.0,
        EncoderLayerDrop = 0.0,
    };

    /// <summary>WavLM Base / Base+ (group-norm extractor, 12 post-norm layers, 320 buckets up to distance 800).</summary>
    public static Wav2Vec2Config WavLMBase { get; } = new()
    {
        Kind = ModelKind.WavLM,
        ExtractorMode = ExtractorMode.GroupNorm,
        EncoderEmbedDim = 768,
        EncoderLayers = EncoderLayerConfig.WavLM(totalNumHeads: 12, ffIntermFeatures: 3072).Repeat(12),
        EncoderNumBuckets = 320,
        EncoderMaxDistance = 800,
        EncoderProjectionDropout = 0.1, EncoderAttentionDropout = 0.1, EncoderFfIntermDropout = 0.1, EncoderDropout = 0.1,
        EncoderLayerDrop = 0.1,
    };

    /// <summary>WavLM Large (layer-norm extractor, 24 pre-norm layers of 1024, 16 heads).</summary>
    public static Wav2Vec2Config WavLMLarge { get; } = new()
    {
        Kind = ModelKind.WavLM,
        ExtractorMode = ExtractorMode.LayerNorm,
        EncoderEmbedDim = 1024,
        EncoderLayers = EncoderLayerConfig.WavLM(totalNumHeads: 16, ffIntermFeatures: 4096).Repeat(24),
        EncoderNumBuckets = 320,
        EncoderMaxDistance = 800,
        EncoderLayerNormFirst = true,
        NormalizeWaveform = true,
        EncoderProjectionDropout = 0.1, EncoderAttentionDropout = 0.1, EncoderFfIntermDropout = 0.0, EncoderDropout = 0.1,
        EncoderLayerDrop = 0.1,
    };

    /// <summary>The named presets, by the original builder names (<c>wav2vec2_base</c>, <c>hubert_large</c>, ...).</summary>
    public static IReadOnlyDictionary<string, Wav2Vec2Config> Presets { get; } = new Dictionary<string, Wav2Vec2Config>
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
    /// <exception cref="ArgumentException">Unknown name; the message lists the available presets.</exception>
    public static Wav2Vec2Config Preset(string name) => Presets.TryGetValue(name, out var c) ? c
        : throw new ArgumentException(
            $"Unknown architecture '{name}'. Available presets: {string.Join(", ", Presets.Keys)}", nameof(name));
}
