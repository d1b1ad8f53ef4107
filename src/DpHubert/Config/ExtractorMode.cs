using System;

namespace DpHubert.Config;

/// <summary>Normalization used inside the convolutional feature extractor.</summary>
public enum ExtractorMode
{
    /// <summary><c>"group_norm"</c>: a per-channel GroupNorm after the first convolution only (Base models).</summary>
    GroupNorm,

    /// <summary><c>"layer_norm"</c>: a LayerNorm over channels after every convolution (Large models).</summary>
    LayerNorm,
}

/// <summary>The names an <see cref="ExtractorMode"/> has in a config dictionary (<c>extractor_mode</c>).</summary>
public static class ExtractorModeNames
{
    /// <summary><c>"group_norm"</c>.</summary>
    public const string GroupNorm = "group_norm";

    /// <summary><c>"layer_norm"</c>.</summary>
    public const string LayerNorm = "layer_norm";

    /// <summary>The dictionary name of <paramref name="mode"/>.</summary>
    public static string ToConfigName(this ExtractorMode mode) => mode switch
    {
        ExtractorMode.GroupNorm => GroupNorm,
        ExtractorMode.LayerNorm => LayerNorm,
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, null),
    };

    /// <summary>The mode a dictionary name stands for, or null for any other value.</summary>
    public static ExtractorMode? FromConfigName(object? name) => name switch
    {
        GroupNorm => ExtractorMode.GroupNorm,
        LayerNorm => ExtractorMode.LayerNorm,
        _ => null,
    };
}
