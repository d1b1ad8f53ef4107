using System;
using System.Collections.Generic;
using System.Linq;
using DpHubert.Checkpoints.KeyMaps;
using DpHubert.Config;
using DpHubert.PyTorch;
using static DpHubert.Checkpoints.LoadSteps;

namespace DpHubert.Checkpoints;

/// <summary>
/// The PyTorch Lightning <c>.ckpt</c> DPHuBERT's <c>distill.py</c> / <c>final_distill.py</c> write: the DistillModule's
/// <c>state_dict</c> (student, teacher, distillation heads, loss multipliers) beside optimizer, scheduler, loop and
/// callback state, and no config. As <c>prune.py</c> / <c>save_final_ckpt.py</c> do, the student's weights are kept
/// (<see cref="DpHubertLightningKeyMap"/>), <c>distill_linear_projs</c> beside them, and the config comes from the student's
/// original <c>.pth</c> (or a config JSON) given as <see cref="CheckpointReadOptions.ConfigPath"/>, with the prune flags
/// set by which HardConcrete <c>log_alpha</c>s the student has.
/// </summary>
internal static class DpHubertLightningFormat
{
    private const string Student = "student_model.";

    public static bool Matches(PyDict d) =>
        d.TryGetValue("state_dict", out var s) && s is PyDict sd
        && (d.ContainsKey("pytorch-lightning_version") || d.ContainsKey("optimizer_states"))
        && sd.Keys.OfType<string>().Any(k => k.StartsWith(Student, StringComparison.Ordinal));

    public static ModelCheckpoint Read(PyDict root, string path, CheckpointReadOptions options)
    {
        if (options.ConfigPath is null)
            throw new CheckpointFormatException(new OptionText(
                $"a DPHuBERT Lightning checkpoint (distill.py / final_distill.py) has no config: give the student's original .pth (what prune.py takes as --original_ckpt; after final_distill.py the pruned .pth) or its config JSON as {ApiOption.ConfigPath}"), path);
        var report = new LoadReport(path, CheckpointFormat.DpHubertLightning);
        var projs = new StateDict();
        StateDict? sd = null;
        return DisposeOnFailure(() =>
        {
            var all = LoadSteps.ToStateDict(root["state_dict"], path, "state_dict");
            int teacher = all.Keys.Count(k => k.StartsWith("teacher_model.", StringComparison.Ordinal));
            sd = LoadSteps.ApplyKeyMap(all, DpHubertLightningKeyMap.Instance, report, path, (key, tensor) =>
            {
                if (!key.StartsWith(CheckpointLoader.DistillLinearProjsKey + ".", StringComparison.Ordinal)) return false;
                projs[key[(CheckpointLoader.DistillLinearProjsKey.Length + 1)..]] = tensor;
                return true;
            });
            foreach (var other in root.Keys.OfType<string>().Where(k => k != "state_dict"))
            {
                report.Notes.Add($"ignored top-level entry '{other}' (training state)");
                LoadSteps.DisposeTensors(root[other]);
            }
            report.Notes.Add($"student_model.* kept; {teacher} teacher_model.* tensors and the loss multipliers dropped");
            LoadSteps.CanonicalizeStateDict(sd, report, path);
            var config = TorchaudioFormat.ConfigFromFile(options.ConfigPath, report);
            config = WithPruneFlagsOf(config, sd, report);
            var checkpoint = new ModelCheckpoint(config, sd, report);
            checkpoint.Extras[CheckpointLoader.DistillLinearProjsKey] = projs;
            report.Notes.Add($"distill_linear_projs ({projs.Count} tensors) kept in Extras[\"{CheckpointLoader.DistillLinearProjsKey}\"]");
            return checkpoint;
        }, () =>
        {
            projs.Dispose();
            sd?.Dispose();
        });
    }

    /// <summary>prune.py's rule: a prune flag is on exactly when layer 0 (conv 0) of the student has that mask.</summary>
    private static Wav2Vec2Config WithPruneFlagsOf(Wav2Vec2Config c, StateDict sd, LoadReport report)
    {
        bool Has(string key) => sd.ContainsKey(key);
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
}
