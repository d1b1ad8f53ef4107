namespace DpHubert.Checkpoints.KeyMaps;

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
