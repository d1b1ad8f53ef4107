using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using DpHubert.Config;
using DpHubert.PyTorch;

namespace DpHubert.Checkpoints;

/// <summary>Configs that come as files beside (or instead of) a checkpoint's own: JSON objects, a DPHuBERT
/// <c>.pth</c>'s <c>config</c> entry; and the rule that a refused config names its file.</summary>
internal static class ConfigFiles
{
    /// <summary>A JSON file holding one object, as a dictionary of plain values.</summary>
    internal static Dictionary<string, object?> ReadJsonObject(string path)
    {
        try
        {
            return ParseJsonObject(File.ReadAllText(path), path, null);
        }
        catch (JsonException e)
        {
            throw new CheckpointFormatException($"invalid JSON: {e.Message}", path, null, e);
        }
    }

    /// <summary>JSON text holding one object (from a file or a safetensors header), as a dictionary of plain values.</summary>
    internal static Dictionary<string, object?> ParseJsonObject(string json, string path, string? key)
    {
        using var doc = JsonDocument.Parse(json);
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
            throw new CheckpointFormatException("expected a JSON object", path, key);
        return doc.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => Wav2Vec2Config.FromJsonElement(p.Value), StringComparer.Ordinal);
    }

    /// <summary>
    /// The config given by <see cref="CheckpointReadOptions.ConfigPath"/>: a config JSON, or a DPHuBERT <c>.pth</c>
    /// whose <c>"config"</c> is taken (as DPHuBERT's <c>prune.py</c> takes the student's from <c>--original_ckpt</c>).
    /// </summary>
    internal static Wav2Vec2Config FromFile(string configPath, LoadReport report)
    {
        if (!File.Exists(configPath)) throw new FileNotFoundException($"Config not found: {configPath}", configPath);
        bool json;
        using (var f = File.OpenRead(configPath))
        {
            int b;
            do b = f.ReadByte(); while (b is ' ' or '\t' or '\r' or '\n' or 0xEF or 0xBB or 0xBF);
            json = b == '{';
        }
        if (json)
        {
            report.Notes.Add($"config from {configPath}");
            return FromDictionary(ReadJsonObject(configPath), configPath, report);
        }
        using var data = TorchCheckpointReader.Load(configPath);
        if (data.Root.AsDictOrNull?.DictAt("config") is not { } config)
            throw new CheckpointFormatException("expected a config JSON or a DPHuBERT .pth with a 'config' entry", configPath);
        report.Notes.Add($"config from {configPath} (its 'config' entry)");
        return FromDictionary(StringKeys(config, configPath), configPath, report);
    }

    /// <summary>A pickled config dict with its keys as strings; another key throws naming the file.</summary>
    internal static Dictionary<string, object?> StringKeys(PyDict config, string path) => config.ToDictionary(
        kv => kv.Key as string ?? throw new CheckpointFormatException($"config key {kv.Key} is not a string", path, "config"),
        kv => kv.Value, StringComparer.Ordinal);

    /// <summary>
    /// A DPHuBERT config dict, or a torchaudio <c>wav2vec2_model</c> one (scalar <c>encoder_num_heads</c> and
    /// <c>encoder_ff_interm_features</c>, no per-layer lists, no <c>normalize_waveform</c>): the latter is expanded.
    /// </summary>
    internal static Wav2Vec2Config FromDictionary(Dictionary<string, object?> d, string path, LoadReport? report) =>
        Translate(() => ConfigDictionaryMap.ReadUniform(d, report is null ? null : report.Notes.Add),
            path, "config");

    /// <summary>A config translated by <paramref name="translate"/>, whose refusal (an <see cref="ArgumentException"/>)
    /// becomes a <see cref="CheckpointFormatException"/> naming the file and, where there is one, the config's key.</summary>
    internal static Wav2Vec2Config Translate(Func<Wav2Vec2Config> translate, string path, string? key)
    {
        try
        {
            return translate();
        }
        catch (ArgumentException e)
        {
            throw new CheckpointFormatException(e.Message, path, key, e);
        }
    }
}
