namespace DpHubert.Checkpoints.KeyMaps;

/// <summary>
/// fairseq wav2vec 2.0 / HuBERT / ContentVec checkpoints (<c>ckpt["model"]</c>) → DPHuBERT/torchaudio names, as
/// torchaudio 0.13.1's <c>import_fairseq._map_key</c> maps them, plus a leading <c>w2v_encoder.</c>
/// (fine-tuned files). <c>label_embs_concat</c>, which torchaudio keeps and then ignores, is dropped here.
/// Unknown keys are errors ("Unexpected key").
/// </summary>
public static class FairseqKeyMap
{
    /// <summary>The rules.</summary>
    public static KeyMap Instance { get; } = new("fairseq", new[]
    {
        KeyMapRule.Rewrite(@"w2v_encoder\.(.+)", "$1", "w2v_encoder.proj.weight", "proj.weight"),
        KeyMapRule.Rewrite(@"w2v_model\.(.+)", "$1", "w2v_model.layer_norm.bias", "layer_norm.bias"),
        KeyMapRule.Drop(@"(?:mask_emb|quantizer|project_q|final_proj).*", "quantizer.weight_proj.weight"),
        KeyMapRule.Drop(@"label_embs_concat", "label_embs_concat"),
        KeyMapRule.Map(@"feature_extractor\.conv_layers\.0\.2\.(weight|bias)", "feature_extractor.conv_layers.0.layer_norm.$1",
            "feature_extractor.conv_layers.0.2.weight", "feature_extractor.conv_layers.0.layer_norm.weight"),
        KeyMapRule.Map(@"feature_extractor\.conv_layers\.(\d+)\.0\.(weight|bias)", "feature_extractor.conv_layers.$1.conv.$2",
            "feature_extractor.conv_layers.4.0.weight", "feature_extractor.conv_layers.4.conv.weight"),
        KeyMapRule.Map(@"feature_extractor\.conv_layers\.(\d+)\.2\.1\.(weight|bias)", "feature_extractor.conv_layers.$1.layer_norm.$2",
            "feature_extractor.conv_layers.3.2.1.bias", "feature_extractor.conv_layers.3.layer_norm.bias"),
        KeyMapRule.Map(@"post_extract_proj\.(weight|bias)", "encoder.feature_projection.projection.$1",
            "post_extract_proj.weight", "encoder.feature_projection.projection.weight"),
        KeyMapRule.Map(@"layer_norm\.(weight|bias)", "encoder.feature_projection.layer_norm.$1",
            "layer_norm.weight", "encoder.feature_projection.layer_norm.weight"),
        KeyMapRule.Map(@"encoder\.pos_conv\.0\.(bias|weight_g|weight_v|weight)", "encoder.transformer.pos_conv_embed.conv.$1",
            "encoder.pos_conv.0.weight_v", "encoder.transformer.pos_conv_embed.conv.weight_v"),
        KeyMapRule.Map(@"encoder\.layer_norm\.(weight|bias)", "encoder.transformer.layer_norm.$1",
            "encoder.layer_norm.weight", "encoder.transformer.layer_norm.weight"),
        KeyMapRule.Map(@"encoder\.layers\.(\d+)\.self_attn\.((?:k|v|q|out)_proj\.(?:weight|bias))", "encoder.transformer.layers.$1.attention.$2",
            "encoder.layers.0.self_attn.out_proj.bias", "encoder.transformer.layers.0.attention.out_proj.bias"),
        KeyMapRule.Map(@"encoder\.layers\.(\d+)\.self_attn_layer_norm\.(weight|bias)", "encoder.transformer.layers.$1.layer_norm.$2",
            "encoder.layers.5.self_attn_layer_norm.weight", "encoder.transformer.layers.5.layer_norm.weight"),
        KeyMapRule.Map(@"encoder\.layers\.(\d+)\.fc1\.(weight|bias)", "encoder.transformer.layers.$1.feed_forward.intermediate_dense.$2",
            "encoder.layers.1.fc1.weight", "encoder.transformer.layers.1.feed_forward.intermediate_dense.weight"),
        KeyMapRule.Map(@"encoder\.layers\.(\d+)\.fc2\.(weight|bias)", "encoder.transformer.layers.$1.feed_forward.output_dense.$2",
            "encoder.layers.1.fc2.bias", "encoder.transformer.layers.1.feed_forward.output_dense.bias"),
        KeyMapRule.Map(@"encoder\.layers\.(\d+)\.final_layer_norm\.(weight|bias)", "encoder.transformer.layers.$1.final_layer_norm.$2",
            "encoder.layers.2.final_layer_norm.bias", "encoder.transformer.layers.2.final_layer_norm.bias"),
        KeyMapRule.Map(@"proj\.(weight|bias)", "aux.$1", "proj.weight", "aux.weight"),
    });
}
