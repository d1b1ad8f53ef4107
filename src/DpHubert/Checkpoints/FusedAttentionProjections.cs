using System.Linq;
using DpHubert.PyTorch;

namespace DpHubert.Checkpoints;

/// <summary>
/// <c>nn.MultiheadAttention</c> stores the query, key and value projections as one <c>in_proj_weight</c> [3E, E] and
/// <c>in_proj_bias</c> [3E] (torchaudio ≥ 2 WavLM, HuBERT-Soft's <c>nn.TransformerEncoderLayer</c>); our attention has
/// them apart. Key maps rename such tensors to <c>…attention.in_proj_weight|bias</c>; this splits them.
/// </summary>
internal static class FusedAttentionProjections
{
    private const string Weight = ".in_proj_weight";
    private const string Bias = ".in_proj_bias";

    /// <summary>Replaces every <c>X.in_proj_weight|bias</c> by <c>X.q_proj</c>, <c>X.k_proj</c>, <c>X.v_proj</c> (in that order).</summary>
    public static void Split(StateDict sd, LoadReport report, string path)
    {
        var fused = sd.Keys.Where(k => k.EndsWith(Weight, System.StringComparison.Ordinal) || k.EndsWith(Bias, System.StringComparison.Ordinal)).ToList();
        foreach (var key in fused)
        {
            var isWeight = key.EndsWith(Weight, System.StringComparison.Ordinal);
            var prefix = key[..^(isWeight ? Weight.Length : Bias.Length)];
            var t = sd[key];
            if (t.dim() != (isWeight ? 2 : 1) || t.shape[0] % 3 != 0 || isWeight && t.shape[0] != 3 * t.shape[1])
                throw new CheckpointFormatException($"a fused attention projection must be [3E{(isWeight ? ", E" : "")}], got {Shapes.Format(t)}", path, key);
            sd.Remove(key);
            var parts = t.chunk(3, 0);
            t.Dispose();
            var suffix = isWeight ? "weight" : "bias";
            string[] names = { "q_proj", "k_proj", "v_proj" };
            for (var i = 0; i < 3; i++)
            {
                var name = $"{prefix}.{names[i]}.{suffix}";
                if (sd.ContainsKey(name))
                    throw new CheckpointFormatException($"both a fused in_proj and a separate {names[i]}", path, name);
                sd[name] = parts[i].contiguous();
                parts[i].Dispose();
            }
        }
        if (fused.Count > 0)
            report.Notes.Add($"{fused.Count} fused attention projections (in_proj_weight/in_proj_bias) split into q_proj, k_proj, v_proj (e.g. {fused[0]})");
    }
}
