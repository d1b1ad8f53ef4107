using System;
using System.Collections.Generic;
using System.Linq;
using DpHubert.Config;
using DpHubert.PyTorch;
using static DpHubert.Checkpoints.ConfigMaps.ForeignConfigMap;

namespace DpHubert.Checkpoints.ConfigMaps;

/// <summary>
/// Hugging Face <c>config.json</c> (<c>Wav2Vec2Config</c>, <c>HubertConfig</c>, <c>WavLMConfig</c> of transformers) →
/// the config, with the transformers defaults, as torchaudio's <c>import_huggingface_model._get_config</c> /
/// <c>_get_config_wavlm</c> map it. The conv stack spans three keys (<c>conv_dim</c>, <c>conv_kernel</c>,
/// <c>conv_stride</c>), joined here; <c>normalize_waveform</c> (preprocessor_config.json) and the CTC head are the loader's.
/// </summary>
internal static class HuggingFaceConfigMap
{
    /// <summary>The <c>model_type</c>s read, in the order an <c>architectures</c> name is matched against them.</summary>
    public static IReadOnlyList<(string ModelType, ModelKind Kind)> ModelTypes { get; } = new[]
    {
        ("wav2vec2", ModelKind.Wav2Vec2), ("hubert", ModelKind.Hubert), ("wavlm", ModelKind.WavLM),
    };

    /// <summary>What the table reads: the architecture and the three halves of its conv stack, still apart.</summary>
    internal sealed record Draft(UniformArchitecture Architecture, IReadOnlyList<int> ConvDim, IReadOnlyList<int> ConvKernel,
        IReadOnlyList<int> ConvStride);

    private static ForeignField<Draft> A<TValue>(string key, Func<object?, TValue> convert,
        Func<UniformArchitecture, TValue, UniformArchitecture> set, object? defaultValue) =>
        Row<Draft, TValue>(key, convert, (d, v) => d with { Architecture = set(d.Architecture, v) }, defaultValue);

    private static ForeignField<Draft> C(string key, Func<Draft, IReadOnlyList<int>, Draft> set, int[] defaultValue) =>
        Row(key, Ints, set, defaultValue);

    /// <summary>The table.</summary>
    public static ForeignConfigMap<Draft> Table { get; } = new("the transformers", NullIsAbsent: false, new[]
    {
        A("feat_extract_norm", Norm, (a, v) => a with { ExtractorMode = v }, "group"),
        C("conv_dim", (d, v) => d with { ConvDim = v }, new[] { 512, 512, 512, 512, 512, 512, 512 }),
        C("conv_kernel", (d, v) => d with { ConvKernel = v }, new[] { 10, 3, 3, 3, 3, 2, 2 }),
        C("conv_stride", (d, v) => d with { ConvStride = v }, new[] { 5, 2, 2, 2, 2, 2, 2 }),
        A("hidden_size", Int, (a, v) => a with { EmbedDim = v }, 768L),
        A("num_hidden_layers", Int, (a, v) => a with { NumLayers = v }, 12L),
        A("num_attention_heads", Int, (a, v) => a with { NumHeads = v }, 12L),
        A("intermediate_size", Int, (a, v) => a with { FfIntermFeatures = v }, 3072L),
        A("conv_bias", Bool, (a, v) => a with { ConvBias = v }, false),
        A("feat_proj_dropout", Double, (a, v) => a with { ProjectionDropout = v }, 0.0),
        A("num_conv_pos_embeddings", Int, (a, v) => a with { PosConvKernel = v }, 128L),
        A("num_conv_pos_embedding_groups", Int, (a, v) => a with { PosConvGroups = v }, 16L),
        A("num_buckets", Int, (a, v) => a with { NumBuckets = v }, 320L) with { WavLMOnly = true },
        A("max_bucket_distance", Int, (a, v) => a with { MaxDistance = v }, 800L) with { WavLMOnly = true },
        A("attention_dropout", Double, (a, v) => a with { AttentionDropout = v }, 0.1),
        A("activation_dropout", Double, (a, v) => a with { FfIntermDropout = v }, 0.1),
        A("hidden_dropout", Double, (a, v) => a with { Dropout = v }, 0.1),
        A("do_stable_layer_norm", Bool, (a, v) => a with { LayerNormFirst = v }, false),
        A("layerdrop", Double, (a, v) => a with { LayerDrop = v }, 0.1),
    });

    /// <summary>
    /// Reads <c>config.json</c> into the per-layer config of <paramref name="kind"/>, not yet validated; the loader
    /// sets <c>normalize_waveform</c> and <c>aux_num_out</c>.
    /// </summary>
    /// <exception cref="CheckpointFormatException">A value of the wrong type, conv lists of different lengths, or a
    /// width that does not split into the heads.</exception>
    public static Wav2Vec2Config Read(ConfigLookup config, ModelKind kind, string path, LoadReport report)
    {
        var none = Array.Empty<int>();
        var d = Table.Read(new Draft(new UniformArchitecture { Kind = kind }, none, none, none), config, null, kind, path, "config.json", report);
        if (d.ConvDim.Count != d.ConvKernel.Count || d.ConvDim.Count != d.ConvStride.Count)
            throw new CheckpointFormatException(
                $"conv_dim, conv_kernel and conv_stride have {d.ConvDim.Count}, {d.ConvKernel.Count} and {d.ConvStride.Count} entries", path, "conv_dim");
        var architecture = d.Architecture with
        {
            ConvLayers = d.ConvDim.Select((c, i) => new ConvLayerSpec(c, d.ConvKernel[i], d.ConvStride[i])).ToEquatableArray(),
        };
        CheckHeadsDivideWidth(architecture, "hidden_size", "num_attention_heads", path);
        return architecture.ToConfig();
    }

    private static ExtractorMode Norm(object? v) => String(v) switch
    {
        "group" => ExtractorMode.GroupNorm,
        "layer" => ExtractorMode.LayerNorm,
        var s => throw new ConfigValueException($"feat_extract_norm = '{s}' (expected 'group' or 'layer')"),
    };

    private static IReadOnlyList<int> Ints(object? v) => Wav2Vec2Config.AsList(v, Wav2Vec2Config.AsInt);
}
