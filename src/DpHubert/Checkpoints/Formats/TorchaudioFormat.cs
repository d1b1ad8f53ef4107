using System;
using System.Collections.Generic;
using System.Linq;
using DpHubert.Checkpoints.KeyMaps;
using DpHubert.Config;
using DpHubert.PyTorch;

namespace DpHubert.Checkpoints.Formats;

/// <summary>
/// torchaudio's key names: a DPHuBERT / so-vits-svc <c>.pth</c> (<c>{"config", "state_dict"[, "distill_linear_projs",
/// "final_proj"]}</c>) and a bare torchaudio state_dict, whose architecture comes from a preset or a config file.
/// Our own names: the identity table (plus the parametrized weight-norm spelling).
/// </summary>
internal abstract class TorchaudioFormat : FormatReader
{
    private TorchaudioFormat(string path, CheckpointFormat format, CheckpointReadOptions options) : base(path, format, options)
    {
    }

    public override KeyMap KeyMap => TorchaudioKeyMap.Instance;

    /// <summary>DPHuBERT's own layout: a config dict beside the state_dict.</summary>
    public static bool IsDpHubert(PyDict root) => root.ContainsKey("state_dict") && root.ContainsKey("config");

    /// <summary>A DPHuBERT <c>.pth</c>.</summary>
    public static FormatReader DpHubert(PyDict root, string path, CheckpointReadOptions options) => new DpHubertPth(root, path, options);

    /// <summary>A bare state_dict (with notes on what reading it left out): the architecture comes from
    /// <see cref="CheckpointReadOptions.Arch"/> or <see cref="CheckpointReadOptions.ConfigPath"/>.</summary>
    public static FormatReader Bare(StateDict weights, IReadOnlyList<string> notes, string path, CheckpointReadOptions options) =>
        new BareStateDict(weights, notes, path, options);

    private sealed class DpHubertPth : TorchaudioFormat
    {
        private static readonly string[] Entries = { "config", "state_dict", CheckpointLoader.DistillLinearProjsKey, CheckpointLoader.FinalProjKey };
        private readonly PyDict _root;

        public DpHubertPth(PyDict root, string path, CheckpointReadOptions options) : base(path, CheckpointFormat.DpHubert, options) => _root = root;

        public override Wav2Vec2Config? TranslateConfig(LoadReport report)
        {
            var configDict = new PyValue(_root["config"]).ExpectDict(Source, "config");
            return ConfigFiles.Translate(() => Wav2Vec2Config.FromDictionary(ConfigFiles.StringKeys(configDict, Source)), Source, "config");
        }

        public override IEnumerable<KeyValuePair<string, Tensor>> Weights(LoadReport report)
        {
            foreach (var key in _root.Keys.OfType<string>().Where(k => !Entries.Contains(k)))
                report.Notes.Add($"ignored top-level entry '{key}'");
            return StateDict.FromPickled(_root["state_dict"], Source, "state_dict");
        }

        public override void Finish(ModelCheckpoint checkpoint)
        {
            if (_root.DictAt(CheckpointLoader.DistillLinearProjsKey) is { } projs)
                checkpoint.Extras[CheckpointLoader.DistillLinearProjsKey] = StateDict.FromPickled(projs, Source, CheckpointLoader.DistillLinearProjsKey);
            if (_root.DictAt(CheckpointLoader.FinalProjKey) is { } finalProj)
            {
                checkpoint.Extras[CheckpointLoader.FinalProjKey] = StateDict.FromPickled(finalProj, Source, CheckpointLoader.FinalProjKey);
                checkpoint.Report.Notes.Add($"final_proj kept as the optional projection Extras[\"{CheckpointLoader.FinalProjKey}\"]");
            }
        }
    }

    private sealed class BareStateDict : TorchaudioFormat
    {
        private readonly StateDict _weights;
        private readonly IReadOnlyList<string> _notes;

        public BareStateDict(StateDict weights, IReadOnlyList<string> notes, string path, CheckpointReadOptions options)
            : base(path, CheckpointFormat.Torchaudio, options)
        {
            _weights = weights;
            _notes = notes;
        }

        public override IEnumerable<KeyValuePair<string, Tensor>> Weights(LoadReport report)
        {
            report.Notes.AddRange(_notes);
            return _weights;
        }

        public override Wav2Vec2Config? TranslateConfig(LoadReport report)
        {
            if (Options.ConfigPath is not null)
                return ConfigFiles.FromFile(Options.ConfigPath, report);
            if (Options.Arch is null)
                throw new CheckpointFormatException(new OptionText(
                    $"a bare state_dict does not say its architecture: give a preset ({ApiOption.Arch}: {string.Join("|", Wav2Vec2Config.Presets.Keys)}) or a config JSON ({ApiOption.ConfigPath})"), Source);
            if (!Wav2Vec2Config.Presets.TryGetValue(Options.Arch, out var preset))
                throw new CheckpointFormatException(
                    $"unknown architecture '{Options.Arch}'; available presets: {string.Join(", ", Wav2Vec2Config.Presets.Keys)}", Source);
            report.Notes.Add($"config from the preset '{Options.Arch}' (normalize_waveform = {(preset.NormalizeWaveform ? "true" : "false")})");
            return preset;
        }

        public override Wav2Vec2Config ConfigFromWeights(Wav2Vec2Config? translated, StateDict weights, LoadReport report) =>
            Options.ConfigPath is null ? WithAuxFromWeights(translated!, weights, report, "aux") : translated!;
    }
}
