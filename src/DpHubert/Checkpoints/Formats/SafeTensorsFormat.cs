using System;
using System.Collections;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using DpHubert.Checkpoints.ConfigMaps;
using DpHubert.Checkpoints.KeyMaps;
using DpHubert.Config;
using DpHubert.PyTorch;
using TorchSharp;
using static DpHubert.Checkpoints.LoadSteps;
using static TorchSharp.torch;

namespace DpHubert.Checkpoints;

/// <summary>A <c>.safetensors</c> file with its config (a JSON beside it or in its metadata), or Hugging Face weights.</summary>
internal static class SafeTensorsFormat
{
    private static readonly string[] ExtraPrefixes = { CheckpointLoader.DistillLinearProjsKey, CheckpointLoader.FinalProjKey };

    /// <summary>
    /// A .safetensors file. Its config: <see cref="CheckpointReadOptions.ConfigPath"/>, else <c>&lt;name&gt;.json</c>
    /// beside it, else the config stored in its metadata, else <c>config.json</c> beside it. A Hugging Face
    /// config.json (it has <c>model_type</c>) reads the file as HF weights.
    /// </summary>
    internal static ModelCheckpoint Read(string path, CheckpointReadOptions options)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var named = Path.Combine(dir, Path.GetFileNameWithoutExtension(path) + ".json");
        var configJson = Path.Combine(dir, "config.json");
        List<KeyValuePair<string, Tensor>> weights;
        IReadOnlyDictionary<string, string> metadata;
        using (var st = SafeTensors.Load(path))
        {
            metadata = st.Metadata;
            weights = st.Keys.ToList().Select(k => new KeyValuePair<string, Tensor>(k, st.Detach(k))).ToList();
        }
        return DisposeOnFailure(() =>
        {
            string? configPath = options.ConfigPath ?? (File.Exists(named) ? named : null);
            Dictionary<string, object?>? configDict = null;
            string configSource;
            if (configPath is not null)
            {
                configDict = ReadJsonObject(configPath);
                configSource = configPath;
            }
            else
            {
                if (metadata.TryGetValue(CheckpointLoader.SafeTensorsConfigMetadataKey, out var embedded))
                {
                    try
                    {
                        using var doc = System.Text.Json.JsonDocument.Parse(embedded);
                        configDict = doc.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => Wav2Vec2Config.FromJsonElement(p.Value));
                    }
                    catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException)
                    {
                        throw new CheckpointFormatException($"invalid config JSON in the metadata: {e.Message}", path, CheckpointLoader.SafeTensorsConfigMetadataKey, e);
                    }
                    configSource = path + " (metadata)";
                }
                else if (File.Exists(configJson))
                {
                    configDict = ReadJsonObject(configJson);
                    configSource = configJson;
                }
                else
                    throw new CheckpointFormatException(new OptionText(
                        $"no config for this safetensors file: expected {Path.GetFileName(named)} or config.json beside it, or {ApiOption.ConfigPath}"), path);
            }
            if (configDict.ContainsKey("model_type") || configDict.ContainsKey("architectures"))
            {
                var hfConfig = configPath ?? configJson;
                var result = HuggingFaceFormat.FromWeights(weights, hfConfig, path, path);
                weights = new();
                return result;
            }

            var report = new LoadReport(path, CheckpointFormat.DpHubertSafeTensors);
            report.Notes.Add($"config from {configSource}");
            var config = TorchaudioFormat.ConfigFromDictionary(configDict, configSource, report);
            var extras = new Dictionary<string, StateDict>(StringComparer.Ordinal);
            var modelWeights = new List<KeyValuePair<string, Tensor>>();
            foreach (var kv in weights)
            {
                var prefix = ExtraPrefixes.FirstOrDefault(p => kv.Key.StartsWith(p + ".", StringComparison.Ordinal));
                if (prefix is null)
                {
                    modelWeights.Add(kv);
                    continue;
                }
                if (!extras.TryGetValue(prefix, out var group)) extras[prefix] = group = new StateDict();
                group[kv.Key[(prefix.Length + 1)..]] = kv.Value;
            }
            weights = new(); // ApplyKeyMap owns the model weights now, also on failure
            var sd = DisposeOnFailure(() => ApplyKeyMap(modelWeights, TorchaudioKeyMap.Instance, report, path),
                () => { foreach (var g in extras.Values) g.Dispose(); });
            CanonicalizeStateDict(sd, report, path);
            var checkpoint = new ModelCheckpoint(config, sd, report);
            foreach (var (name, group) in extras)
            {
                checkpoint.Extras[name] = group;
                report.Notes.Add($"extra tensors '{name}' ({group.Count}) kept in Extras");
            }
            return checkpoint;
        }, () =>
        {
            foreach (var kv in weights) kv.Value.Dispose();
        });
    }
}
