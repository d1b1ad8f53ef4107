using System;
using System.Collections.Generic;

namespace DpHubert.Config;

public sealed partial record Wav2Vec2Config
{
    /// <summary>wav2vec 2.0 Base (group-norm extractor, 12 post-norm layers of 768, 12 heads, FFN 3072).</summary>
    public static Wav2Vec2Config Wav2Vec2Base { get; } = Uniform(ModelKind.Wav2Vec2, ExtractorMode.GroupNorm, false, 768, 12, 12, 3072, false,
        projection: 0.1, attention: 0.1, ffInterm: 0.1, dropout: 0.1, layerDrop: 0.1);

    /// <summary>wav2vec 2.0 Large (group-norm extractor, 24 post-norm layers of 1024, 16 heads, FFN 4096).</summary>
    public static Wav2Vec2Config Wav2Vec2Large { get; } = Uniform(ModelKind.Wav2Vec2, ExtractorMode.GroupNorm, false, 1024, 24, 16, 4096, false,
        projection: 0.1, attention: 0.1, ffInterm: 0.1, dropout: 0.1, layerDrop: 0.1);

    /// <summary>wav2vec 2.0 Large LV-60k (layer-norm extractor with conv bias, 24 pre-norm layers of 1024).</summary>
    public static Wav2Vec2Config Wav2Vec2LargeLv60k { get; } = Uniform(ModelKind.Wav2Vec2, ExtractorMode.LayerNorm, true, 1024, 24, 16, 4096, true,
        projection: 0.1, attention: 0.0, ffInterm: 0.1, dropout: 0.0, layerDrop: 0.1);

    /// <summary>HuBERT Base, as DPHuBERT's teacher config (<c>convert_hubert_from_hf.py</c>).</summary>
    public static Wav2Vec2Config HubertBase { get; } = Uniform(ModelKind.Hubert, ExtractorMode.GroupNorm, false, 768, 12, 12, 3072, false,
        projection: 0.1, attention: 0.1, ffInterm: 0.0, dropout: 0.1, layerDrop: 0.05);

    /// <summary>HuBERT Large (layer-norm extractor, 24 pre-norm layers of 1024, 16 heads, FFN 4096).</summary>
    public static Wav2Vec2Config HubertLarge { get; } = Uniform(ModelKind.Hubert, ExtractorMode.LayerNorm, false, 1024, 24, 16, 4096, true,
        projection: 0.0, attention: 0.0, ffInterm: 0.0, dropout: 0.0, layerDrop: 0.0);

    /// <summary>HuBERT X-Large (layer-norm extractor, 48 pre-norm layers of 1280, 16 heads of 80, FFN 5120).</summary>
    public static Wav2Vec2Config HubertXLarge { get; } = Uniform(ModelKind.Hubert, ExtractorMode.LayerNorm, false, 1280, 48, 16, 5120, true,
        projection: 0.0, attention: 0.0, ffInterm: 0.0, dropout: 0.0, layerDrop: 0.0);

    /// <summary>WavLM Base / Base+ (group-norm extractor, 12 post-norm layers, 320 buckets up to distance 800).</summary>
    public static Wav2Vec2Config WavLMBase { get; } = Uniform(ModelKind.WavLM, ExtractorMode.GroupNorm, false, 768, 12, 12, 3072, false,
        projection: 0.1, attention: 0.1, ffInterm: 0.1, dropout: 0.1, layerDrop: 0.1);

    /// <summary>WavLM Large (layer-norm extractor, 24 pre-norm layers of 1024, 16 heads).</summary>
    public static Wav2Vec2Config WavLMLarge { get; } = Uniform(ModelKind.WavLM, ExtractorMode.LayerNorm, false, 1024, 24, 16, 4096, true,
        projection: 0.1, attention: 0.1, ffInterm: 0.0, dropout: 0.1, layerDrop: 0.1);

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

    // torchaudio's factory arguments (wav2vec2_base() ..., wavlm_large()), expanded per layer as every size-once config
    // is, with normalize_waveform on for layer-norm extractors, as DPHuBERT's converters set it.
    private static Wav2Vec2Config Uniform(ModelKind kind, ExtractorMode mode, bool convBias, int embed, int layers, int heads,
        int ffn, bool layerNormFirst, double projection, double attention, double ffInterm, double dropout, double layerDrop)
    {
        var kwargs = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["extractor_mode"] = mode == ExtractorMode.GroupNorm ? "group_norm" : "layer_norm",
            ["extractor_conv_layer_config"] = null, // the default stack
            ["extractor_conv_bias"] = convBias,
            ["encoder_embed_dim"] = (long)embed,
            ["encoder_projection_dropout"] = projection,
            ["encoder_pos_conv_kernel"] = 128L,
            ["encoder_pos_conv_groups"] = 16L,
            ["encoder_num_layers"] = (long)layers,
            ["encoder_num_heads"] = (long)heads,
            ["encoder_attention_dropout"] = attention,
            ["encoder_ff_interm_features"] = (long)ffn,
            ["encoder_ff_interm_dropout"] = ffInterm,
            ["encoder_dropout"] = dropout,
            ["encoder_layer_norm_first"] = layerNormFirst,
            ["encoder_layer_drop"] = layerDrop,
            ["normalize_waveform"] = mode == ExtractorMode.LayerNorm,
        };
        if (kind == ModelKind.WavLM)
        {
            kwargs["encoder_num_buckets"] = 320L;
            kwargs["encoder_max_distance"] = 800L;
        }
        return ConfigDictionaryMap.ReadUniform(kwargs, kind, note: null);
    }
}
