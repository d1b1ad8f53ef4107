namespace DpHubert.Checkpoints.KeyMaps;

/// <summary>
/// Hugging Face transformers (<c>Wav2Vec2Model</c>, <c>HubertModel</c>, <c>WavLMModel</c> and their head classes)
/// → DPHuBERT/torchaudio names. Unknown keys are errors.
/// </summary>
public static class HuggingFaceKeyMap
{
    /// <summary>The rules.</summary>
    public static KeyMap Instance { get; } = new("Hugging Face",
    [
        // Files saved from a head class (…ForCTC, …ForPreTraining) prefix the base model.
        KeyMapRule.Rewrite(@"(?:wav2vec2|hubert|wavlm)\.(.+)", "$1",
            "hubert.encoder.layer_norm.weight", "encoder.layer_norm.weight"),
        // Pre-training / fine-tuning parts with no counterpart.
        KeyMapRule.Drop(@"masked_spec_embed", "masked_spec_embed"),
        KeyMapRule.Drop(@"quantizer\..+", "quantizer.codevectors"),
        KeyMapRule.Drop(@"project_q\..+", "project_q.weight"),
        KeyMapRule.Drop(@"project_hid\..+", "project_hid.bias"),
        KeyMapRule.Drop(@"label_embeddings_concat", "label_embeddings_concat"),
        KeyMapRule.Drop(@"final_proj\..+", "final_proj.weight"),
        KeyMapRule.Drop(@"(?:projector|classifier)\.(?:weight|bias)", "classifier.weight"),
        KeyMapRule.Drop(@"layer_weights", "layer_weights"),
        // Feature extractor: unchanged.
        KeyMapRule.Map(@"feature_extractor\.conv_layers\.(\d+)\.(conv|layer_norm)\.(weight|bias)", "feature_extractor.conv_layers.$1.$2.$3",
            "feature_extractor.conv_layers.0.layer_norm.weight", "feature_extractor.conv_layers.0.layer_norm.weight"),
        // Feature projection moves under the encoder.
        KeyMapRule.Map(@"feature_projection\.(layer_norm|projection)\.(weight|bias)", "encoder.feature_projection.$1.$2",
            "feature_projection.projection.weight", "encoder.feature_projection.projection.weight"),
        // Positional conv: both weight-norm spellings, or a fused weight (split into g and v by the loader).
        KeyMapRule.Map(@"encoder\.pos_conv_embed\.conv\.(bias|weight_g|weight_v|weight)", "encoder.transformer.pos_conv_embed.conv.$1",
            "encoder.pos_conv_embed.conv.weight_g", "encoder.transformer.pos_conv_embed.conv.weight_g"),
        .. KeyMapRule.ParametrizedWeightNorm(@"encoder\.pos_conv_embed\.conv", "encoder.transformer.pos_conv_embed.conv",
            "encoder.pos_conv_embed.conv", "encoder.transformer.pos_conv_embed.conv"),
        KeyMapRule.Map(@"encoder\.layer_norm\.(weight|bias)", "encoder.transformer.layer_norm.$1",
            "encoder.layer_norm.bias", "encoder.transformer.layer_norm.bias"),
        // Encoder layers (WavLM's relative-position parts included).
        KeyMapRule.Map(@"encoder\.layers\.(\d+)\.attention\.((?:q|k|v|out)_proj\.(?:weight|bias))", "encoder.transformer.layers.$1.attention.$2",
            "encoder.layers.3.attention.k_proj.weight", "encoder.transformer.layers.3.attention.k_proj.weight"),
        KeyMapRule.Map(@"encoder\.layers\.(\d+)\.attention\.(gru_rel_pos_linear\.(?:weight|bias)|gru_rel_pos_const|rel_attn_embed\.weight)",
            "encoder.transformer.layers.$1.attention.$2",
            "encoder.layers.0.attention.rel_attn_embed.weight", "encoder.transformer.layers.0.attention.rel_attn_embed.weight"),
        KeyMapRule.Map(@"encoder\.layers\.(\d+)\.(layer_norm|final_layer_norm)\.(weight|bias)", "encoder.transformer.layers.$1.$2.$3",
            "encoder.layers.1.final_layer_norm.weight", "encoder.transformer.layers.1.final_layer_norm.weight"),
        KeyMapRule.Map(@"encoder\.layers\.(\d+)\.feed_forward\.(intermediate_dense|output_dense)\.(weight|bias)",
            "encoder.transformer.layers.$1.feed_forward.$2.$3",
            "encoder.layers.2.feed_forward.output_dense.bias", "encoder.transformer.layers.2.feed_forward.output_dense.bias"),
        // CTC head.
        KeyMapRule.Map(@"lm_head\.(weight|bias)", "aux.$1", "lm_head.weight", "aux.weight"),
    ]);
}
