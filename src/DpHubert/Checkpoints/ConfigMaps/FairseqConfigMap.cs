using System;
using DpHubert.Config;
using DpHubert.PyTorch;
using static DpHubert.Checkpoints.ConfigMaps.ForeignConfigMap;

namespace DpHubert.Checkpoints.ConfigMaps;

/// <summary>
/// A fairseq wav2vec 2.0 / HuBERT architecture section (<c>cfg.model</c>, <c>args</c>, a fine-tuned model's
/// <c>w2v_args</c>; also unilm's flat WavLM cfg) → the config, with fairseq's defaults, as torchaudio's
/// <c>import_fairseq._parse_config</c> maps it. A fine-tuning config's dropouts win (<see cref="ForeignField{T}.OverrideKey"/>);
/// <c>normalize</c> comes from the task section and is joined by the loader.
/// </summary>
internal static class FairseqConfigMap
{
    private static ForeignField<UniformArchitecture> R<TValue>(string key, Func<object?, TValue> convert,
        Func<UniformArchitecture, TValue, UniformArchitecture> set, object? defaultValue) => Row(key, convert, set, defaultValue);

    /// <summary>The table.</summary>
    public static ForeignConfigMap<UniformArchitecture> Table { get; } = new("fairseq's", NullIsAbsent: true, new[]
    {
        R("extractor_mode", Mode, (a, v) => a with { ExtractorMode = v }, "default"),
        R("conv_feature_layers", ConvLayers, (a, v) => a with { ConvLayers = v }, "[(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512,2,2)] + [(512,2,2)]"),
        R("encoder_embed_dim", Int, (a, v) => a with { EmbedDim = v }, 768L),
        R("encoder_layers", Int, (a, v) => a with { NumLayers = v }, 12L),
        R("encoder_attention_heads", Int, (a, v) => a with { NumHeads = v }, 12L),
        R("encoder_ffn_embed_dim", Int, (a, v) => a with { FfIntermFeatures = v }, 3072L),
        R("conv_bias", Bool, (a, v) => a with { ConvBias = v }, false),
        R("dropout_input", Double, (a, v) => a with { ProjectionDropout = v }, 0.0) with { OverrideKey = "dropout_input" },
        R("conv_pos", Int, (a, v) => a with { PosConvKernel = v }, 128L),
        R("conv_pos_groups", Int, (a, v) => a with { PosConvGroups = v }, 16L),
        R("attention_dropout", Double, (a, v) => a with { AttentionDropout = v }, 0.1) with { OverrideKey = "attention_dropout" },
        R("activation_dropout", Double, (a, v) => a with { FfIntermDropout = v }, 0.0) with { OverrideKey = "activation_dropout" },
        R("dropout", Double, (a, v) => a with { Dropout = v }, 0.1) with { OverrideKey = "dropout" },
        R("layer_norm_first", Bool, (a, v) => a with { LayerNormFirst = v }, false),
        R("encoder_layerdrop", Double, (a, v) => a with { LayerDrop = v }, 0.0) with { OverrideKey = "layerdrop" },
        // unilm's WavLM cfg only (fairseq's own WavLM is refused before).
        R("num_buckets", Int, (a, v) => a with { NumBuckets = v }, 320L) with { WavLMOnly = true, Whose = "unilm's" },
        R("max_distance", Int, (a, v) => a with { MaxDistance = v }, 1280L) with { WavLMOnly = true, Whose = "unilm's" },
    });

    /// <summary>The family a fairseq <c>_name</c> / <c>arch</c> declares; one without a name has wav2vec 2.0's layout.</summary>
    public static ModelKind KindOf(string? name) =>
        name is not null && (name.Contains("hubert", StringComparison.OrdinalIgnoreCase) || name.Contains("contentvec", StringComparison.OrdinalIgnoreCase))
            ? ModelKind.Hubert
            : ModelKind.Wav2Vec2;

    /// <summary>
    /// Reads an architecture section (with <paramref name="overrides"/>' dropouts) into the per-layer config of
    /// <paramref name="kind"/>, not yet validated; <c>normalize_waveform</c> is left to the caller.
    /// </summary>
    /// <exception cref="CheckpointFormatException">A value of the wrong type, or a width that does not split into the heads.</exception>
    public static Wav2Vec2Config Read(ConfigLookup arch, ConfigLookup? overrides, ModelKind kind, string path, string where, LoadReport report)
    {
        var architecture = Table.Read(new UniformArchitecture { Kind = kind }, arch, overrides, kind, path, where, report);
        CheckHeadsDivideWidth(architecture, "encoder_embed_dim", "encoder_attention_heads", path);
        return architecture.ToConfig();
    }

    private static ExtractorMode Mode(object? v) => String(v) switch
    {
        "default" => ExtractorMode.GroupNorm,
        "layer_norm" => ExtractorMode.LayerNorm,
        var s => throw new ConfigValueException($"extractor_mode '{s}' (expected 'default' or 'layer_norm')"),
    };

    private static EquatableArray<ConvLayerSpec> ConvLayers(object? v)
    {
        var text = String(v);
        try
        {
            return FairseqConvLayers.Parse(text);
        }
        catch (FormatException e)
        {
            throw new ConfigValueException(e.Message, e);
        }
    }
}
