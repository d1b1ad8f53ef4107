namespace DpHubert.Checkpoints.KeyMaps;

/// <summary>
/// bshall/hubert's HuBERT-Soft (<c>hubert-soft-0d54a1f4.pt</c>: a bare state_dict saved from the DDP-wrapped model)
/// → DPHuBERT / torchaudio names. Its encoder is <c>nn.TransformerEncoderLayer</c>s (post-LN), whose fused
/// <c>in_proj_*</c> the loader splits into q, k, v; <c>proj</c> (E → 256 soft units) is kept as the optional projection.
/// </summary>
public static class HubertSoftKeyMap
{
    /// <summary>The rules.</summary>
    public static KeyMap Instance { get; } = new("HuBERT-Soft",
    [
        KeyMapRule.Rewrite(@"module\.(.+)", "$1", "module.proj.weight", "proj.weight"),
        KeyMapRule.Drop(@"masked_spec_embed|label_embedding\.weight", "label_embedding.weight"),
        KeyMapRule.Drop(@"proj\.(?:weight|bias)", "proj.bias"),
        KeyMapRule.Map(@"feature_extractor\.conv(\d)\.weight", "feature_extractor.conv_layers.$1.conv.weight",
            "feature_extractor.conv6.weight", "feature_extractor.conv_layers.6.conv.weight"),
        KeyMapRule.Map(@"feature_extractor\.norm0\.(weight|bias)", "feature_extractor.conv_layers.0.layer_norm.$1",
            "feature_extractor.norm0.bias", "feature_extractor.conv_layers.0.layer_norm.bias"),
        KeyMapRule.Map(@"feature_projection\.norm\.(weight|bias)", "encoder.feature_projection.layer_norm.$1",
            "feature_projection.norm.weight", "encoder.feature_projection.layer_norm.weight"),
        KeyMapRule.Map(@"feature_projection\.projection\.(weight|bias)", "encoder.feature_projection.projection.$1",
            "feature_projection.projection.bias", "encoder.feature_projection.projection.bias"),
        KeyMapRule.Map(@"positional_embedding\.conv\.(bias|weight_g|weight_v)", "encoder.transformer.pos_conv_embed.conv.$1",
            "positional_embedding.conv.weight_g", "encoder.transformer.pos_conv_embed.conv.weight_g"),
        .. KeyMapRule.ParametrizedWeightNorm(@"positional_embedding\.conv", "encoder.transformer.pos_conv_embed.conv",
            "positional_embedding.conv", "encoder.transformer.pos_conv_embed.conv"),
        KeyMapRule.Map(@"norm\.(weight|bias)", "encoder.transformer.layer_norm.$1", "norm.bias", "encoder.transformer.layer_norm.bias"),
        KeyMapRule.Map(@"encoder\.layers\.(\d+)\.self_attn\.(in_proj_weight|in_proj_bias)", "encoder.transformer.layers.$1.attention.$2",
            "encoder.layers.0.self_attn.in_proj_weight", "encoder.transformer.layers.0.attention.in_proj_weight"),
        KeyMapRule.Map(@"encoder\.layers\.(\d+)\.self_attn\.out_proj\.(weight|bias)", "encoder.transformer.layers.$1.attention.out_proj.$2",
            "encoder.layers.3.self_attn.out_proj.weight", "encoder.transformer.layers.3.attention.out_proj.weight"),
        KeyMapRule.Map(@"encoder\.layers\.(\d+)\.linear1\.(weight|bias)", "encoder.transformer.layers.$1.feed_forward.intermediate_dense.$2",
            "encoder.layers.1.linear1.weight", "encoder.transformer.layers.1.feed_forward.intermediate_dense.weight"),
        KeyMapRule.Map(@"encoder\.layers\.(\d+)\.linear2\.(weight|bias)", "encoder.transformer.layers.$1.feed_forward.output_dense.$2",
            "encoder.layers.1.linear2.bias", "encoder.transformer.layers.1.feed_forward.output_dense.bias"),
        KeyMapRule.Map(@"encoder\.layers\.(\d+)\.norm1\.(weight|bias)", "encoder.transformer.layers.$1.layer_norm.$2",
            "encoder.layers.2.norm1.weight", "encoder.transformer.layers.2.layer_norm.weight"),
        KeyMapRule.Map(@"encoder\.layers\.(\d+)\.norm2\.(weight|bias)", "encoder.transformer.layers.$1.final_layer_norm.$2",
            "encoder.layers.2.norm2.bias", "encoder.transformer.layers.2.final_layer_norm.bias"),
    ]);
}
