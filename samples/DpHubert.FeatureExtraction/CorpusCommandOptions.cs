using System;
using System.Collections.Generic;
using System.CommandLine;
using DpHubert.Corpus;
using DpHubert.Extraction;
using DpHubert.IO;

namespace DpHubert.FeatureExtraction;

/// <summary>The corpus options of <c>dphubert extract</c>: <c>--shard</c>, <c>--skip-existing</c>, <c>--manifest</c>
/// and <c>--format</c>, read into a <see cref="CorpusRunOptions"/> before the model loads so that a bad value fails fast.</summary>
internal sealed class CorpusCommandOptions
{
    public Option<string> Shard { get; } = new("--shard")
    {
        Description = "Process only shard K of N (K/N, 0 <= K < N). Inputs are assigned by a stable hash of their path relative to --input, so N runs with K = 0..N-1 cover every input once.",
    };

    public Option<bool> SkipExisting { get; } = new("--skip-existing")
    {
        Description = "Skip inputs whose output already exists as a complete file (header and size checked); partial or corrupt outputs are redone.",
    };

    public Option<string> Manifest { get; } = new("--manifest")
    {
        Description = "JSON Lines file with one line per output of this run's inputs (input, output, frames, dim, seconds, shape, bytes, sha256). Give each shard its own.",
    };

    public Option<string> Format { get; } = new("--format")
    {
        Description = "Output files: npy (float32 (frames, dim), <name>.npy) or soft-pt (so-vits-svc's <name>.wav.soft.pt, a torch tensor [1, dim, frames]).",
        DefaultValueFactory = _ => "npy",
    };

    public IEnumerable<Option> All => new Option[] { Shard, SkipExisting, Manifest, Format };

    /// <summary>The run's options with the corpus flags read (a value that does not parse names its flag), checked
    /// with <see cref="CorpusRunOptions.Validate"/>.</summary>
    public CorpusRunOptions Parse(ParseResult parse, string input, string output, LayerSelection layers, ExtractionOptions extraction)
    {
        extraction.Validate();
        var options = new CorpusRunOptions
        {
            Input = input,
            Output = output,
            Layers = layers,
            Extraction = extraction,
            Format = Parsed(Format, FeatureFiles.ParseFormat),
            Shard = parse.GetValue(Shard) is { } text ? Parsed(Shard, _ => ShardSpec.Parse(text)) : null,
            SkipExisting = parse.GetValue(SkipExisting),
            ManifestPath = parse.GetValue(Manifest),
        };
        options.Validate();
        return options;

        T Parsed<T>(Option<string> option, Func<string, T> read)
        {
            try
            {
                return read(parse.GetValue(option)!);
            }
            catch (FormatException e)
            {
                throw new ArgumentException($"{option.Name}: {e.Message}", e);
            }
        }
    }
}
