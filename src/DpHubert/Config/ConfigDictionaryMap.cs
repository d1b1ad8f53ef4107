using System;
using System.Collections.Generic;
using System.Linq;

namespace DpHubert.Config;

/// <summary>
/// The original config dict (the keyword arguments of DPHuBERT's <c>wav2vec2_model(**config)</c>, stored as
/// <c>checkpoint["config"]</c>) as a table: each key, the <see cref="Wav2Vec2Config"/> member it sets (the per-layer
/// lists become <see cref="EncoderLayerConfig"/> records), how its value is read and written back, and which models
/// have it. This is the <c>.pth</c> / JSON boundary, the only place the snake_case dictionary exists; a config file in
/// torchaudio's one-size-for-every-layer form is completed here (<see cref="ExpandUniform"/>). Foreign configs do not
/// pass through it: they are read into <see cref="UniformArchitecture"/>.
/// </summary>
internal static class ConfigDictionaryMap
{
    /// <summary>Which configs a key belongs to.</summary>
    internal enum Use
    {
        /// <summary>Required in every config.</summary>
        Common,

        /// <summary>Required in wav2vec 2.0 / HuBERT configs, unknown in WavLM ones.</summary>
        Standard,

        /// <summary>Required in WavLM configs, unknown in the others.</summary>
        WavLM,

        /// <summary>May be absent (false then): the prune flags, which only DPHuBERT's training configs carry.</summary>
        Optional,
    }

    /// <summary>One key: <see cref="Read"/> converts a value (a <see cref="FormatException"/> when it has the wrong
    /// type) onto a draft; <see cref="Write"/> gives the value back in the original's Python types.</summary>
    internal sealed record Field(string Key, Use Use, Action<Draft, object?> Read, Func<Wav2Vec2Config, object?> Write);

    /// <summary>A config being read: the per-layer keys are parallel lists in the dictionary and become
    /// <see cref="EncoderLayerConfig"/> records once all are read.</summary>
    internal sealed class Draft
    {
        public Wav2Vec2Config Config = new();
        public int? NumLayers;
        public IReadOnlyList<bool>? UseAttention, UseFeedForward;
        public IReadOnlyList<int>? NumHeads, TotalNumHeads, FfIntermFeatures;
        public IReadOnlyList<IReadOnlyList<int>>? RemainingHeads;
    }

    private static Field F<T>(string key, Use use, Func<object?, T> convert, Func<Wav2Vec2Config, T, Wav2Vec2Config> set,
        Func<Wav2Vec2Config, object?> write) => new(key, use, (d, raw) => d.Config = set(d.Config, convert(raw)), write);

    private static Field PerLayer<T>(string key, Use use, Func<object?, T> convert, Action<Draft, IReadOnlyList<T>> set,
        Func<EncoderLayerConfig, object?> write) =>
        new(key, use, (d, raw) => set(d, Wav2Vec2Config.AsList(raw, convert)), c => c.EncoderLayers.Select(write).ToList());

    private static List<object?> Longs(IEnumerable<int> xs) => xs.Select(x => (object?)(long)x).ToList();

    private static IReadOnlyList<int> Ints(object? v) => Wav2Vec2Config.AsList(v, Wav2Vec2Config.AsInt);

    private static int? NullableInt(object? v) => v is null ? null : Wav2Vec2Config.AsInt(v);

    /// <summary>The keys in the original's order (the order <see cref="Wav2Vec2Config.ToDictionary"/> writes).</summary>
    public static IReadOnlyList<Field> Fields { get; } = new[]
    {
        F("extractor_mode", Use.Common, ParseMode, (c, v) => c with { ExtractorMode = v }, c => c.ExtractorMode.ToConfigName()),
        F("extractor_conv_layer_config", Use.Common, ParseConvLayers, (c, v) => c with { ExtractorConvLayerConfig = v },
            c => c.ExtractorConvLayerConfig.Select(l => (object?)new object?[] { (long)l.OutChannels, (long)l.KernelSize, (long)l.Stride }).ToList()),
        F("extractor_conv_bias", Use.Common, Wav2Vec2Config.AsBool, (c, v) => c with { ExtractorConvBias = v }, c => c.ExtractorConvBias),
        F("encoder_embed_dim", Use.Common, Wav2Vec2Config.AsInt, (c, v) => c with { EncoderEmbedDim = v }, c => (long)c.EncoderEmbedDim),
        F("encoder_projection_dropout", Use.Common, Wav2Vec2Config.AsDouble, (c, v) => c with { EncoderProjectionDropout = v },
            c => c.EncoderProjectionDropout),
        F("encoder_pos_conv_kernel", Use.Common, Wav2Vec2Config.AsInt, (c, v) => c with { EncoderPosConvKernel = v }, c => (long)c.EncoderPosConvKernel),
        F("encoder_pos_conv_groups", Use.Common, Wav2Vec2Config.AsInt, (c, v) => c with { EncoderPosConvGroups = v }, c => (long)c.EncoderPosConvGroups),
        new("encoder_num_layers", Use.Common, (d, raw) => d.NumLayers = Wav2Vec2Config.AsInt(raw), c => (long)c.EncoderNumLayers),
        PerLayer("encoder_use_attention", Use.Common, Wav2Vec2Config.AsBool, (d, v) => d.UseAttention = v, l => l.UseAttention),
        PerLayer("encoder_use_feed_forward", Use.Common, Wav2Vec2Config.AsBool, (d, v) => d.UseFeedForward = v, l => l.UseFeedForward),
        PerLayer("encoder_num_heads", Use.Standard, Wav2Vec2Config.AsInt, (d, v) => d.NumHeads = v, l => (long)(l.NumHeads ?? 0)),
        F("encoder_head_dim", Use.Standard, NullableIntRequired, (c, v) => c with { EncoderHeadDim = v },
            c => c.EncoderHeadDim is { } h ? (long)h : null),
        PerLayer("encoder_total_num_heads", Use.WavLM, Wav2Vec2Config.AsInt, (d, v) => d.TotalNumHeads = v, l => (long)(l.TotalNumHeads ?? 0)),
        PerLayer("encoder_remaining_heads", Use.WavLM, Ints, (d, v) => d.RemainingHeads = v, l => Longs(l.RemainingHeads ?? EquatableArray<int>.Empty)),
        F("encoder_num_buckets", Use.WavLM, NullableIntRequired, (c, v) => c with { EncoderNumBuckets = v },
            c => c.EncoderNumBuckets is { } b ? (long)b : null),
        F("encoder_max_distance", Use.WavLM, NullableIntRequired, (c, v) => c with { EncoderMaxDistance = v },
            c => c.EncoderMaxDistance is { } m ? (long)m : null),
        F("encoder_attention_dropout", Use.Common, Wav2Vec2Config.AsDouble, (c, v) => c with { EncoderAttentionDropout = v },
            c => c.EncoderAttentionDropout),
        PerLayer("encoder_ff_interm_features", Use.Common, Wav2Vec2Config.AsInt, (d, v) => d.FfIntermFeatures = v, l => (long)l.FfIntermFeatures),
        F("encoder_ff_interm_dropout", Use.Common, Wav2Vec2Config.AsDouble, (c, v) => c with { EncoderFfIntermDropout = v },
            c => c.EncoderFfIntermDropout),
        F("encoder_dropout", Use.Common, Wav2Vec2Config.AsDouble, (c, v) => c with { EncoderDropout = v }, c => c.EncoderDropout),
        F("encoder_layer_norm_first", Use.Common, Wav2Vec2Config.AsBool, (c, v) => c with { EncoderLayerNormFirst = v },
            c => c.EncoderLayerNormFirst),
        F("encoder_layer_drop", Use.Common, Wav2Vec2Config.AsDouble, (c, v) => c with { EncoderLayerDrop = v }, c => c.EncoderLayerDrop),
        F("aux_num_out", Use.Common, NullableInt, (c, v) => c with { AuxNumOut = v }, c => c.AuxNumOut is { } a ? (long)a : null),
        F("normalize_waveform", Use.Common, Wav2Vec2Config.AsBool, (c, v) => c with { NormalizeWaveform = v }, c => c.NormalizeWaveform),
        F("extractor_prune_conv_channels", Use.Optional, Wav2Vec2Config.AsBool, (c, v) => c with { ExtractorPruneConvChannels = v },
            c => c.ExtractorPruneConvChannels),
        F("encoder_prune_attention_heads", Use.Optional, Wav2Vec2Config.AsBool, (c, v) => c with { EncoderPruneAttentionHeads = v },
            c => c.EncoderPruneAttentionHeads),
        F("encoder_prune_attention_layer", Use.Optional, Wav2Vec2Config.AsBool, (c, v) => c with { EncoderPruneAttentionLayer = v },
            c => c.EncoderPruneAttentionLayer),
        F("encoder_prune_feed_forward_intermediate", Use.Optional, Wav2Vec2Config.AsBool,
            (c, v) => c with { EncoderPruneFeedForwardIntermediate = v }, c => c.EncoderPruneFeedForwardIntermediate),
        F("encoder_prune_feed_forward_layer", Use.Optional, Wav2Vec2Config.AsBool, (c, v) => c with { EncoderPruneFeedForwardLayer = v },
            c => c.EncoderPruneFeedForwardLayer),
    };

    // A None value is a type error for these keys (the original would fail on it), unlike aux_num_out.
    private static int? NullableIntRequired(object? v) => Wav2Vec2Config.AsInt(v);

    /// <summary>The keys a config of <paramref name="kind"/> has, in order.</summary>
    private static IEnumerable<Field> FieldsOf(ModelKind kind) =>
        Fields.Where(f => f.Use is Use.Common or Use.Optional || f.Use == (kind == ModelKind.WavLM ? Use.WavLM : Use.Standard));

    /// <summary>
    /// The one rule for a config dictionary, which declares no model family: WavLM when it has
    /// <c>encoder_remaining_heads</c> (DPHuBERT's <c>wav2vec2_model</c> dispatches on it) or, in torchaudio's
    /// <c>wavlm_model</c> form, <c>encoder_num_buckets</c> without <c>encoder_head_dim</c>; otherwise wav2vec 2.0.
    /// </summary>
    public static ModelKind KindOf(IReadOnlyDictionary<string, object?> d) =>
        d.ContainsKey("encoder_remaining_heads") || d.ContainsKey("encoder_num_buckets") && !d.ContainsKey("encoder_head_dim")
            ? ModelKind.WavLM
            : ModelKind.Wav2Vec2;

    /// <summary>Reads a complete config dict; every missing, unknown or mistyped key and every invalid value is
    /// listed in one <see cref="ArgumentException"/>. The model family is decided here, once, by <see cref="KindOf"/>.</summary>
    public static Wav2Vec2Config Read(IEnumerable<KeyValuePair<string, object?>> config)
    {
        var d = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var kv in config) d[kv.Key] = kv.Value;

        var kind = KindOf(d);
        var fields = FieldsOf(kind).ToList();
        var errors = new List<string>();
        var missing = fields.Where(f => f.Use != Use.Optional && !d.ContainsKey(f.Key)).Select(f => f.Key).ToList();
        if (missing.Count > 0) errors.Add("missing keys: " + string.Join(", ", missing));
        var known = new HashSet<string>(fields.Select(f => f.Key), StringComparer.Ordinal);
        var unknown = d.Keys.Where(k => !known.Contains(k)).ToList();
        if (unknown.Count > 0)
            errors.Add("unknown keys: " + string.Join(", ", unknown) + (kind != ModelKind.WavLM ? ""
                : d.ContainsKey("encoder_remaining_heads") ? " (this is a WavLM config: it has encoder_remaining_heads)"
                : " (this is a WavLM config: it has encoder_num_buckets and no encoder_head_dim)"));

        var draft = new Draft { Config = new Wav2Vec2Config { Kind = kind } };
        foreach (var f in fields)
        {
            if (!d.TryGetValue(f.Key, out var raw)) continue;
            try
            {
                f.Read(draft, raw);
            }
            catch (FormatException e)
            {
                errors.Add($"{f.Key}: {e.Message} (got {Wav2Vec2Config.Describe(raw)})");
            }
        }
        // Key errors first, alone: what a config that lacks or mistypes keys would build is no use to check.
        if (errors.Count > 0) throw Wav2Vec2Config.InvalidConfig(errors);
        var result = draft.Config with { EncoderLayers = Layers(draft, errors) };
        errors.AddRange(result.Problems());
        if (errors.Count > 0) throw Wav2Vec2Config.InvalidConfig(errors);
        return result;
    }

    // The parallel lists zipped into layer records; a list of the wrong length is an error (the layers it does cover
    // are still built, so that their own problems are listed too).
    private static EquatableArray<EncoderLayerConfig> Layers(Draft d, List<string> errors)
    {
        int l = d.NumLayers ?? 0;
        if (l < 0) errors.Add($"encoder_num_layers must be >= 0, got {l}");
        int count = Math.Max(0, l);
        void Length(string key, int? n)
        {
            if (n is null) return;
            if (n != l) errors.Add($"{key} must have encoder_num_layers={l} entries, got {n}");
            count = Math.Min(count, n.Value);
        }
        Length("encoder_use_attention", d.UseAttention?.Count);
        Length("encoder_use_feed_forward", d.UseFeedForward?.Count);
        Length("encoder_ff_interm_features", d.FfIntermFeatures?.Count);
        Length("encoder_num_heads", d.NumHeads?.Count);
        Length("encoder_total_num_heads", d.TotalNumHeads?.Count);
        Length("encoder_remaining_heads", d.RemainingHeads?.Count);
        return Enumerable.Range(0, count).Select(i => new EncoderLayerConfig
        {
            UseAttention = d.UseAttention![i],
            NumHeads = d.NumHeads?[i],
            TotalNumHeads = d.TotalNumHeads?[i],
            RemainingHeads = d.RemainingHeads is null ? null : EquatableArray.From(d.RemainingHeads[i]),
            UseFeedForward = d.UseFeedForward![i],
            FfIntermFeatures = d.FfIntermFeatures![i],
        }).ToEquatableArray();
    }

    /// <summary>The config dict of <paramref name="config"/>, in the original key order and Python types.</summary>
    public static IReadOnlyList<KeyValuePair<string, object?>> Write(Wav2Vec2Config config) =>
        FieldsOf(config.AttentionKind == AttentionKind.WavLM ? ModelKind.WavLM : ModelKind.Wav2Vec2)
            .Select(f => new KeyValuePair<string, object?>(f.Key, f.Write(config))).ToList();

    /// <summary>
    /// The per-layer expansion of a dictionary in torchaudio's form (typed foreign configs expand through
    /// <see cref="UniformArchitecture.ToConfig"/>): when
    /// <c>encoder_num_layers</c> is a number, a scalar <c>encoder_num_heads</c> becomes <c>[h] * L</c> (for WavLM
    /// <c>encoder_total_num_heads</c> with every head kept), a scalar <c>encoder_ff_interm_features</c> becomes
    /// <c>[f] * L</c>, and what torchaudio's <c>wav2vec2_model</c> / <c>wavlm_model</c> arguments leave out is filled
    /// in (every block present, <c>encoder_head_dim</c> = E / h, no aux head, no waveform standardization). Keys already
    /// given are kept. Each filled-in key is told to <paramref name="note"/>.
    /// </summary>
    /// <param name="d">A config dict, changed in place.</param>
    /// <param name="kind">The model family, which decides the head fields.</param>
    /// <param name="note">Receives one line per filled-in key; null to stay silent.</param>
    public static void ExpandUniform(Dictionary<string, object?> d, ModelKind kind, Action<string>? note)
    {
        if (!d.TryGetValue("encoder_num_layers", out var nl) || nl is not long layers) return;
        int count = (int)layers;
        void Fill(string key, object? value, string why)
        {
            if (d.ContainsKey(key)) return;
            d[key] = value;
            note?.Invoke($"config: {key} = {why}");
        }
        static List<object?> Same(object? value, int n) => Enumerable.Repeat(value, n).ToList();

        if (d.TryGetValue("encoder_num_heads", out var h) && h is long heads)
        {
            d["encoder_num_heads"] = Same(heads, count);
            if (kind == ModelKind.WavLM)
            {
                d.Remove("encoder_num_heads");
                Fill("encoder_total_num_heads", Same(heads, count), $"[{heads}] * {count}");
                Fill("encoder_remaining_heads", Enumerable.Range(0, count)
                    .Select(_ => (object?)Enumerable.Range(0, (int)heads).Select(x => (object?)(long)x).ToList()).ToList(), "all heads");
            }
            else if (d.TryGetValue("encoder_embed_dim", out var e) && e is long embed)
                Fill("encoder_head_dim", embed / heads, $"{embed / heads} (encoder_embed_dim / encoder_num_heads)");
        }
        if (d.TryGetValue("encoder_ff_interm_features", out var f) && f is long ff)
            d["encoder_ff_interm_features"] = Same(ff, count);
        Fill("encoder_use_attention", Same(true, count), "true for every layer");
        Fill("encoder_use_feed_forward", Same(true, count), "true for every layer");
        Fill("aux_num_out", null, "None");
        Fill("normalize_waveform", false, "false (the config does not say)");
    }

    /// <summary>A config dict in torchaudio's form (sizes given once) or DPHuBERT's (per layer): expanded by
    /// <see cref="ExpandUniform"/>, then read by <see cref="Read"/>.</summary>
    /// <param name="d">The dict (copied, not changed).</param>
    /// <param name="note">Receives one line per filled-in key; null to stay silent.</param>
    public static Wav2Vec2Config ReadUniform(IReadOnlyDictionary<string, object?> d, Action<string>? note)
    {
        var copy = new Dictionary<string, object?>(d, StringComparer.Ordinal);
        ExpandUniform(copy, KindOf(d), note);
        return Read(copy);
    }

    private static ExtractorMode ParseMode(object? v) => ExtractorModeNames.FromConfigName(v)
        ?? throw new FormatException($"expected \"{ExtractorModeNames.GroupNorm}\" or \"{ExtractorModeNames.LayerNorm}\"");

    private static EquatableArray<ConvLayerSpec> ParseConvLayers(object? v)
    {
        if (v is null) return Wav2Vec2Config.DefaultConvLayers; // the original's default when None
        return EquatableArray.From(Wav2Vec2Config.AsList(v, item =>
        {
            var t = Wav2Vec2Config.AsList(item, Wav2Vec2Config.AsInt);
            if (t.Count != 3) throw new FormatException("each layer must be (out_channels, kernel_size, stride)");
            return new ConvLayerSpec(t[0], t[1], t[2]);
        }));
    }
}
