using System;

namespace DpHubert.Config;

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
