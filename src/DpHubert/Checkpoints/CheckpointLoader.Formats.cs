using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using DpHubert.Checkpoints.KeyMaps;
using DpHubert.Config;
using DpHubert.PyTorch;

namespace DpHubert.Checkpoints;

public static partial class CheckpointLoader
{
    /// <summary>Metadata key under which <see cref="CheckpointWriter.SaveSafeTensors"/> also stores the config JSON.</summary>
    public const string SafeTensorsConfigMetadataKey = "dphubert_config";

    private static readonly string[] ExtraPrefixes = { DistillLinearProjsKey, FinalProjKey };

    /// <summary>A pickle that is not DPHuBERT's own layout: fairseq, a bare torchaudio state_dict, or HF weights.</summary>
    private static ModelCheckpoint FromOtherPickle(object? root, string path, CheckpointReadOptions options)
    {
        if (root is not PyDict d)
            throw new CheckpointFormatException($"the checkpoint is a {Describe(root)}, expected a dict", path);
        if (UnilmWavLmFormat.Matches(d)) return UnilmWavLmFormat.Read(d, path);
        if (IsFairseq(d)) return FromFairseq(d, path);
        if (DpHubertLightningFormat.Matches(d)) return DpHubertLightningFormat.Read(d, path, options);
        if (HubertSoftFormat.Matches(d)) return HubertSoftFormat.Read(d, path, options);

        var notes = new List<string>();
        PyDict stateDict = d;
        if (d.TryGetValue("state_dict", out var inner) && inner is PyDict innerDict)
        {
            foreach (var key in d.Keys.OfType<string>().Where(k => k != "state_dict"))
            {
                notes.Add($"ignored top-level entry '{key}' (no 'config' beside 'state_dict')");
                DisposeTensors(d[key]);
            }
            stateDict = innerDict;
        }
        else if (d.Count > 0 && d.Values.Any(v => v is not Tensor))
        {
            var keys = string.Join(", ", d.Keys.Take(8).Select(k => $"'{k}'"));
            throw new CheckpointFormatException(
                $"unrecognized checkpoint layout (top-level keys {keys}): expected DPHuBERT's {{config, state_dict}}, fairseq's {{cfg|args, model}} or a bare state_dict",
                path);
        }

        var weights = ToStateDict(stateDict, path, "state_dict").ToList();
        // HF weights (pytorch_model.bin) given as a file: use the config.json beside them.
        var sibling = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, "config.json");
        if (options.ConfigPath is null && LooksLikeHf(weights.Select(w => w.Key)))
        {
            if (File.Exists(sibling)) return FromHuggingFace(weights, sibling, path, path);
            foreach (var kv in weights) kv.Value.Dispose();
            throw new CheckpointFormatException(
                "these are Hugging Face weights without their config.json: load the model folder (config.json beside the weights)", path);
        }
        return FromBareStateDict(weights, path, options, notes);
    }

    /// <summary>HF names the projection <c>feature_projection.*</c> and the layers <c>encoder.layers.*</c>; we
    /// (torchaudio, DPHuBERT) nest both under <c>encoder.</c> / <c>encoder.transformer.</c>.</summary>
    private static bool LooksLikeHf(IEnumerable<string> keys) => keys.Any(k =>
        !HuggingFaceKeyMap.Instance.Map(k).Unknown
        && (k.StartsWith("feature_projection.", StringComparison.Ordinal) || k.StartsWith("encoder.layers.", StringComparison.Ordinal)
            || k.Contains(".feature_projection.", StringComparison.Ordinal) && !k.Contains("encoder.feature_projection.", StringComparison.Ordinal)));

    /// <summary>A bare torchaudio (or DPHuBERT) state_dict: the architecture comes from --arch or --config.</summary>
    private static ModelCheckpoint FromBareStateDict(List<KeyValuePair<string, Tensor>> weights, string path,
        CheckpointReadOptions options, List<string> notes)
    {
        var report = new LoadReport(path, CheckpointFormat.Torchaudio);
        report.Notes.AddRange(notes);
        StateDict? sd = null;
        try
        {
            Wav2Vec2Config config;
            if (options.ConfigPath is not null)
                config = ConfigFromFile(options.ConfigPath, report);
            else if (options.Arch is not null)
            {
                if (!Wav2Vec2Config.Presets.TryGetValue(options.Arch, out var preset))
                    throw new CheckpointFormatException(
                        $"unknown architecture '{options.Arch}'; available presets: {string.Join(", ", Wav2Vec2Config.Presets.Keys)}", path);
                config = preset;
                report.Notes.Add($"config from the preset '{options.Arch}' (normalize_waveform = {(preset.NormalizeWaveform ? "true" : "false")})");
            }
            else
                throw new CheckpointFormatException(
                    "a bare state_dict does not say its architecture: give a preset (CheckpointReadOptions.Arch: "
                    + string.Join("|", Wav2Vec2Config.Presets.Keys) + ") or a config JSON (CheckpointReadOptions.ConfigPath)", path);

            var owned = weights.ToList();
            weights.Clear(); // ApplyKeyMap owns them now, also on failure
            sd = ApplyKeyMap(owned, TorchaudioKeyMap.Instance, report, path);
            CanonicalizeStateDict(sd, report, path);
            if (options.ConfigPath is null) SetAuxFromWeights(ref config, sd, report, "aux");
            return new ModelCheckpoint(config, sd, report);
        }
        catch
        {
            foreach (var kv in weights) kv.Value.Dispose();
            weights.Clear();
            sd?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A .safetensors file. Its config: <see cref="CheckpointReadOptions.ConfigPath"/>, else <c>&lt;name&gt;.json</c>
    /// beside it, else the config stored in its metadata, else <c>config.json</c> beside it. A Hugging Face
    /// config.json (it has <c>model_type</c>) reads the file as HF weights.
    /// </summary>
    private static ModelCheckpoint ReadSafeTensorsFile(string path, CheckpointReadOptions options)
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
        try
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
                if (metadata.TryGetValue(SafeTensorsConfigMetadataKey, out var embedded))
                {
                    try
                    {
                        using var doc = System.Text.Json.JsonDocument.Parse(embedded);
                        configDict = doc.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => Wav2Vec2Config.FromJsonElement(p.Value));
                    }
                    catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException)
                    {
                        throw new CheckpointFormatException($"invalid config JSON in the metadata: {e.Message}", path, SafeTensorsConfigMetadataKey, e);
                    }
                    configSource = path + " (metadata)";
                }
                else if (File.Exists(configJson))
                {
                    configDict = ReadJsonObject(configJson);
                    configSource = configJson;
                }
                else
                    throw new CheckpointFormatException(
                        $"no config for this safetensors file: expected {Path.GetFileName(named)} or config.json beside it, or CheckpointReadOptions.ConfigPath", path);
            }
            if (configDict.ContainsKey("model_type") || configDict.ContainsKey("architectures"))
            {
                var hfConfig = configPath ?? configJson;
                var result = FromHuggingFace(weights, hfConfig, path, path);
                weights = new();
                return result;
            }

            var report = new LoadReport(path, CheckpointFormat.DpHubertSafeTensors);
            report.Notes.Add($"config from {configSource}");
            var config = ConfigFromDictionary(configDict, configSource, report);
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
            StateDict sd;
            try
            {
                sd = ApplyKeyMap(modelWeights, TorchaudioKeyMap.Instance, report, path);
            }
            catch
            {
                foreach (var g in extras.Values) g.Dispose();
                throw;
            }
            CanonicalizeStateDict(sd, report, path);
            var checkpoint = new ModelCheckpoint(config, sd, report);
            foreach (var (name, group) in extras)
            {
                checkpoint.Extras[name] = group;
                report.Notes.Add($"extra tensors '{name}' ({group.Count}) kept in Extras");
            }
            return checkpoint;
        }
        catch
        {
            foreach (var kv in weights) kv.Value.Dispose();
            throw;
        }
    }
}
