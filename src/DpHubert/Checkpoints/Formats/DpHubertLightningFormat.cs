using System;
using System.Collections.Generic;
using System.Linq;
using DpHubert.Checkpoints.KeyMaps;
using DpHubert.Config;
using DpHubert.PyTorch;

namespace DpHubert.Checkpoints.Formats;

/// <summary>
/// The PyTorch Lightning <c>.ckpt</c> DPHuBERT's <c>distill.py</c> / <c>final_distill.py</c> write: the DistillModule's
/// <c>state_dict</c> (student, teacher, distillation heads, loss multipliers) beside optimizer, scheduler, loop and
/// callback state, and no config. As <c>prune.py</c> / <c>save_final_ckpt.py</c> do, the student's weights are kept
/// (<see cref="DpHubertLightningKeyMap"/>), <c>distill_linear_projs</c> beside them, and the config comes from the student's
/// original <c>.pth</c> (or a config JSON) given as <see cref="CheckpointReadOptions.ConfigPath"/>, with the prune flags
/// set by which HardConcrete <c>log_alpha</c>s the student has.
/// </summary>
internal sealed class DpHubertLightningFormat : FormatReader
{
    private const string Student = "student_model.";
    private static readonly string ProjsPrefix = CheckpointLoader.DistillLinearProjsKey + ".";
    private readonly PyDict _root;

    public DpHubertLightningFormat(PyDict root, string path, CheckpointReadOptions options) : base(path, CheckpointFormat.DpHubertLightning, options)
    {
        if (options.ConfigPath is null)
            throw new CheckpointFormatException(new OptionText(
                $"a DPHuBERT Lightning checkpoint (distill.py / final_distill.py) has no config: give the student's original .pth (what prune.py takes as --original_ckpt; after final_distill.py the pruned .pth) or its config JSON as {ApiOption.ConfigPath}"), path);
        _root = root;
    }

    public static bool Matches(PyDict d) =>
        d.DictAt("state_dict") is { } sd
        && (d.ContainsKey("pytorch-lightning_version") || d.ContainsKey("optimizer_states"))
        && sd.Keys.OfType<string>().Any(k => k.StartsWith(Student, StringComparison.Ordinal));

    public override KeyMap KeyMap => DpHubertLightningKeyMap.Instance;

    public override Wav2Vec2Config? TranslateConfig(LoadReport report) => ConfigFiles.FromFile(Options.ConfigPath!, report);

    public override IEnumerable<KeyValuePair<string, Tensor>> Weights(LoadReport report)
    {
        var all = StateDict.FromPickled(_root["state_dict"], Source, "state_dict");
        int teacher = all.Keys.Count(k => k.StartsWith("teacher_model.", StringComparison.Ordinal));
        foreach (var other in _root.Keys.OfType<string>().Where(k => k != "state_dict"))
            report.Notes.Add($"ignored top-level entry '{other}' (training state)");
        report.Notes.Add($"student_model.* kept; {teacher} teacher_model.* tensors and the loss multipliers dropped");
        return all;
    }

    public override (string Group, string Name)? Extra(string key) =>
        key.StartsWith(ProjsPrefix, StringComparison.Ordinal) ? (CheckpointLoader.DistillLinearProjsKey, key[ProjsPrefix.Length..]) : null;

    /// <summary>prune.py's rule: a prune flag is on exactly when layer 0 (conv 0) of the student has that mask.</summary>
    public override Wav2Vec2Config ConfigFromWeights(Wav2Vec2Config? translated, StateDict weights, LoadReport report)
    {
        var c = translated!;
        bool Has(string key) => weights.ContainsKey(key);
        var flags = c with
        {
            ExtractorPruneConvChannels = Has("feature_extractor.conv_layers.0.hard_concrete.log_alpha"),
            EncoderPruneAttentionHeads = Has("encoder.transformer.layers.0.attention.hard_concrete_for_heads.log_alpha"),
            EncoderPruneAttentionLayer = Has("encoder.transformer.layers.0.attention.hard_concrete_for_layer.log_alpha"),
            EncoderPruneFeedForwardIntermediate = Has("encoder.transformer.layers.0.feed_forward.hard_concrete_for_intermediate.log_alpha"),
            EncoderPruneFeedForwardLayer = Has("encoder.transformer.layers.0.feed_forward.hard_concrete_for_layer.log_alpha"),
        };
        if (flags != c) report.Notes.Add("prune flags set from the student's HardConcrete log_alpha keys, as prune.py does");
        return flags.Validate();
    }

    public override void Finish(ModelCheckpoint checkpoint)
    {
        if (!checkpoint.Extras.TryGetValue(CheckpointLoader.DistillLinearProjsKey, out var projs))
            checkpoint.Extras[CheckpointLoader.DistillLinearProjsKey] = projs = new StateDict();
        checkpoint.Report.Notes.Add($"distill_linear_projs ({projs.Count} tensors) kept in Extras[\"{CheckpointLoader.DistillLinearProjsKey}\"]");
    }
}
