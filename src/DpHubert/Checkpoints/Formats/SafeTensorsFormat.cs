using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using DpHubert.Checkpoints.KeyMaps;
using DpHubert.Config;
using DpHubert.PyTorch;

namespace DpHubert.Checkpoints.Formats;

/// <summary>A <c>.safetensors</c> file with a DPHuBERT config (what <c>convert</c> writes): our key names, with
/// <c>distill_linear_projs.*</c> and <c>final_proj.*</c> kept beside the model.</summary>
internal sealed class SafeTensorsFormat : FormatReader
{
    private static readonly string[] ExtraPrefixes = { CheckpointLoader.DistillLinearProjsKey, CheckpointLoader.FinalProjKey };
    private readonly SafeTensorsWithConfig _file;

    public SafeTensorsFormat(SafeTensorsWithConfig file, string path, CheckpointReadOptions options) : base(path, CheckpointFormat.DpHubertSafeTensors, options) =>
        _file = file;

    /// <summary>
    /// Reads a .safetensors file and its config: <see cref="CheckpointReadOptions.ConfigPath"/>, else <c>&lt;name&gt;.json</c>
    /// beside it, else the config stored in its metadata, else <c>config.json</c> beside it.
    /// </summary>
    public static SafeTensorsWithConfig Read(string path, CheckpointReadOptions options)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var named = Path.Combine(dir, Path.GetFileNameWithoutExtension(path) + ".json");
        var configJson = Path.Combine(dir, "config.json");
        StateDict weights;
        IReadOnlyDictionary<string, string> metadata;
        using (var st = SafeTensors.Load(path))
        {
            metadata = st.Metadata;
            weights = new StateDict(st.Keys.ToList().Select(k => new KeyValuePair<string, Tensor>(k, st.Detach(k))));
        }
        var configPath = options.ConfigPath ?? (File.Exists(named) ? named : null);
        if (configPath is not null)
            return new(weights, ConfigFiles.ReadJsonObject(configPath), configPath, configPath);
        if (metadata.TryGetValue(CheckpointLoader.SafeTensorsConfigMetadataKey, out var embedded))
        {
            try
            {
                return new(weights, ConfigFiles.ParseJsonObject(embedded, path, CheckpointLoader.SafeTensorsConfigMetadataKey), path + " (metadata)", null);
            }
            catch (JsonException e)
            {
                throw new CheckpointFormatException($"invalid config JSON in the metadata: {e.Message}", path, CheckpointLoader.SafeTensorsConfigMetadataKey, e);
            }
        }
        if (File.Exists(configJson))
            return new(weights, ConfigFiles.ReadJsonObject(configJson), configJson, configJson);
        throw new CheckpointFormatException(new OptionText(
            $"no config for this safetensors file: expected {Path.GetFileName(named)} or config.json beside it, or {ApiOption.ConfigPath}"), path);
    }

    public override KeyMap KeyMap => TorchaudioKeyMap.Instance;

    public override Wav2Vec2Config? TranslateConfig(LoadReport report)
    {
        report.Notes.Add($"config from {_file.ConfigSource}");
        return ConfigFiles.FromDictionary(_file.Config, _file.ConfigSource, report);
    }

    public override IEnumerable<KeyValuePair<string, Tensor>> Weights(LoadReport report) => _file.Weights;

    public override (string Group, string Name)? Extra(string key) =>
        ExtraPrefixes.FirstOrDefault(p => key.StartsWith(p + ".", StringComparison.Ordinal)) is { } prefix ? (prefix, key[(prefix.Length + 1)..]) : null;

    public override void Finish(ModelCheckpoint checkpoint)
    {
        foreach (var (name, group) in checkpoint.Extras)
            checkpoint.Report.Notes.Add($"extra tensors '{name}' ({group.Count}) kept in Extras");
    }
}
