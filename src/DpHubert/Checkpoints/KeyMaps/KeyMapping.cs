namespace DpHubert.Checkpoints.KeyMaps;

/// <summary>How a key fared under a <see cref="KeyMap"/>.</summary>
/// <param name="Key">The original key.</param>
/// <param name="Result">The model key, or null when dropped or unknown.</param>
/// <param name="Dropped">Whether a drop rule matched.</param>
public readonly record struct KeyMapping(string Key, string? Result, bool Dropped)
{
    /// <summary>No rule mapped or dropped the key.</summary>
    public bool Unknown => Result is null && !Dropped;
}
