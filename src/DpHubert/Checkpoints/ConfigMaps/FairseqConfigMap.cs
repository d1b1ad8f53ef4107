using System;
using System.Linq;
using DpHubert.Config;
using DpHubert.PyTorch;
using static DpHubert.Checkpoints.ConfigMaps.ForeignConfigMap;

namespace DpHubert.Checkpoints.ConfigMaps;

/// <summary>
/// A fairseq wav2vec 2.0 / HuBERT architecture section (<c>cfg.model</c>, <c>args</c>, a fine-tuned model's
/// <c>w2v_args</c>; also unilm's flat WavLM cfg) → the config dict, with fairseq's defaults, as torchaudio's
/// <c>import_fairseq._parse_config</c> maps it. A fine-tuning config's dropouts win (<see cref="ForeignField.OverrideKey"/>);
/// <c>normalize</c> comes from the task section and is joined by the loader.
/// </summary>
internal static class FairseqConfigMap
{
    /// <summary>The table.</summary>
    public static ForeignConfigMap Table { get; } = new("fairseq's", NullIsAbsent: true, new ForeignField[]
    {
        new("extractor_mode", "extractor_mode", Mode, "default"),
        new("conv_feature_layers", "extractor_conv_layer_config", ConvLayers, "[(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512,2,2)] + [(512,2,2)]"),
        new("encoder_embed_dim", "encoder_embed_dim", Long, 768L),
        new("encoder_layers", "encoder_num_layers", Long, 12L),
        new("encoder_attention_heads", "encoder_num_heads", Long, 12L),
        new("encoder_ffn_embed_dim", "encoder_ff_interm_features", Long, 3072L),
        new("conv_bias", "extractor_conv_bias", Bool, false),
        new("dropout_input", "encoder_projection_dropout", Double, 0.0) { OverrideKey = "dropout_input" },
        new("conv_pos", "encoder_pos_conv_kernel", Long, 128L),
        new("conv_pos_groups", "encoder_pos_conv_groups", Long, 16L),
        new("attention_dropout", "encoder_attention_dropout", Double, 0.1) { OverrideKey = "attention_dropout" },
        new("activation_dropout", "encoder_ff_interm_dropout", Double, 0.0) { OverrideKey = "activation_dropout" },
        new("dropout", "encoder_dropout", Double, 0.1) { OverrideKey = "dropout" },
        new("layer_norm_first", "encoder_layer_norm_first", Bool, false),
        new("encoder_layerdrop", "encoder_layer_drop", Double, 0.0) { OverrideKey = "layerdrop" },
        // unilm's WavLM cfg only (fairseq's own WavLM is refused before).
        new("num_buckets", "encoder_num_buckets", Long, 320L) { WavLMOnly = true, Whose = "unilm's" },
        new("max_distance", "encoder_max_distance", Long, 1280L) { WavLMOnly = true, Whose = "unilm's" },
    });

    /// <summary>The family a fairseq <c>_name</c> / <c>arch</c> declares; one without a name has wav2vec 2.0's layout.</summary>
    public static ModelKind KindOf(string? name) =>
        name is not null && (name.Contains("hubert", StringComparison.OrdinalIgnoreCase) || name.Contains("contentvec", StringComparison.OrdinalIgnoreCase))
            ? ModelKind.Hubert
            : ModelKind.Wav2Vec2;

    private static object? Mode(object? v) => String(v) switch
    {
        "default" => "group_norm",
        "layer_norm" => "layer_norm",
        var s => throw new ConfigValueException($"extractor_mode '{s}' (expected 'default' or 'layer_norm')"),
    };

    private static object? ConvLayers(object? v)
    {
        var text = String(v);
        try
        {
            return FairseqConvLayers.Parse(text)
                .Select(c => (object?)new object?[] { (long)c.OutChannels, (long)c.KernelSize, (long)c.Stride }).ToList();
        }
        catch (FormatException e)
        {
            throw new ConfigValueException(e.Message, e);
        }
    }
}
