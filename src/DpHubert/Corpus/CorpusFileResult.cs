using System;

namespace DpHubert.Corpus;

/// <summary>What a <see cref="CorpusExtractor"/> run did with one input: wrote its feature file, or failed with the
/// error (the run goes on).</summary>
/// <param name="Input">The audio file.</param>
/// <param name="Output">Its feature file (written when <paramref name="Error"/> is null).</param>
/// <param name="Shape">The features' shape, (frames, dim) or (layers + 1, frames, dim); null on failure.</param>
/// <param name="Seconds">The input's duration: its 16 kHz sample count / 16000 (0 when it could not be read).</param>
/// <param name="Error">Why this input failed, or null: what <see cref="Extraction.FileFeatures.Error"/> gives, an
/// <see cref="Audio.AudioFormatException"/> for an entry that is not a regular file (not opened), or the
/// <see cref="System.IO.IOException"/> of an output that could not be written.</param>
public sealed record CorpusFileResult(string Input, string Output, long[]? Shape, double Seconds, Exception? Error)
{
    /// <summary>Whether the feature file was written.</summary>
    public bool Succeeded => Error is null;
}
