using System.Linq;

namespace DpHubert.Checkpoints.KeyMaps;

/// <summary>
/// microsoft/unilm WavLM checkpoints (<c>WavLM-Base+.pt</c>, <c>WavLM-Large.pt</c>: <c>ckpt["model"]</c>) → DPHuBERT /
/// torchaudio names. unilm's WavLM is a fork of fairseq's wav2vec 2.0 and keeps its names, so after its own
/// relative-position parts (first) the fairseq table decides; <c>mask_emb</c> is dropped there.
/// </summary>
public static class UnilmWavLmKeyMap
{
    /// <summary>The rules.</summary>
    public static KeyMap Instance { get; } = new("unilm WavLM", new[]
    {
        KeyMapRule.Map(@"encoder\.layers\.(\d+)\.self_attn\.relative_attention_bias\.weight", "encoder.transformer.layers.$1.attention.rel_attn_embed.weight",
            "encoder.layers.0.self_attn.relative_attention_bias.weight", "encoder.transformer.layers.0.attention.rel_attn_embed.weight"),
        KeyMapRule.Map(@"encoder\.layers\.(\d+)\.self_attn\.grep_linear\.(weight|bias)", "encoder.transformer.layers.$1.attention.gru_rel_pos_linear.$2",
            "encoder.layers.4.self_attn.grep_linear.weight", "encoder.transformer.layers.4.attention.gru_rel_pos_linear.weight"),
        KeyMapRule.Map(@"encoder\.layers\.(\d+)\.self_attn\.grep_a", "encoder.transformer.layers.$1.attention.gru_rel_pos_const",
            "encoder.layers.11.self_attn.grep_a", "encoder.transformer.layers.11.attention.gru_rel_pos_const"),
    }.Concat(FairseqKeyMap.Instance.Rules));
}
