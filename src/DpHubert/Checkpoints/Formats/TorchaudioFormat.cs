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

/// <summary>
/// torchaudio's key names: a DPHuBERT / so-vits-svc <c>.pth</c> (<c>{"config", "state_dict"[, "distill_linear_projs",
/// "final_proj"]}</c>) and a bare torchaudio state_dict, whose architecture comes from a preset or a config file.
/// </summary>
internal static class TorchaudioFormat
{
    internal static ModelCheckpoint ReadDpHubert(PyDict root, string path)
    {
        if (root["config"] is not PyDict configDict)
            throw new CheckpointFormatException($"'config' is a {Describe(root["config"])}, expected a dict", path, "config");
        var config = TranslateConfig(() => Wav2Vec2Config.FromDictionary(configDict.Select(kv => new KeyValuePair<string, object?>(
            kv.Key as string ?? throw new CheckpointFormatException($"config key {kv.Key} is not a string", path, "config"), kv.Value))),
            path, "config");
        var report = new LoadReport(path, CheckpointFormat.DpHubert);
        // Our own names: the identity table (plus the parametrized weight-norm spelling), then the common
        // canonicalization (fused positional-conv weight, half precision).
        var sd = ApplyKeyMap(ToStateDict(root["state_dict"], path, "state_dict").ToList(), KeyMaps.TorchaudioKeyMap.Instance, report, path);
        CanonicalizeStateDict(sd, report, path);
        var checkpoint = new ModelCheckpoint(config, sd, report);
        if (root.TryGetValue("distill_linear_projs", out var projs) && projs is PyDict)
            checkpoint.Extras["distill_linear_projs"] = ToStateDict(projs, path, "distill_linear_projs");
        if (root.TryGetValue(CheckpointLoader.FinalProjKey, out var finalProj) && finalProj is PyDict)
        {
            checkpoint.Extras[CheckpointLoader.FinalProjKey] = ToStateDict(finalProj, path, CheckpointLoader.FinalProjKey);
            report.Notes.Add($"final_proj kept as the optional projection Extras[\"{CheckpointLoader.FinalProjKey}\"]");
        }
        foreach (var key in root.Keys.OfType<string>().Where(k => k is not "config" and not "state_dict" and not "distill_linear_projs" and not CheckpointLoader.FinalProjKey))
        {
            report.Notes.Add($"ignored top-level entry '{key}'");
            DisposeTensors(root[key]);
        }
        return checkpoint;
    }

    /// <summary>A bare state_dict (possibly under "state_dict" without a config), or HF weights given as a file.</summary>
    internal static ModelCheckpoint ReadBare(PyDict d, string path, CheckpointReadOptions options)
    {
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
            if (File.Exists(sibling)) return HuggingFaceFormat.FromWeights(weights, sibling, path, path);
            foreach (var kv in weights) kv.Value.Dispose();
            throw new CheckpointFormatException(
                "these are Hugging Face weights without their config.json: load the model folder (config.json beside the weights)", path);
        }
        return FromBareStateDict(weights, path, options, notes);
    }

    /// <summary>HF names the projection <c>feature_projection.*</c> and the layers <c>encoder.layers.*</c>; we
    /// (torchaudio, DPHuBERT) nest both under <c>encoder.</c> / <c>encoder.transformer.</c>.</summary>
    internal static bool LooksLikeHf(IEnumerable<string> keys) => keys.Any(k =>
        !HuggingFaceKeyMap.Instance.Map(k).Unknown
        && (k.StartsWith("feature_projection.", StringComparison.Ordinal) || k.StartsWith("encoder.layers.", StringComparison.Ordinal)
            || k.Contains(".feature_projection.", StringComparison.Ordinal) && !k.Contains("encoder.feature_projection.", StringComparison.Ordinal)));

    /// <summary>A bare torchaudio (or DPHuBERT) state_dict: the architecture comes from --arch or --config.</summary>
    internal static ModelCheckpoint FromBareStateDict(List<KeyValuePair<string, Tensor>> weights, string path,
        CheckpointReadOptions options, List<string> notes)
    {
        var report = new LoadReport(path, CheckpointFormat.Torchaudio);
        report.Notes.AddRange(notes);
        StateDict? sd = null;
        return DisposeOnFailure(() =>
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
                throw new CheckpointFormatException(new OptionText(
                    $"a bare state_dict does not say its architecture: give a preset ({ApiOption.Arch}: {string.Join("|", Wav2Vec2Config.Presets.Keys)}) or a config JSON ({ApiOption.ConfigPath})"), path);

            var owned = weights.ToList();
            weights.Clear(); // ApplyKeyMap owns them now, also on failure
            sd = ApplyKeyMap(owned, TorchaudioKeyMap.Instance, report, path);
            CanonicalizeStateDict(sd, report, path);
            if (options.ConfigPath is null) SetAuxFromWeights(ref config, sd, report, "aux");
            return new ModelCheckpoint(config, sd, report);
        }, () =>
        {
            foreach (var kv in weights) kv.Value.Dispose();
            weights.Clear();
            sd?.Dispose();
        });
    }

    /// <summary>
    /// The config given by <see cref="CheckpointReadOptions.ConfigPath"/>: a config JSON, or a DPHuBERT <c>.pth</c>
    /// whose <c>"config"</c> is taken (as DPHuBERT's <c>prune.py</c> takes the student's from <c>--original_ckpt</c>).
    /// </summary>
    internal static Wav2Vec2Config ConfigFromFile(string configPath, LoadReport report)
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
            return ConfigFromDictionary(ReadJsonObject(configPath), configPath, report);
        }
        var root = TorchCheckpointReader.Load(configPath);
        try
        {
            if (root is not PyDict d || !d.TryGetValue("config", out var c) || c is not PyDict config)
                throw new CheckpointFormatException("expected a config JSON or a DPHuBERT .pth with a 'config' entry", configPath);
            report.Notes.Add($"config from {configPath} (its 'config' entry)");
            return ConfigFromDictionary(config.ToDictionary(kv => kv.Key as string
                ?? throw new CheckpointFormatException($"config key {kv.Key} is not a string", configPath, "config"), kv => kv.Value), configPath, report);
        }
        finally
        {
            DisposeTensors(root);
        }
    }

    /// <summary>
    /// A DPHuBERT config dict, or a torchaudio <c>wav2vec2_model</c> one (scalar <c>encoder_num_heads</c> and
    /// <c>encoder_ff_interm_features</c>, no per-layer lists, no <c>normalize_waveform</c>): the latter is expanded.
    /// </summary>
    internal static Wav2Vec2Config ConfigFromDictionary(Dictionary<string, object?> d, string path, LoadReport? report)
    {
        return TranslateConfig(() => ConfigDictionaryMap.ReadUniform(d, ConfigDictionaryMap.KindOf(d), report is null ? null : report.Notes.Add),
            path, "config");
    }
}
