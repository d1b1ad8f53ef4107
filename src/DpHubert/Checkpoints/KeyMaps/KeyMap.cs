using System;
using System.Collections.Generic;
using System.Linq;

namespace DpHubert.Checkpoints.KeyMaps;

/// <summary>
/// A checkpoint format's key mapping as data: an ordered list of <see cref="KeyMapRule"/>s. A key goes through the
/// rules in order; <see cref="KeyRuleAction.Rewrite"/> rules change it and continue, the first
/// <see cref="KeyRuleAction.Map"/> or <see cref="KeyRuleAction.Drop"/> rule that matches decides. A key no rule
/// decides is unknown, which the loaders treat as an error naming the key.
/// </summary>
public sealed class KeyMap
{
    /// <summary>Creates a map.</summary>
    /// <param name="name">Format name for messages.</param>
    /// <param name="rules">The rules, in order.</param>
    public KeyMap(string name, IEnumerable<KeyMapRule> rules)
    {
        Name = name;
        Rules = rules.ToArray();
    }

    /// <summary>Format name.</summary>
    public string Name { get; }

    /// <summary>The rules in the order they are tried.</summary>
    public IReadOnlyList<KeyMapRule> Rules { get; }

    /// <summary>Maps one key through the rules.</summary>
    /// <param name="key">An original key.</param>
    public KeyMapping Map(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var current = key;
        foreach (var rule in Rules)
        {
            var result = rule.Apply(current, out bool matched);
            if (!matched) continue;
            switch (rule.Action)
            {
                case KeyRuleAction.Drop: return new KeyMapping(key, null, true);
                case KeyRuleAction.Map: return new KeyMapping(key, result, false);
                default: current = result!; break;
            }
        }
        return new KeyMapping(key, null, false);
    }

    /// <summary>A multi-line listing of the rules (for documentation and <c>--verbose</c>).</summary>
    public override string ToString() => $"{Name} key map:" + Environment.NewLine
        + string.Join(Environment.NewLine, Rules.Select((r, i) => $"  {i + 1,2}. {r}"));
}
