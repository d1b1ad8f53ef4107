using System;
using System.Collections.Generic;
using System.Linq;
using DpHubert.PyTorch;

namespace DpHubert.Checkpoints;

/// <summary>
/// A state_dict does not fit the model: the message lists every missing, unexpected and shape-mismatched key, the
/// latter with the expected and the found shape. Nothing was copied into the model.
/// </summary>
public sealed class StateDictMismatchException : CheckpointFormatException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="source">The checkpoint (file or folder) the state_dict came from.</param>
    /// <param name="missing">Model keys the state_dict lacks.</param>
    /// <param name="unexpected">State_dict keys the model does not have.</param>
    /// <param name="mismatched">Keys present in both with different shapes: (key, expected, found).</param>
    public StateDictMismatchException(string source, IReadOnlyList<string> missing, IReadOnlyList<string> unexpected,
        IReadOnlyList<(string Key, long[] Expected, long[] Found)> mismatched)
        : base(Describe(missing, unexpected, mismatched), source, missing.Concat(unexpected).Concat(mismatched.Select(m => m.Key)).FirstOrDefault())
    {
        Missing = missing;
        Unexpected = unexpected;
        Mismatched = mismatched;
    }

    /// <summary>Model keys the state_dict lacks.</summary>
    public IReadOnlyList<string> Missing { get; }

    /// <summary>State_dict keys the model does not have.</summary>
    public IReadOnlyList<string> Unexpected { get; }

    /// <summary>Keys with a different shape: (key, expected, found).</summary>
    public IReadOnlyList<(string Key, long[] Expected, long[] Found)> Mismatched { get; }

    private static string Describe(IReadOnlyList<string> missing, IReadOnlyList<string> unexpected,
        IReadOnlyList<(string Key, long[] Expected, long[] Found)> mismatched)
    {
        var lines = new List<string> { "The state_dict does not match the model built from the config:" };
        if (missing.Count > 0) lines.Add($"  missing keys ({missing.Count}): " + string.Join(", ", missing));
        if (unexpected.Count > 0) lines.Add($"  unexpected keys ({unexpected.Count}): " + string.Join(", ", unexpected));
        foreach (var (key, expected, found) in mismatched)
            lines.Add($"  shape mismatch for {key}: expected {Shapes.Format(expected)}, found {Shapes.Format(found)}");
        return string.Join(Environment.NewLine, lines);
    }
}
