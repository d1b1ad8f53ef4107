using System;
using System.IO;
using DpHubert.Extraction;
using DpHubert.IO;

namespace DpHubert.Corpus;

/// <summary>What a <see cref="CorpusExtractor"/> run reads, computes and writes (the console's <c>dphubert extract</c>
/// options).</summary>
public sealed record CorpusRunOptions
{
    /// <summary>An audio file, or a folder searched recursively for audio files (every extension
    /// <see cref="Audio.AudioReader"/> reads).</summary>
    public required string Input { get; init; }

    /// <summary>For a folder <see cref="Input"/>, the output folder (the input tree is mirrored, one feature file per
    /// audio file, named by <see cref="Format"/>); for a file, the feature file, or an existing folder to put it in.</summary>
    public required string Output { get; init; }

    /// <summary>Which output of the model to write (default: the final output).</summary>
    public LayerSelection Layers { get; init; }

    /// <summary>Batching and chunking.</summary>
    public ExtractionOptions Extraction { get; init; } = new();

    /// <summary>What each output file is (default <see cref="FeatureFileFormat.Npy"/>).</summary>
    public FeatureFileFormat Format { get; init; } = FeatureFileFormat.Npy;

    /// <summary>Only this shard's inputs (null: every input); a folder <see cref="Input"/> only.</summary>
    public ShardSpec? Shard { get; init; }

    /// <summary>Keep outputs that are already complete (header and size checked) and extract only the rest; partial
    /// or corrupt outputs are redone.</summary>
    public bool SkipExisting { get; init; }

    /// <summary>The JSON Lines manifest to keep for this run's inputs (<see cref="CorpusManifest"/>), or null for none.
    /// Give each shard its own.</summary>
    public string? ManifestPath { get; init; }

    /// <summary>Checks the options against each other and the file system (before a model is loaded).</summary>
    /// <exception cref="ArgumentException">A value out of range or a combination that cannot work; the message and
    /// <see cref="OptionText.Of"/> name the option.</exception>
    /// <exception cref="FileNotFoundException"><see cref="Input"/> does not exist.</exception>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Input, nameof(Input));
        ArgumentNullException.ThrowIfNull(Output, nameof(Output));
        (Extraction ?? throw new ArgumentNullException(nameof(Extraction))).Validate();
        bool isFolder = Directory.Exists(Input);
        if (!isFolder && !File.Exists(Input))
        {
            var missing = new OptionText($"{ApiOption.Input} '{Input}' does not exist.");
            throw missing.Attach(new FileNotFoundException(missing.ToString(), Input));
        }
        if (isFolder && File.Exists(Output))
            throw new OptionText($"{ApiOption.Input} '{Input}' is a folder, so {ApiOption.Output} must be a folder, but '{Output}' is a file.").Argument();
        if (!Format.CanHold(Layers.All ? 3 : 2))
            throw new OptionText($"{ApiOption.Format} soft-pt holds one layer ([1, dim, frames]); use {ApiOption.Layers} N or final with it, or {ApiOption.Format} npy for {ApiOption.Layers} all.").Argument();
        if (Shard is not null && !isFolder)
            throw new OptionText($"{ApiOption.Shard} splits the files of a folder; {ApiOption.Input} must be a folder.").Argument();
    }
}
