using System.Collections.Generic;

namespace DpHubert.Corpus;

/// <summary>The counts of a <see cref="CorpusExtractor"/> run, so far or at its end.</summary>
/// <param name="Inputs">Inputs to extract (skipped ones not included).</param>
/// <param name="Written">Feature files written.</param>
/// <param name="Skipped">Inputs whose complete output was kept (<see cref="CorpusRunOptions.SkipExisting"/>).</param>
/// <param name="Failures">The inputs that failed, in the order they failed.</param>
/// <param name="AudioSeconds">Seconds of audio written.</param>
public sealed record CorpusSummary(int Inputs, int Written, int Skipped, IReadOnlyList<CorpusFileResult> Failures, double AudioSeconds)
{
    /// <summary>Inputs that failed.</summary>
    public int Failed => Failures.Count;

    /// <summary>Inputs neither written nor failed (a cancelled run's rest).</summary>
    public int NotProcessed => Inputs - Written - Failed;
}
