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

/// <summary>The key map each checkpoint format uses (for <c>--verbose</c> listings).</summary>
public static class FormatKeyMaps
{
    /// <summary>The table that renames a format's keys: HF, fairseq, or the identity (torchaudio, DPHuBERT, our safetensors).</summary>
    /// <param name="format">A checkpoint format.</param>
    public static KeyMap For(CheckpointFormat format) => format switch
    {
        CheckpointFormat.HuggingFace => HuggingFaceKeyMap.Instance,
        CheckpointFormat.Fairseq => FairseqKeyMap.Instance,
        CheckpointFormat.UnilmWavLm => UnilmWavLmKeyMap.Instance,
        CheckpointFormat.HubertSoft => HubertSoftKeyMap.Instance,
        CheckpointFormat.DpHubertLightning => DpHubertLightningKeyMap.Instance,
        _ => TorchaudioKeyMap.Instance,
    };
}
