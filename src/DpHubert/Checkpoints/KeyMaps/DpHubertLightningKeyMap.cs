namespace DpHubert.Checkpoints.KeyMaps;

/// <summary>
/// The <c>state_dict</c> of a PyTorch Lightning checkpoint written by DPHuBERT's <c>distill.py</c> /
/// <c>final_distill.py</c> (its <c>DistillModule</c>) → the student's DPHuBERT names, as <c>prune.py</c> and
/// <c>save_final_ckpt.py</c> take them: <c>student_model.</c> stripped; the teacher and the Lagrangian loss multipliers
/// dropped; <c>distill_linear_projs.*</c> kept beside the model, as those scripts keep them.
/// </summary>
public static class DpHubertLightningKeyMap
{
    /// <summary>The rules.</summary>
    public static KeyMap Instance { get; } = new("DPHuBERT Lightning", new[]
    {
        KeyMapRule.Drop(@"teacher_model\..+", "teacher_model.encoder.transformer.layers.0.attention.k_proj.weight"),
        KeyMapRule.Drop(@"lambda1|lambda2", "lambda1"),
        KeyMapRule.Drop(@"distill_linear_projs\..+", "distill_linear_projs.0.weight"),
        KeyMapRule.Map(@"student_model\.(.+)", "$1",
            "student_model.encoder.transformer.layers.0.attention.hard_concrete_for_heads.log_alpha",
            "encoder.transformer.layers.0.attention.hard_concrete_for_heads.log_alpha"),
    });
}
