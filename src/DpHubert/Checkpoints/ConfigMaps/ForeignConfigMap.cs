using System;
using System.Collections.Generic;
using DpHubert.Config;
using DpHubert.PyTorch;

namespace DpHubert.Checkpoints.ConfigMaps;

/// <summary>A foreign format's config table and how it is read: each row converted onto the architecture, a missing
/// key replaced by its default and told in the report.</summary>
/// <typeparam name="T">What the table reads into.</typeparam>
/// <param name="Whose">Whose defaults the table's are, for the report ("the transformers", "fairseq's").</param>
/// <param name="NullIsAbsent">Whether a key set to None counts as missing (fairseq) or as a value (JSON).</param>
/// <param name="Fields">The rows, in reading order.</param>
internal sealed record ForeignConfigMap<T>(string Whose, bool NullIsAbsent, IReadOnlyList<ForeignField<T>> Fields)
{
    /// <summary>Applies every row that applies to <paramref name="kind"/> onto <paramref name="start"/>.</summary>
    /// <param name="start">The architecture before the rows.</param>
    /// <param name="source">The foreign config.</param>
    /// <param name="overrides">A fine-tuning config whose <see cref="ForeignField{T}.OverrideKey"/>s win, or null.</param>
    /// <param name="kind">The model family.</param>
    /// <param name="path">The file, for errors.</param>
    /// <param name="where">How the report names the config ("config.json").</param>
    /// <param name="report">Receives one note per defaulted key.</param>
    /// <exception cref="CheckpointFormatException">A value of the wrong type or refused, naming its key.</exception>
    public T Read(T start, ConfigLookup source, ConfigLookup? overrides, ModelKind kind, string path, string where, LoadReport report)
    {
        var result = start;
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
            var before = result;
            result = ForeignConfigMap.Convert(f.Key, raw, v => f.Apply(before, v), path);
        }
        return result;
    }
}

/// <summary>The conversions foreign config tables share.</summary>
internal static class ForeignConfigMap
{
    /// <summary>A row that converts its value with <paramref name="convert"/> and sets it with <paramref name="set"/>.</summary>
    public static ForeignField<T> Row<T, TValue>(string key, Func<object?, TValue> convert, Func<T, TValue, T> set, object? defaultValue) =>
        new(key, (target, raw) => set(target, convert(raw)), defaultValue);

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
    public static void CheckHeadsDivideWidth(UniformArchitecture architecture, string embedKey, string headsKey, string path)
    {
        int embed = architecture.EmbedDim, heads = architecture.NumHeads;
        if (heads <= 0 || embed % heads != 0)
            throw new CheckpointFormatException($"{embedKey} {embed} is not a multiple of {headsKey} {heads}", path, headsKey);
    }

    /// <summary>An integer.</summary>
    public static int Int(object? v) => Wav2Vec2Config.AsInt(v);

    /// <summary>A number.</summary>
    public static double Double(object? v) => Wav2Vec2Config.AsDouble(v);

    /// <summary>A bool.</summary>
    public static bool Bool(object? v) => Wav2Vec2Config.AsBool(v);

    /// <summary>A string.</summary>
    public static string String(object? v) => v as string ?? throw new FormatException("expected a string");
}
