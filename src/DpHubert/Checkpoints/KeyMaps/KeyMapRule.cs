using System.Text.RegularExpressions;

namespace DpHubert.Checkpoints.KeyMaps;

/// <summary>
/// One rule of a <see cref="KeyMap"/>: a regular expression matched against the whole key, what to do with a match,
/// and a documented example (<see cref="Example"/> → <see cref="ExampleResult"/>) that the unit tests check.
/// </summary>
/// <param name="Pattern">A .NET regular expression, anchored at both ends by the map.</param>
/// <param name="Replacement">The replacement (<c>$1</c> ... for groups); ignored for <see cref="KeyRuleAction.Drop"/>.</param>
/// <param name="Action">What a match does.</param>
/// <param name="Example">A key this rule matches.</param>
/// <param name="ExampleResult">What the rule alone makes of <see cref="Example"/> (null for a drop).</param>
public sealed record KeyMapRule(string Pattern, string Replacement, KeyRuleAction Action, string Example, string? ExampleResult)
{
    private Regex? _regex;

    /// <summary>The compiled, fully anchored pattern.</summary>
    public Regex Regex => _regex ??= new Regex("^(?:" + Pattern + ")$", RegexOptions.CultureInvariant);

    /// <summary>A final rename: <paramref name="example"/> becomes <paramref name="result"/>.</summary>
    public static KeyMapRule Map(string pattern, string replacement, string example, string result) =>
        new(pattern, replacement, KeyRuleAction.Map, example, result);

    /// <summary>A rewrite that lets the following rules see the result (prefix stripping).</summary>
    public static KeyMapRule Rewrite(string pattern, string replacement, string example, string result) =>
        new(pattern, replacement, KeyRuleAction.Rewrite, example, result);

    /// <summary>A key with no counterpart, dropped and reported.</summary>
    public static KeyMapRule Drop(string pattern, string example) => new(pattern, "", KeyRuleAction.Drop, example, null);

    /// <summary>
    /// The two renames of PyTorch's parametrized weight norm, which stores as <c>parametrizations.weight.original0</c>
    /// / <c>original1</c> what the older spelling calls <c>weight_g</c> / <c>weight_v</c> (the model's names).
    /// </summary>
    /// <param name="conv">The convolution's key prefix in the file (a regular expression; may capture groups).</param>
    /// <param name="target">Its prefix in the model (may use the groups).</param>
    /// <param name="exampleConv">A prefix <paramref name="conv"/> matches.</param>
    /// <param name="exampleTarget">What <paramref name="exampleConv"/> becomes.</param>
    internal static KeyMapRule[] ParametrizedWeightNorm(string conv, string target, string exampleConv, string exampleTarget) => new[]
    {
        Map(conv + @"\.parametrizations\.weight\.original0", target + ".weight_g",
            exampleConv + ".parametrizations.weight.original0", exampleTarget + ".weight_g"),
        Map(conv + @"\.parametrizations\.weight\.original1", target + ".weight_v",
            exampleConv + ".parametrizations.weight.original1", exampleTarget + ".weight_v"),
    };

    /// <summary>Applies this rule alone: the new key, null for a drop, or the key itself when nothing matches.</summary>
    /// <param name="key">A key.</param>
    /// <param name="matched">Whether the pattern matched.</param>
    public string? Apply(string key, out bool matched)
    {
        var m = Regex.Match(key);
        matched = m.Success;
        if (!matched) return key;
        return Action == KeyRuleAction.Drop ? null : m.Result(Replacement);
    }

    /// <inheritdoc/>
    public override string ToString() => Action switch
    {
        KeyRuleAction.Drop => $"drop   /{Pattern}/   e.g. {Example}",
        _ => $"{(Action == KeyRuleAction.Map ? "map" : "rewrite"),-6} /{Pattern}/ -> {Replacement}   e.g. {Example} -> {ExampleResult}",
    };
}
