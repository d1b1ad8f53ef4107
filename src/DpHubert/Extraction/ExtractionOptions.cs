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
    /// <exception cref="ArgumentOutOfRangeException">A value out of range; <see cref="OptionText.Of"/> names the option.</exception>
    public void Validate()
    {
        if (BatchSize < 1)
            throw new OptionText($"{ApiOption.BatchSize} must be >= 1.").OutOfRange(BatchSize);
        if (ChunkSeconds is { } c && !(c > 0 && double.IsFinite(c)))
            throw new OptionText($"{ApiOption.ChunkSeconds} must be a positive number of seconds.").OutOfRange(c);
        if (!(ChunkOverlapSeconds >= 0 && double.IsFinite(ChunkOverlapSeconds)))
            throw new OptionText($"{ApiOption.ChunkOverlapSeconds} must be >= 0 seconds.").OutOfRange(ChunkOverlapSeconds);
        if (ReadAhead is { } r && r < 1)
            throw new OptionText($"{ApiOption.ReadAhead} must be >= 1.").OutOfRange(r);
    }
}
