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
        return ConfigDictionaryMap.Read(config);
    }

    /// <summary>
    /// The config as the original <c>config</c> dict, in the original key order: snake_case keys; ints as
    /// <see cref="long"/>, floats as <see cref="double"/>; <c>extractor_conv_layer_config</c> as a list of
    /// 3-tuples (<c>object[]</c>), as DPHuBERT's <c>prune()</c> writes it; other lists as <see cref="List{T}"/>.
    /// </summary>
    public IReadOnlyList<KeyValuePair<string, object?>> ToDictionary() => ConfigDictionaryMap.Write(this);

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
