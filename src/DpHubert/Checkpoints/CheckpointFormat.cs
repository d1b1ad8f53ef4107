namespace DpHubert.Checkpoints;

/// <summary>The checkpoint layouts the loader recognizes.</summary>
public enum CheckpointFormat
{
    /// <summary>DPHuBERT / so-vits-svc <c>.pth</c>: <c>{"config", "state_dict"[, "distill_linear_projs"]}</c>.</summary>
    DpHubert,

    /// <summary>safetensors weights with a DPHuBERT config JSON beside them (what <c>convert</c> writes).</summary>
    DpHubertSafeTensors,

    /// <summary>A bare torchaudio <c>Wav2Vec2Model</c> state_dict (needs a preset or config).</summary>
    Torchaudio,

    /// <summary>A fairseq wav2vec 2.0 / HuBERT / ContentVec checkpoint (<c>{"cfg" | "args", "model"}</c>).</summary>
    Fairseq,

    /// <summary>A Hugging Face model folder (<c>config.json</c> + weights).</summary>
    HuggingFace,

    /// <summary>A microsoft/unilm WavLM checkpoint (<c>WavLM-Base+.pt</c>: <c>{"cfg", "model"}</c>).</summary>
    UnilmWavLm,

    /// <summary>bshall/hubert's HuBERT-Soft (a bare state_dict with <c>module.</c> prefixes).</summary>
    HubertSoft,

    /// <summary>A PyTorch Lightning <c>.ckpt</c> from DPHuBERT's distill.py / final_distill.py (config given separately).</summary>
    DpHubertLightning,
}
