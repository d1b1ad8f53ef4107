using System;

namespace DpHubert.Extraction;

/// <summary>How <see cref="SpeechEncoder"/> batches and chunks work (the CLI's <c>--batch-size</c>,
/// <c>--chunk-seconds</c> and <c>--chunk-overlap</c>).</summary>
public sealed record ExtractionOptions
{
    /// <summary>Items per forward pass (default 1). Items are sorted by length and batched; the results equal
    /// one-by-one extraction within 1e-4 (equal-length items are stacked; otherwise padding is masked, and
    /// padding-sensitive group-norm feature extractors run per item).</summary>
    public int BatchSize { get; init; } = 1;

    /// <summary>Split recordings longer than this many seconds into overlapping chunks (null: whole-file inference).</summary>
    public double? ChunkSeconds { get; init; }

    /// <summary>Context in seconds added on each side of a chunk and dropped after inference (default 1 s).</summary>
    public double ChunkOverlapSeconds { get; init; } = 1.0;

    /// <summary>How many files <see cref="SpeechEncoder.ExtractFiles"/> loads ahead to sort by length
    /// (default: 16 batches' worth).</summary>
    public int? ReadAhead { get; init; }

    /// <summary>Checks the values.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A value out of range.</exception>
    public void Validate()
    {
        if (BatchSize < 1)
            throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "ExtractionOptions.BatchSize must be >= 1.");
        if (ChunkSeconds is { } c && !(c > 0 && double.IsFinite(c)))
            throw new ArgumentOutOfRangeException(nameof(ChunkSeconds), c, "ExtractionOptions.ChunkSeconds must be a positive number of seconds.");
        if (!(ChunkOverlapSeconds >= 0 && double.IsFinite(ChunkOverlapSeconds)))
            throw new ArgumentOutOfRangeException(nameof(ChunkOverlapSeconds), ChunkOverlapSeconds, "ExtractionOptions.ChunkOverlapSeconds must be >= 0 seconds.");
        if (ReadAhead is { } r && r < 1)
            throw new ArgumentOutOfRangeException(nameof(ReadAhead), r, "ExtractionOptions.ReadAhead must be >= 1.");
    }
}

/// <summary>The outcome for one file of <see cref="SpeechEncoder.ExtractFiles"/>: features or the error.</summary>
/// <param name="Path">The input path.</param>
/// <param name="Features">The features, or null when <paramref name="Error"/> is set.</param>
/// <param name="Error">Why this file failed, or null: <see cref="DpHubert.Audio.AudioFormatException"/> (unreadable WAV,
/// unusable sample rate, NaN samples), <see cref="ArgumentException"/> (too short), <see cref="InsufficientMemoryException"/>
/// (too long to fit: use <see cref="ExtractionOptions.ChunkSeconds"/>), or whatever libtorch or the runtime threw
/// (e.g. <see cref="System.Runtime.InteropServices.ExternalException"/>, <see cref="OutOfMemoryException"/>).</param>
/// <param name="Samples16k">Samples after resampling to 16 kHz (0 when unreadable).</param>
public sealed record FileFeatures(string Path, FeatureArray? Features, Exception? Error, long Samples16k)
{
    /// <summary>Whether extraction succeeded.</summary>
    public bool Succeeded => Error is null;
}
