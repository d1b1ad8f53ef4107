using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace DpHubert.Config;

/// <summary>
/// The architecture of a DPHuBERT / wav2vec 2.0 / HuBERT / WavLM model: exactly the keyword arguments of the
/// original <c>wav2vec2_model(**config)</c>, which DPHuBERT stores as <c>checkpoint["config"]</c>.
/// </summary>
/// <remarks>
/// <para>Every structural size can differ per layer (pruned models), so the encoder layers are a list of
/// <see cref="EncoderLayerConfig"/> records. The model family (<see cref="Kind"/>) is explicit and decides the attention
/// block. The record is immutable; derive variants with <c>with { ... }</c> and call <see cref="Validate"/> (the model
/// factory does). <see cref="FromDictionary"/> / <see cref="ToDictionary"/> round-trip the checkpoint's
/// <c>config</c> dict with its original snake_case keys; <see cref="ToJson"/> / <see cref="FromJson"/> do the
/// same as JSON.</para>
/// <para>Equality is structural: every list is an <see cref="EquatableArray{T}"/>, compared element by element.</para>
/// </remarks>
public sealed partial record Wav2Vec2Config
{
    /// <summary>The conv stack every released model uses: <c>[(512,10,5)] + [(512,3,2)]*4 + [(512,2,2)]*2</c>.</summary>
    public static EquatableArray<ConvLayerSpec> DefaultConvLayers => Defaults.ConvLayers;

    // A nested holder so that the presets (another partial file, whose static initializers may run first) never
    // see this list uninitialized.
    private static class Defaults
    {
        public static readonly EquatableArray<ConvLayerSpec> ConvLayers = EquatableArray.Create(new[]
        {
            new ConvLayerSpec(512, 10, 5), new ConvLayerSpec(512, 3, 2), new ConvLayerSpec(512, 3, 2),
            new ConvLayerSpec(512, 3, 2), new ConvLayerSpec(512, 3, 2), new ConvLayerSpec(512, 2, 2),
            new ConvLayerSpec(512, 2, 2),
        });
    }

    /// <summary>The model family: declared by a Hugging Face <c>model_type</c>, a fairseq <c>_name</c> or the format;
    /// a DPHuBERT / torchaudio config dictionary declares none (<see cref="ModelKind.Wav2Vec2"/>, or
    /// <see cref="ModelKind.WavLM"/> by its WavLM head fields). Decides <see cref="AttentionKind"/>.</summary>
    public ModelKind Kind { get; init; } = ModelKind.Wav2Vec2;

    /// <summary><c>extractor_mode</c> (fairseq <c>extractor_mode</c>, HF <c>feat_extract_norm</c>).</summary>
    public ExtractorMode ExtractorMode { get; init; } = ExtractorMode.GroupNorm;

    /// <summary><c>extractor_conv_layer_config</c>: the conv stack (HF <c>conv_dim/conv_kernel/conv_stride</c>).</summary>
    public EquatableArray<ConvLayerSpec> ExtractorConvLayerConfig { get; init; } = Defaults.ConvLayers;

    /// <summary><c>extractor_conv_bias</c>: whether the extractor convolutions have a bias (HF <c>conv_bias</c>).</summary>
    public bool ExtractorConvBias { get; init; }

    /// <summary><c>encoder_embed_dim</c>: transformer width E (HF <c>hidden_size</c>).</summary>
    public int EncoderEmbedDim { get; init; } = 768;

    /// <summary><c>encoder_projection_dropout</c> (HF <c>feat_proj_dropout</c>, fairseq <c>dropout_input</c>).</summary>
    public double EncoderProjectionDropout { get; init; } = 0.1;

    /// <summary><c>encoder_pos_conv_kernel</c> (HF <c>num_conv_pos_embeddings</c>, fairseq <c>conv_pos</c>).</summary>
    public int EncoderPosConvKernel { get; init; } = 128;

    /// <summary><c>encoder_pos_conv_groups</c> (HF <c>num_conv_pos_embedding_groups</c>).</summary>
    public int EncoderPosConvGroups { get; init; } = 16;

    /// <summary>The transformer layers, one record per layer (<c>encoder_num_layers</c> entries): whether each block
    /// exists, its heads and its feed-forward width. <c>EncoderLayerConfig.Standard(12, 3072).Repeat(12)</c> is Base.</summary>
    public EquatableArray<EncoderLayerConfig> EncoderLayers { get; init; } = EquatableArray<EncoderLayerConfig>.Empty;

    /// <summary><c>encoder_num_layers</c> (HF <c>num_hidden_layers</c>): the number of <see cref="EncoderLayers"/>.</summary>
    public int EncoderNumLayers => EncoderLayers.Count;

    /// <summary><c>encoder_head_dim</c>: width of one head (<see cref="AttentionKind.Standard"/> only; WavLM derives
    /// it as E / total heads).</summary>
    public int? EncoderHeadDim { get; init; }

    /// <summary><c>encoder_num_buckets</c>: relative position buckets (WavLM only; 320 in released models).</summary>
    public int? EncoderNumBuckets { get; init; }

    /// <summary><c>encoder_max_distance</c>: largest bucketed distance (WavLM only; 800 in released models).</summary>
    public int? EncoderMaxDistance { get; init; }

    /// <summary><c>encoder_attention_dropout</c>.</summary>
    public double EncoderAttentionDropout { get; init; } = 0.1;

    /// <summary><c>encoder_ff_interm_dropout</c> (HF <c>activation_dropout</c>).</summary>
    public double EncoderFfIntermDropout { get; init; }

    /// <summary><c>encoder_dropout</c> (HF <c>hidden_dropout</c>).</summary>
    public double EncoderDropout { get; init; } = 0.1;

    /// <summary><c>encoder_layer_norm_first</c>: pre-norm layers (Large) when true, post-norm (Base) when false
    /// (HF <c>do_stable_layer_norm</c>).</summary>
    public bool EncoderLayerNormFirst { get; init; }

    /// <summary><c>encoder_layer_drop</c>: LayerDrop probability, used in training only.</summary>
    public double EncoderLayerDrop { get; init; } = 0.05;

    /// <summary><c>aux_num_out</c>: output size of the auxiliary linear head (CTC), or null for none.</summary>
    public int? AuxNumOut { get; init; }

    /// <summary><c>normalize_waveform</c>: standardize each waveform over its valid samples first
    /// (Large models; HF <c>do_normalize</c>).</summary>
    public bool NormalizeWaveform { get; init; }

    /// <summary><c>extractor_prune_conv_channels</c>: HardConcrete masks on conv output channels.</summary>
    public bool ExtractorPruneConvChannels { get; init; }

    /// <summary><c>encoder_prune_attention_heads</c>: HardConcrete masks on attention heads.</summary>
    public bool EncoderPruneAttentionHeads { get; init; }

    /// <summary><c>encoder_prune_attention_layer</c>: HardConcrete masks on whole attention blocks.</summary>
    public bool EncoderPruneAttentionLayer { get; init; }

    /// <summary><c>encoder_prune_feed_forward_intermediate</c>: HardConcrete masks on feed-forward units.</summary>
    public bool EncoderPruneFeedForwardIntermediate { get; init; }

    /// <summary><c>encoder_prune_feed_forward_layer</c>: HardConcrete masks on whole feed-forward blocks.</summary>
    public bool EncoderPruneFeedForwardLayer { get; init; }

    /// <summary>Which attention block the layers use: WavLM's for <see cref="ModelKind.WavLM"/>, the standard one otherwise.</summary>
    public AttentionKind AttentionKind => Kind == ModelKind.WavLM ? AttentionKind.WavLM : AttentionKind.Standard;

    /// <summary>Channels of the last extractor convolution, the input width of the feature projection.</summary>
    public int ExtractorOutputChannels => ExtractorConvLayerConfig[^1].OutChannels;

    /// <summary>Whether any HardConcrete mask is enabled.</summary>
    public bool HasPruningMasks => ExtractorPruneConvChannels || EncoderPruneAttentionHeads
        || EncoderPruneAttentionLayer || EncoderPruneFeedForwardIntermediate || EncoderPruneFeedForwardLayer;

    /// <summary>The fewest samples that give one output frame (the receptive field of the conv stack; 400 for the
    /// default stack).</summary>
    public int MinimumSamples
    {
        get
        {
            long need = 1;
            for (int i = ExtractorConvLayerConfig.Count - 1; i >= 0; i--)
                need = (need - 1) * ExtractorConvLayerConfig[i].Stride + ExtractorConvLayerConfig[i].KernelSize;
            return (int)need;
        }
    }

    /// <summary>Number of output frames for <paramref name="samples"/> input samples: the conv length arithmetic
    /// <c>floor((n - k) / s) + 1</c> per layer, clamped at 0.</summary>
    public long FramesForSamples(long samples)
    {
        long n = samples;
        foreach (var c in ExtractorConvLayerConfig)
        {
            n = (long)Math.Floor((n - c.KernelSize) / (double)c.Stride) + 1;
            if (n < 0) n = 0;
        }
        return n;
    }

    /// <summary>Head width of layer attention blocks: <see cref="EncoderHeadDim"/>, or E / total heads for WavLM.</summary>
    public int HeadDimOfLayer(int layer) => AttentionKind == AttentionKind.WavLM
        ? EncoderEmbedDim / EncoderLayers[layer].TotalNumHeads!.Value
        : EncoderHeadDim!.Value;

    /// <summary>Kept attention heads of a layer (0 when its attention block is absent).</summary>
    public int HeadsOfLayer(int layer)
    {
        var l = EncoderLayers[layer];
        return !l.UseAttention ? 0 : AttentionKind == AttentionKind.WavLM ? l.RemainingHeads!.Count : l.NumHeads!.Value;
    }

    /// <summary>
    /// Checks every field and cross-field rule and throws one <see cref="ArgumentException"/> that lists every
    /// problem found, each naming the field (by its checkpoint key) and the offending value.
    /// </summary>
    /// <returns>This config, for chaining.</returns>
    public Wav2Vec2Config Validate()
    {
        var errors = Problems();
        if (errors.Count > 0) throw InvalidConfig(errors);
        return this;
    }

    /// <summary>The one error listing <paramref name="errors"/>.</summary>
    internal static ArgumentException InvalidConfig(IEnumerable<string> errors) =>
        new("Invalid model config:" + Environment.NewLine + "  - " + string.Join(Environment.NewLine + "  - ", errors));

    /// <summary>Every problem <see cref="Validate"/> finds, in order.</summary>
    internal List<string> Problems()
    {
        var errors = new List<string>();
        void Check(bool ok, string message)
        {
            if (!ok) errors.Add(message);
        }

        Check(ExtractorConvLayerConfig.Count > 0, "extractor_conv_layer_config must have at least one layer, got []");
        for (int i = 0; i < ExtractorConvLayerConfig.Count; i++)
        {
            var c = ExtractorConvLayerConfig[i];
            Check(c.OutChannels > 0 && c.KernelSize > 0 && c.Stride > 0,
                $"extractor_conv_layer_config[{i}] must have positive (out_channels, kernel, stride), got ({c.OutChannels}, {c.KernelSize}, {c.Stride})");
        }
        Check(EncoderEmbedDim > 0, $"encoder_embed_dim must be positive, got {EncoderEmbedDim}");
        Check(EncoderPosConvKernel > 0, $"encoder_pos_conv_kernel must be positive, got {EncoderPosConvKernel}");
        Check(EncoderPosConvGroups > 0 && EncoderEmbedDim % Math.Max(1, EncoderPosConvGroups) == 0,
            $"encoder_pos_conv_groups must be positive and divide encoder_embed_dim={EncoderEmbedDim}, got {EncoderPosConvGroups}");
        var layers = EncoderLayers;
        for (int i = 0; i < layers.Count; i++)
            Check(!layers[i].UseFeedForward || layers[i].FfIntermFeatures > 0,
                $"encoder_ff_interm_features[{i}] must be positive where encoder_use_feed_forward[{i}] is true, got {layers[i].FfIntermFeatures}");

        bool wavlm = AttentionKind == AttentionKind.WavLM;
        string Other(string field) => $"{field} is a {(wavlm ? "wav2vec 2.0 / HuBERT" : "WavLM")} field, but this is a {Kind} config";
        Check(layers.All(l => wavlm ? l.NumHeads is null : l.TotalNumHeads is null && l.RemainingHeads is null),
            Other(wavlm ? "encoder_num_heads" : "encoder_total_num_heads / encoder_remaining_heads"));
        if (!wavlm)
        {
            if (layers.Any(l => l.NumHeads is null)) errors.Add("encoder_num_heads is required (or Kind = WavLM with encoder_remaining_heads)");
            for (int i = 0; i < layers.Count; i++)
                Check(!layers[i].UseAttention || layers[i].NumHeads is null or > 0,
                    $"encoder_num_heads[{i}] must be positive where encoder_use_attention[{i}] is true, got {layers[i].NumHeads}");
            if (EncoderHeadDim is null) errors.Add("encoder_head_dim is required for non-WavLM models");
            else Check(EncoderHeadDim > 0, $"encoder_head_dim must be positive, got {EncoderHeadDim}");
            Check(EncoderNumBuckets is null && EncoderMaxDistance is null, Other("encoder_num_buckets / encoder_max_distance"));
        }
        else
        {
            if (layers.Any(l => l.TotalNumHeads is null)) errors.Add("encoder_total_num_heads is required for WavLM models");
            if (layers.Any(l => l.RemainingHeads is null)) errors.Add("encoder_remaining_heads is required for WavLM models");
            for (int i = 0; i < layers.Count; i++)
            {
                if (layers[i].TotalNumHeads is not { } total) continue;
                Check(total > 0 && EncoderEmbedDim % total == 0,
                    $"encoder_total_num_heads[{i}] must be positive and divide encoder_embed_dim={EncoderEmbedDim}, got {total}");
                if (layers[i].RemainingHeads is not { } heads) continue;
                Check(heads.All(h => h >= 0 && h < total) && heads.Distinct().Count() == heads.Count,
                    $"encoder_remaining_heads[{i}] must be distinct head indices in [0, {total}), got [{string.Join(", ", heads)}]");
                Check(!layers[i].UseAttention || heads.Count > 0,
                    $"encoder_remaining_heads[{i}] must not be empty where encoder_use_attention[{i}] is true");
            }
            Check(EncoderHeadDim is null, Other("encoder_head_dim"));
            Check(EncoderNumBuckets is > 1, $"encoder_num_buckets must be > 1 for WavLM models, got {Show(EncoderNumBuckets)}");
            Check(EncoderMaxDistance is > 0, $"encoder_max_distance must be positive for WavLM models, got {Show(EncoderMaxDistance)}");
        }
        foreach (var (name, p) in new[]
        {
            ("encoder_projection_dropout", EncoderProjectionDropout), ("encoder_attention_dropout", EncoderAttentionDropout),
            ("encoder_ff_interm_dropout", EncoderFfIntermDropout), ("encoder_dropout", EncoderDropout),
            ("encoder_layer_drop", EncoderLayerDrop),
        })
            Check(p >= 0 && p <= 1, $"{name} must be a probability in [0, 1], got {p.ToString(CultureInfo.InvariantCulture)}");
        Check(AuxNumOut is null or > 0, $"aux_num_out must be positive or null, got {Show(AuxNumOut)}");
        return errors;
    }

    private static string Show(int? v) => v?.ToString(CultureInfo.InvariantCulture) ?? "null";

    // The config dict (which has no Kind) with the kind in front: shorter to read in a failed assertion than every member.
    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append("Kind = ").Append(Kind).Append(", ").Append(ToJson(indented: false));
        return true;
    }
}
