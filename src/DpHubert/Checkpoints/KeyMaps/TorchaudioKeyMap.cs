namespace DpHubert.Checkpoints.KeyMaps;

/// <summary>
/// torchaudio <c>Wav2Vec2Model</c> state_dicts and DPHuBERT checkpoints: our own names, so the identity, except the
/// newer parametrized weight-norm spelling of the positional conv. Every other key passes unchanged and the strict
/// load then names any key the model lacks.
/// </summary>
public static class TorchaudioKeyMap
{
    /// <summary>The rules.</summary>
    public static KeyMap Instance { get; } = new("torchaudio",
    [
        // torchaudio >= 2.0 WavLM keeps q, k, v fused in an nn.MultiheadAttention (split by the loader).
        KeyMapRule.Map(@"(.*\.attention)\.attention\.(in_proj_weight|in_proj_bias)", "$1.$2",
            "encoder.transformer.layers.0.attention.attention.in_proj_weight", "encoder.transformer.layers.0.attention.in_proj_weight"),
        KeyMapRule.Map(@"(.*\.attention)\.attention\.out_proj\.(weight|bias)", "$1.out_proj.$2",
            "encoder.transformer.layers.3.attention.attention.out_proj.bias", "encoder.transformer.layers.3.attention.out_proj.bias"),
        .. KeyMapRule.ParametrizedWeightNorm(@"(.*pos_conv_embed\.conv)", "$1",
            "encoder.transformer.pos_conv_embed.conv", "encoder.transformer.pos_conv_embed.conv"),
        KeyMapRule.Map(@".+", "$0", "encoder.transformer.layers.0.attention.k_proj.weight", "encoder.transformer.layers.0.attention.k_proj.weight"),
    ]);
}
