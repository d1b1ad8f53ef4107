namespace DpHubert.Config;

/// <summary>Normalization used inside the convolutional feature extractor.</summary>
public enum ExtractorMode
{
    /// <summary><c>"group_norm"</c>: a per-channel GroupNorm after the first convolution only (Base models).</summary>
    GroupNorm,

    /// <summary><c>"layer_norm"</c>: a LayerNorm over channels after every convolution (Large models).</summary>
    LayerNorm,
}
