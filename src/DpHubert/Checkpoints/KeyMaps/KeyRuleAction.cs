namespace DpHubert.Checkpoints.KeyMaps;

/// <summary>What a <see cref="KeyMapRule"/> does with a key its pattern matches.</summary>
public enum KeyRuleAction
{
    /// <summary>Rewrite the key with the replacement; this is its final name.</summary>
    Map,

    /// <summary>Rewrite the key (e.g. strip a prefix) and go on with the following rules.</summary>
    Rewrite,

    /// <summary>The key has no counterpart in the model: drop it (and report it).</summary>
    Drop,
}
