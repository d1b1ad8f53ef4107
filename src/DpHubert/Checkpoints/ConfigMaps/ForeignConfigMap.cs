using System;
using System.Collections.Generic;
using DpHubert.Config;
using DpHubert.PyTorch;

namespace DpHubert.Checkpoints.ConfigMaps;

/// <summary>Looks a key up in a foreign config (a JSON object or a pickled dict).</summary>
internal delegate bool ConfigLookup(string key, out object? value);

/// <summary>A value a converter refuses with a complete message (no "(got ...)" appended).</summary>
internal sealed class ConfigValueException : FormatException
{
    public ConfigValueException(string message) : base(message) { }

    public ConfigValueException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>
/// One row of a foreign config table: the foreign <see cref="Key"/>, the config dict key it sets
/// (<see cref="Target"/>, a <c>wav2vec2_model</c> argument, see <see cref="ConfigDictionaryMap"/>), how its value is
/// converted (a <see cref="FormatException"/> for a wrong type) and the value used when the file lacks it.
/// </summary>
/// <param name="Key">The foreign key.</param>
/// <param name="Target">The config dict key.</param>
/// <param name="Convert">Foreign value → config dict value (ints as <see cref="long"/>).</param>
/// <param name="Default">The foreign framework's default, converted like a read value.</param>
internal sealed record ForeignField(string Key, string Target, Func<object?, object?> Convert, object? Default)
{
    /// <summary>Read only for WavLM models.</summary>
    public bool WavLMOnly { get; init; }

    /// <summary>A key of a fine-tuning config that, when set, wins over <see cref="Key"/>.</summary>
    public string? OverrideKey { get; init; }

    /// <summary>Whose default <see cref="Default"/> is, when not the table's.</summary>
    public string? Whose { get; init; }
}

/// <summary>A foreign format's config table and how it is read: each row converted into the config dict, a missing
/// key replaced by its default and told in the report.</summary>
/// <param name="Whose">Whose defaults the table's are, for the report ("the transformers", "fairseq's").</param>
/// <param name="NullIsAbsent">Whether a key set to None counts as missing (fairseq) or as a value (JSON).</param>
/// <param name="Fields">The rows, in reading order.</param>
internal sealed record ForeignConfigMap(string Whose, bool NullIsAbsent, IReadOnlyList<ForeignField> Fields)
{
    /// <summary>Converts every row that applies to <paramref name="kind"/> into a config dict.</summary>
    /// <param name="source">The foreign config.</param>
    /// <param name="overrides">A fine-tuning config whose <see cref="ForeignField.OverrideKey"/>s win, or null.</param>
    /// <param name="kind">The model family.</param>
    /// <param name="path">The file, for errors.</param>
    /// <param name="where">How the report names the config ("config.json").</param>
    /// <param name="report">Receives one note per defaulted key.</param>
    /// <exception cref="CheckpointFormatException">A value of the wrong type or refused, naming its key.</exception>
    public Dictionary<string, object?> Read(ConfigLookup source, ConfigLookup? overrides, ModelKind kind, string path, string where,
        LoadReport report)
    {
        var result = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var f in Fields)
        {
            if (f.WavLMOnly && kind != ModelKind.WavLM) continue;
            object? raw;
            if (overrides is not null && f.OverrideKey is not null && overrides(f.OverrideKey, out var o) && o is not null) raw = o;
            else if (!source(f.Key, out raw) || NullIsAbsent && raw is null)
            {
                report.Notes.Add($"{where} has no '{f.Key}': using {f.Whose ?? Whose} default {Wav2Vec2Config.Describe(f.Default)}");
                raw = f.Default;
            }
            result[f.Target] = Convert(f.Key, raw, f.Convert, path);
        }
        return result;
    }

    /// <summary>Converts one foreign value; a wrong type names the file and the key.</summary>
    public static T Convert<T>(string key, object? raw, Func<object?, T> convert, string path)
    {
        try
        {
            return convert(raw);
        }
        catch (ConfigValueException e)
        {
            throw new CheckpointFormatException(e.Message, path, key, e.InnerException);
        }
        catch (FormatException e)
        {
            throw new CheckpointFormatException($"{e.Message} (got {Wav2Vec2Config.Describe(raw)})", path, key);
        }
    }

    /// <summary>The model width must split into whole heads: checked before the sizes are expanded per layer, and
    /// named by the format's own keys.</summary>
    public static void CheckHeadsDivideWidth(Dictionary<string, object?> config, string embedKey, string headsKey, string path)
    {
        long embed = (long)config["encoder_embed_dim"]!, heads = (long)config["encoder_num_heads"]!;
        if (heads <= 0 || embed % heads != 0)
            throw new CheckpointFormatException($"{embedKey} {embed} is not a multiple of {headsKey} {heads}", path, headsKey);
    }

    /// <summary>An integer, as the config dict holds it.</summary>
    public static object? Long(object? v) => (long)Wav2Vec2Config.AsInt(v);

    /// <summary>A number.</summary>
    public static object? Double(object? v) => Wav2Vec2Config.AsDouble(v);

    /// <summary>A bool.</summary>
    public static object? Bool(object? v) => Wav2Vec2Config.AsBool(v);

    /// <summary>A string.</summary>
    public static string String(object? v) => v as string ?? throw new FormatException("expected a string");
}
