namespace DpHubert.Config;

/// <summary>
/// The model family a checkpoint declares: Hugging Face <c>model_type</c>, fairseq <c>_name</c> / <c>arch</c>, or the
/// format itself (unilm WavLM, HuBERT-Soft). A config dictionary (DPHuBERT, torchaudio) declares none; it is
/// <see cref="WavLM"/> when it has <c>encoder_remaining_heads</c> (DPHuBERT's <c>wav2vec2_model</c> dispatches on it) or,
/// in torchaudio's <c>wavlm_model</c> form, <c>encoder_num_buckets</c> without <c>encoder_head_dim</c>; otherwise
/// <see cref="Wav2Vec2"/>.
/// </summary>
public enum ModelKind
{
    /// <summary>wav2vec 2.0 (and any model of its architecture whose family is not declared, such as a DPHuBERT student).</summary>
    Wav2Vec2,

    /// <summary>HuBERT (and ContentVec, HuBERT-Soft): the wav2vec 2.0 architecture with another training objective.</summary>
    Hubert,

    /// <summary>WavLM: self-attention with gated relative position bias (<see cref="AttentionKind.WavLM"/>).</summary>
    WavLM,
}
