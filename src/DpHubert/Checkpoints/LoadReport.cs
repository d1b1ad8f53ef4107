using System;
using System.Collections.Generic;
using System.Linq;
using DpHubert.PyTorch;

namespace DpHubert.Checkpoints;

/// <summary>What a load did with the keys of a checkpoint: printed by the CLI's <c>--verbose</c>.</summary>
public sealed class LoadReport
{
    /// <summary>Creates an empty report.</summary>
    /// <param name="source">The file or folder.</param>
    /// <param name="format">Its format.</param>
    public LoadReport(string source, CheckpointFormat format)
    {
        Source = source;
        Format = format;
    }

    /// <summary>The file or folder.</summary>
    public string Source { get; }

    /// <summary>Its format.</summary>
    public CheckpointFormat Format { get; }

    /// <summary>Keys renamed by the format's key map: (original, ours).</summary>
    public List<(string From, string To)> Mapped { get; } = new();

    /// <summary>Keys of the file with no counterpart in the model, dropped on purpose (training-only heads ...).</summary>
    public List<string> Dropped { get; } = new();

    /// <summary>Model keys the file lacks that were given their default (<c>dummy_weight</c> = ones).</summary>
    public List<string> Defaulted { get; } = new();

    /// <summary>
    /// Objects of the file that are not part of the model and were read as <see cref="InertRecord"/>s (never
    /// executed, never used), by class and where they were, e.g. fairseq's label dictionaries in <c>task_state</c>.
    /// </summary>
    public List<string> Ignored { get; } = new();

    /// <summary>Anything else worth telling (config values derived, etc.).</summary>
    public List<string> Notes { get; } = new();

    /// <summary>A multi-line human-readable summary.</summary>
    public override string ToString()
    {
        var lines = new List<string> { $"Loaded {Source} as {Format}." };
        int renamed = Mapped.Count(m => m.From != m.To);
        lines.Add($"  keys: {Mapped.Count} loaded ({renamed} renamed), {Dropped.Count} dropped, {Defaulted.Count} defaulted");
        foreach (var (from, to) in Mapped.Where(m => m.From != m.To)) lines.Add($"  mapped   {from} -> {to}");
        foreach (var d in Dropped) lines.Add($"  dropped  {d}");
        foreach (var d in Defaulted) lines.Add($"  default  {d}");
        foreach (var i in Ignored) lines.Add($"  ignored  {i}");
        foreach (var n in Notes) lines.Add($"  note     {n}");
        return string.Join(Environment.NewLine, lines);
    }
}
