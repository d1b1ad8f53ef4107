using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;

namespace DpHubert.Config;

public sealed partial record Wav2Vec2Config
{
    private static readonly string[] CommonHead =
    {
        "extractor_mode", "extractor_conv_layer_config", "extractor_conv_bias", "encoder_embed_dim",
        "encoder_projection_dropout", "encoder_pos_conv_kernel", "encoder_pos_conv_groups", "encoder_num_layers",
        "encoder_use_attention", "encoder_use_feed_forward",
    };

    private static readonly string[] StandardHeads = { "encoder_num_heads", "encoder_head_dim" };

    private static readonly string[] WavLMHeads =
        { "encoder_total_num_heads", "encoder_remaining_heads", "encoder_num_buckets", "encoder_max_distance" };

    private static readonly string[] CommonTail =
    {
        "encoder_attention_dropout", "encoder_ff_interm_features", "encoder_ff_interm_dropout", "encoder_dropout",
        "encoder_layer_norm_first", "encoder_layer_drop", "aux_num_out", "normalize_waveform",
    };

    private static readonly string[] PruneFlags =
    {
        "extractor_prune_conv_channels", "encoder_prune_attention_heads", "encoder_prune_attention_layer",
        "encoder_prune_feed_forward_intermediate", "encoder_prune_feed_forward_layer",
    };

    /// <summary>
    /// Reads the original <c>config</c> dict (as stored in a DPHuBERT checkpoint). Values may be Python-like
    /// .NET values: <see cref="string"/>, <see cref="bool"/>, integers, <see cref="double"/>, null, lists
    /// (<see cref="IList"/>) and tuples (<c>object[]</c>). The result is validated.
    /// </summary>
    /// <param name="config">The key/value pairs, keys in snake_case as in the original.</param>
    /// <exception cref="ArgumentException">Missing, unknown or mistyped keys, or an invalid combination; the
    /// message lists every problem with its key and value.</exception>
    public static Wav2Vec2Config FromDictionary(IEnumerable<KeyValuePair<string, object?>> config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var d = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var kv in config) d[kv.Key] = kv.Value;

        bool wavlm = d.ContainsKey("encoder_remaining_heads");
        var required = CommonHead.Concat(wavlm ? WavLMHeads : StandardHeads).Concat(CommonTail).ToList();
        var errors = new List<string>();
        var missing = required.Where(k => !d.ContainsKey(k)).ToList();
        if (missing.Count > 0) errors.Add("missing keys: " + string.Join(", ", missing));
        var known = new HashSet<string>(required.Concat(PruneFlags));
        var unknown = d.Keys.Where(k => !known.Contains(k)).ToList();
        if (unknown.Count > 0)
            errors.Add("unknown keys: " + string.Join(", ", unknown)
                + (wavlm ? " (this is a WavLM config: it has encoder_remaining_heads)" : ""));

        T Get<T>(string key, Func<object?, T> convert, T fallback)
        {
            if (!d.TryGetValue(key, out var raw)) return fallback;
            try
            {
                return convert(raw);
            }
            catch (FormatException e)
            {
                errors.Add($"{key}: {e.Message} (got {Describe(raw)})");
                return fallback;
            }
        }

        var result = new Wav2Vec2Config
        {
            ExtractorMode = Get("extractor_mode", ParseMode, ExtractorMode.GroupNorm),
            ExtractorConvLayerConfig = Get("extractor_conv_layer_config", ParseConvLayers, DefaultConvLayers),
            ExtractorConvBias = Get("extractor_conv_bias", AsBool, false),
            EncoderEmbedDim = Get("encoder_embed_dim", AsInt, 0),
            EncoderProjectionDropout = Get("encoder_projection_dropout", AsDouble, 0.0),
            EncoderPosConvKernel = Get("encoder_pos_conv_kernel", AsInt, 0),
            EncoderPosConvGroups = Get("encoder_pos_conv_groups", AsInt, 0),
            EncoderNumLayers = Get("encoder_num_layers", AsInt, 0),
            EncoderUseAttention = Get("encoder_use_attention", v => AsList(v, AsBool), Array.Empty<bool>()),
            EncoderUseFeedForward = Get("encoder_use_feed_forward", v => AsList(v, AsBool), Array.Empty<bool>()),
            EncoderNumHeads = wavlm ? null : Get<IReadOnlyList<int>?>("encoder_num_heads", v => AsList(v, AsInt), null),
            EncoderHeadDim = wavlm ? null : Get<int?>("encoder_head_dim", v => AsInt(v), null),
            EncoderTotalNumHeads = wavlm ? Get<IReadOnlyList<int>?>("encoder_total_num_heads", v => AsList(v, AsInt), null) : null,
            EncoderRemainingHeads = wavlm
                ? Get<IReadOnlyList<IReadOnlyList<int>>?>("encoder_remaining_heads", v => AsList(v, x => AsList(x, AsInt)), Array.Empty<IReadOnlyList<int>>())
                : null,
            EncoderNumBuckets = wavlm ? Get<int?>("encoder_num_buckets", v => AsInt(v), null) : null,
            EncoderMaxDistance = wavlm ? Get<int?>("encoder_max_distance", v => AsInt(v), null) : null,
            EncoderAttentionDropout = Get("encoder_attention_dropout", AsDouble, 0.0),
            EncoderFfIntermFeatures = Get("encoder_ff_interm_features", v => AsList(v, AsInt), Array.Empty<int>()),
            EncoderFfIntermDropout = Get("encoder_ff_interm_dropout", AsDouble, 0.0),
            EncoderDropout = Get("encoder_dropout", AsDouble, 0.0),
            EncoderLayerNormFirst = Get("encoder_layer_norm_first", AsBool, false),
            EncoderLayerDrop = Get("encoder_layer_drop", AsDouble, 0.0),
            AuxNumOut = Get<int?>("aux_num_out", v => v is null ? null : AsInt(v), null),
            NormalizeWaveform = Get("normalize_waveform", AsBool, false),
            ExtractorPruneConvChannels = Get("extractor_prune_conv_channels", AsBool, false),
            EncoderPruneAttentionHeads = Get("encoder_prune_attention_heads", AsBool, false),
            EncoderPruneAttentionLayer = Get("encoder_prune_attention_layer", AsBool, false),
            EncoderPruneFeedForwardIntermediate = Get("encoder_prune_feed_forward_intermediate", AsBool, false),
            EncoderPruneFeedForwardLayer = Get("encoder_prune_feed_forward_layer", AsBool, false),
        };
        if (errors.Count > 0)
            throw new ArgumentException("Invalid model config:" + Environment.NewLine + "  - "
                + string.Join(Environment.NewLine + "  - ", errors));
        return result.Validate();
    }

    /// <summary>
    /// The config as the original <c>config</c> dict, in the original key order: snake_case keys; ints as
    /// <see cref="long"/>, floats as <see cref="double"/>; <c>extractor_conv_layer_config</c> as a list of
    /// 3-tuples (<c>object[]</c>), as DPHuBERT's <c>prune()</c> writes it; other lists as <see cref="List{T}"/>.
    /// </summary>
    public IReadOnlyList<KeyValuePair<string, object?>> ToDictionary()
    {
        var d = new List<KeyValuePair<string, object?>>();
        void Add(string key, object? value) => d.Add(new KeyValuePair<string, object?>(key, value));
        static List<object?> Longs(IEnumerable<int> xs) => xs.Select(x => (object?)(long)x).ToList();

        Add("extractor_mode", ExtractorMode == ExtractorMode.GroupNorm ? "group_norm" : "layer_norm");
        Add("extractor_conv_layer_config", ExtractorConvLayerConfig
            .Select(c => (object?)new object?[] { (long)c.OutChannels, (long)c.KernelSize, (long)c.Stride }).ToList());
        Add("extractor_conv_bias", ExtractorConvBias);
        Add("encoder_embed_dim", (long)EncoderEmbedDim);
        Add("encoder_projection_dropout", EncoderProjectionDropout);
        Add("encoder_pos_conv_kernel", (long)EncoderPosConvKernel);
        Add("encoder_pos_conv_groups", (long)EncoderPosConvGroups);
        Add("encoder_num_layers", (long)EncoderNumLayers);
        Add("encoder_use_attention", EncoderUseAttention.Select(b => (object?)b).ToList());
        Add("encoder_use_feed_forward", EncoderUseFeedForward.Select(b => (object?)b).ToList());
        if (AttentionKind == AttentionKind.WavLM)
        {
            Add("encoder_total_num_heads", Longs(EncoderTotalNumHeads ?? Array.Empty<int>()));
            Add("encoder_remaining_heads", EncoderRemainingHeads!.Select(h => (object?)Longs(h)).ToList());
            Add("encoder_num_buckets", EncoderNumBuckets is { } b ? (long)b : null);
            Add("encoder_max_distance", EncoderMaxDistance is { } m ? (long)m : null);
        }
        else
        {
            Add("encoder_num_heads", Longs(EncoderNumHeads ?? Array.Empty<int>()));
            Add("encoder_head_dim", EncoderHeadDim is { } h ? (long)h : null);
        }
        Add("encoder_attention_dropout", EncoderAttentionDropout);
        Add("encoder_ff_interm_features", Longs(EncoderFfIntermFeatures));
        Add("encoder_ff_interm_dropout", EncoderFfIntermDropout);
        Add("encoder_dropout", EncoderDropout);
        Add("encoder_layer_norm_first", EncoderLayerNormFirst);
        Add("encoder_layer_drop", EncoderLayerDrop);
        Add("aux_num_out", AuxNumOut is { } a ? (long)a : null);
        Add("normalize_waveform", NormalizeWaveform);
        Add("extractor_prune_conv_channels", ExtractorPruneConvChannels);
        Add("encoder_prune_attention_heads", EncoderPruneAttentionHeads);
        Add("encoder_prune_attention_layer", EncoderPruneAttentionLayer);
        Add("encoder_prune_feed_forward_intermediate", EncoderPruneFeedForwardIntermediate);
        Add("encoder_prune_feed_forward_layer", EncoderPruneFeedForwardLayer);
        return d;
    }

    /// <summary>The config dict as JSON (snake_case keys, tuples as arrays).</summary>
    /// <param name="indented">Pretty-print.</param>
    public string ToJson(bool indented = true)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = indented }))
        {
            w.WriteStartObject();
            foreach (var kv in ToDictionary())
            {
                w.WritePropertyName(kv.Key);
                WriteJsonValue(w, kv.Value);
            }
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>Reads a config written by <see cref="ToJson"/> (or any JSON object with the original keys).</summary>
    /// <param name="json">A JSON object.</param>
    /// <exception cref="ArgumentException">Invalid JSON or an invalid config.</exception>
    public static Wav2Vec2Config FromJson(string json)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"Invalid model config JSON: {e.Message}", nameof(json), e);
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new ArgumentException($"A model config must be a JSON object, got {doc.RootElement.ValueKind}", nameof(json));
            return FromDictionary(doc.RootElement.EnumerateObject()
                .Select(p => new KeyValuePair<string, object?>(p.Name, FromJsonElement(p.Value))).ToList());
        }
    }

    /// <summary>Converts a JSON value to the plain value model used by <see cref="FromDictionary"/>.</summary>
    internal static object? FromJsonElement(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Null or JsonValueKind.Undefined => null,
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.String => e.GetString(),
        // Boxed separately: a `cond ? long : double` conditional would promote every integer to double.
        JsonValueKind.Number => e.TryGetInt64(out long l) && !e.GetRawText().Contains('.') && !e.GetRawText().Contains('e')
            && !e.GetRawText().Contains('E') ? (object)l : (object)e.GetDouble(),
        JsonValueKind.Array => e.EnumerateArray().Select(FromJsonElement).ToList(),
        JsonValueKind.Object => e.EnumerateObject().Select(p => new KeyValuePair<string, object?>(p.Name, FromJsonElement(p.Value))).ToList(),
        _ => throw new ArgumentException($"Unsupported JSON value {e.ValueKind}"),
    };

    private static void WriteJsonValue(Utf8JsonWriter w, object? value)
    {
        switch (value)
        {
            case null: w.WriteNullValue(); break;
            case bool b: w.WriteBooleanValue(b); break;
            case string s: w.WriteStringValue(s); break;
            case long l: w.WriteNumberValue(l); break;
            case int i: w.WriteNumberValue(i); break;
            case double x:
                // Keep a decimal point so the value reads back as a float ("0.0", not "0").
                w.WriteRawValue(x == Math.Floor(x) && Math.Abs(x) < 1e15
                    ? x.ToString("0.0", CultureInfo.InvariantCulture)
                    : x.ToString("R", CultureInfo.InvariantCulture));
                break;
            case IEnumerable items:
                w.WriteStartArray();
                foreach (var item in items) WriteJsonValue(w, item);
                w.WriteEndArray();
                break;
            default: throw new ArgumentException($"Cannot write {value.GetType()} to JSON");
        }
    }

    private static ExtractorMode ParseMode(object? v) => v switch
    {
        "group_norm" => ExtractorMode.GroupNorm,
        "layer_norm" => ExtractorMode.LayerNorm,
        _ => throw new FormatException("expected \"group_norm\" or \"layer_norm\""),
    };

    private static IReadOnlyList<ConvLayerSpec> ParseConvLayers(object? v)
    {
        if (v is null) return DefaultConvLayers; // the original's default when None
        return AsList(v, item =>
        {
            var t = AsList(item, AsInt);
            if (t.Count != 3) throw new FormatException("each layer must be (out_channels, kernel_size, stride)");
            return new ConvLayerSpec(t[0], t[1], t[2]);
        });
    }

    internal static bool AsBool(object? v) => v is bool b ? b : throw new FormatException("expected a bool");

    internal static int AsInt(object? v) => v switch
    {
        int i => i,
        long l when l is >= int.MinValue and <= int.MaxValue => (int)l,
        short s => s,
        byte b => b,
        _ => throw new FormatException("expected an integer"),
    };

    internal static double AsDouble(object? v) => v switch
    {
        double d => d,
        float f => f,
        int i => i,
        long l => l,
        _ => throw new FormatException("expected a number"),
    };

    internal static IReadOnlyList<T> AsList<T>(object? v, Func<object?, T> item)
    {
        if (v is string || v is not IEnumerable items) throw new FormatException("expected a list");
        var list = new List<T>();
        foreach (var x in items) list.Add(item(x));
        return list.AsReadOnly();
    }

    /// <summary>A value as Python would print it, for error messages.</summary>
    internal static string Describe(object? v) => v switch
    {
        null => "None",
        string s => $"\"{s}\"",
        bool b => b ? "True" : "False",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        IEnumerable e => "[" + string.Join(", ", e.Cast<object?>().Select(Describe)) + "]",
        _ => Convert.ToString(v, CultureInfo.InvariantCulture) ?? v.GetType().Name,
    };
}
