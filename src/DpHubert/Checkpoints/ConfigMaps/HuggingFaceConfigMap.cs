using System;
using System.Collections.Generic;
using DpHubert.Config;
using DpHubert.PyTorch;
using static DpHubert.Checkpoints.ConfigMaps.ForeignConfigMap;

namespace DpHubert.Checkpoints.ConfigMaps;

/// <summary>
/// Hugging Face <c>config.json</c> (<c>Wav2Vec2Config</c>, <c>HubertConfig</c>, <c>WavLMConfig</c> of transformers) →
/// the config dict, with the transformers defaults, as torchaudio's <c>import_huggingface_model._get_config</c> /
/// <c>_get_config_wavlm</c> map it. The conv stack (<c>conv_dim</c>, <c>conv_kernel</c>, <c>conv_stride</c>) and
/// <c>normalize_waveform</c> (preprocessor_config.json) span several keys and are joined by the loader.
/// </summary>
internal static class HuggingFaceConfigMap
{
    /// <summary>The <c>model_type</c>s read, in the order an <c>architectures</c> name is matched against them.</summary>
    public static IReadOnlyList<(string ModelType, ModelKind Kind)> ModelTypes { get; } = new[]
    {
        ("wav2vec2", ModelKind.Wav2Vec2), ("hubert", ModelKind.Hubert), ("wavlm", ModelKind.WavLM),
    };

    /// <summary>Intermediate keys of the conv stack, joined into <c>extractor_conv_layer_config</c>.</summary>
    public const string ConvDim = "conv_dim", ConvKernel = "conv_kernel", ConvStride = "conv_stride";

    /// <summary>The table.</summary>
    public static ForeignConfigMap Table { get; } = new("the transformers", NullIsAbsent: false, new ForeignField[]
    {
        new("feat_extract_norm", "extractor_mode", Norm, "group"),
        new("conv_dim", ConvDim, Ints, new[] { 512, 512, 512, 512, 512, 512, 512 }),
        new("conv_kernel", ConvKernel, Ints, new[] { 10, 3, 3, 3, 3, 2, 2 }),
        new("conv_stride", ConvStride, Ints, new[] { 5, 2, 2, 2, 2, 2, 2 }),
        new("hidden_size", "encoder_embed_dim", Long, 768L),
        new("num_hidden_layers", "encoder_num_layers", Long, 12L),
        new("num_attention_heads", "encoder_num_heads", Long, 12L),
        new("intermediate_size", "encoder_ff_interm_features", Long, 3072L),
        new("conv_bias", "extractor_conv_bias", Bool, false),
        new("feat_proj_dropout", "encoder_projection_dropout", Double, 0.0),
        new("num_conv_pos_embeddings", "encoder_pos_conv_kernel", Long, 128L),
        new("num_conv_pos_embedding_groups", "encoder_pos_conv_groups", Long, 16L),
        new("num_buckets", "encoder_num_buckets", Long, 320L) { WavLMOnly = true },
        new("max_bucket_distance", "encoder_max_distance", Long, 800L) { WavLMOnly = true },
        new("attention_dropout", "encoder_attention_dropout", Double, 0.1),
        new("activation_dropout", "encoder_ff_interm_dropout", Double, 0.1),
        new("hidden_dropout", "encoder_dropout", Double, 0.1),
        new("do_stable_layer_norm", "encoder_layer_norm_first", Bool, false),
        new("layerdrop", "encoder_layer_drop", Double, 0.1),
    });

    private static object? Norm(object? v) => String(v) switch
    {
        "group" => "group_norm",
        "layer" => "layer_norm",
        var s => throw new ConfigValueException($"feat_extract_norm = '{s}' (expected 'group' or 'layer')"),
    };

    private static object? Ints(object? v) => Wav2Vec2Config.AsList(v, Wav2Vec2Config.AsInt);
}
