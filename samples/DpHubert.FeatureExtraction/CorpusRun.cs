using System;
using System.Collections.Generic;
using System.CommandLine;
using System.IO;
using System.Linq;
using DpHubert.Audio;
using DpHubert.Corpus;
using DpHubert.Extraction;
using DpHubert.IO;

namespace DpHubert.FeatureExtraction;

/// <summary>The corpus options of <c>dphubert extract</c>: <c>--shard</c>, <c>--skip-existing</c>, <c>--manifest</c>
/// and <c>--format</c>, parsed before the model loads so that a bad value fails fast.</summary>
internal sealed class CorpusOptions
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

    /// <summary>Reads and checks the corpus options (usage errors name the option).</summary>
    public CorpusSettings Parse(ParseResult parse, bool inputIsFolder, LayerSelection selection)
    {
        FeatureFileFormat format;
        try
        {
            format = FeatureFiles.ParseFormat(parse.GetValue(Format)!);
        }
        catch (FormatException e)
        {
            throw new ArgumentException($"--format: {e.Message}", e);
        }
        if (!format.CanHold(selection.All ? 3 : 2))
            throw new ArgumentException("--format soft-pt holds one layer ([1, dim, frames]); use --layer N or final with it, or --format npy for --layer all.");

        ShardSpec? shard = null;
        if (parse.GetValue(Shard) is { } text)
        {
            try
            {
                shard = ShardSpec.Parse(text);
            }
            catch (FormatException e)
            {
                throw new ArgumentException($"--shard: {e.Message}", e);
            }
            if (!inputIsFolder)
                throw new ArgumentException("--shard splits the files of a folder; --input must be a folder.");
        }
        return new CorpusSettings(format, shard, parse.GetValue(SkipExisting), parse.GetValue(Manifest));
    }
}

/// <summary>The corpus options of one run.</summary>
/// <param name="Format">What each output file is.</param>
/// <param name="Shard">Only this shard's inputs, or every input when null.</param>
/// <param name="SkipExisting">Skip inputs whose output is already complete.</param>
/// <param name="ManifestPath">Where to keep the manifest, or null for none.</param>
internal sealed record CorpusSettings(FeatureFileFormat Format, ShardSpec? Shard, bool SkipExisting, string? ManifestPath);

/// <summary>
/// One extract run over its inputs: picks the shard's inputs, removes temporaries a killed run left for them, skips
/// complete outputs, and keeps the manifest holding exactly one correct line per existing output of these inputs.
/// </summary>
internal sealed class CorpusRun : IDisposable
{
    private sealed record Job(string In, string Out, string InputKey, string OutputKey);

    private readonly CorpusSettings settings;
    private readonly Dictionary<string, Job> byInput;
    private readonly List<Job> all;
    private readonly CorpusManifest? manifest;
    private readonly Dictionary<string, ManifestEntry> lines = new(StringComparer.Ordinal); // by output key
    private bool superseded;

    private CorpusRun(CorpusSettings settings, List<Job> all, List<Job> toRun, int skipped, CorpusManifest? manifest)
    {
        this.settings = settings;
        this.all = all;
        this.manifest = manifest;
        byInput = all.ToDictionary(j => j.In, StringComparer.Ordinal);
        Jobs = toRun.Select(j => (j.In, j.Out)).ToList();
        Skipped = skipped;
    }

    /// <summary>The inputs to extract in this run, with their outputs.</summary>
    public List<(string In, string Out)> Jobs { get; }

    /// <summary>Inputs of this run whose complete output was kept (<c>--skip-existing</c>).</summary>
    public int Skipped { get; private set; }

    /// <summary>Whether the summary line reports skipped inputs (only when <c>--skip-existing</c> is given, so
    /// that the summary of runs without it keeps its shape).</summary>
    public bool ReportsSkipped => settings.SkipExisting;

    /// <summary>Plans the run over <paramref name="jobs"/> (every input under <paramref name="inputRoot"/> with its
    /// output under <paramref name="outputRoot"/>) and prepares the manifest.</summary>
    public static CorpusRun Begin(CorpusSettings settings, string inputRoot, string outputRoot,
        IReadOnlyList<(string In, string Out)> jobs, Action<string> note)
    {
        var all = jobs.Select(j => new Job(j.In, j.Out, ShardSpec.RelativeKey(inputRoot, j.In), ShardSpec.RelativeKey(outputRoot, j.Out))).ToList();
        if (settings.Shard is { } shard)
        {
            int total = all.Count;
            all = all.Where(j => shard.Contains(j.InputKey)).ToList();
            note($"shard {shard}: {all.Count} of {total} input(s)");
        }

        // A run killed while writing leaves a hidden temporary next to the output; it is never renamed, so remove it.
        int removed = 0;
        foreach (var leftover in PartialFiles.Find(all.Select(j => j.Out)))
        {
            try
            {
                File.Delete(leftover);
                removed++;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                note($"cannot remove the partial file '{leftover}': {e.Message}");
            }
        }
        if (removed > 0) note($"removed {removed} partial file(s) left by an interrupted run");

        var toRun = new List<Job>();
        var complete = new List<(Job Job, FeatureFileInfo Info)>();
        foreach (var job in all)
        {
            if (settings.SkipExisting && settings.Format.Inspect(job.Out) is { } info) complete.Add((job, info));
            else toRun.Add(job);
        }

        CorpusManifest? manifest = null;
        if (settings.ManifestPath is { } path)
        {
            try
            {
                manifest = CorpusManifest.Open(path);
            }
            catch (IOException e)
            {
                throw new ArgumentException($"--manifest: {e.Message}", e);
            }
        }
        var run = new CorpusRun(settings, all, toRun, complete.Count, manifest);
        try
        {
            if (manifest is not null) run.LoadManifest(complete, note);
        }
        catch
        {
            run.Dispose();
            throw;
        }
        return run;
    }

    /// <summary>Keeps the lines that still describe their output, adds lines for complete outputs that have none,
    /// and rewrites the file with one line per output.</summary>
    private void LoadManifest(List<(Job Job, FeatureFileInfo Info)> complete, Action<string> note)
    {
        var byOutput = all.ToDictionary(j => j.OutputKey, StringComparer.Ordinal);
        int stale = 0;
        var verified = new Dictionary<string, ManifestEntry>(StringComparer.Ordinal);
        foreach (var e in manifest!.Entries)
        {
            // The last line that matches the file on disk wins: earlier duplicates come from runs that were killed.
            if (byOutput.TryGetValue(e.Output, out var job) && job.InputKey == e.Input && e.Matches(job.Out))
            {
                if (verified.ContainsKey(e.Output)) stale++;
                verified[e.Output] = e;
            }
            else stale++;
        }

        var added = new List<ManifestEntry>();
        foreach (var (job, info) in complete)
        {
            if (verified.ContainsKey(job.OutputKey)) continue;
            double seconds;
            try
            {
                seconds = AudioPreprocessor.LoadMono16k(job.In).Length / (double)AudioPreprocessor.TargetSampleRate;
            }
            catch (Exception e) when (e is AudioFormatException or IOException or UnauthorizedAccessException or InvalidDataException or ArgumentException)
            {
                // The output exists but its input no longer reads: extract it again so that the error is reported.
                Jobs.Add((job.In, job.Out));
                Skipped--;
                continue;
            }
            var entry = CorpusManifest.Describe(job.InputKey, job.OutputKey, job.Out, info.Frames, info.Dim, info.Shape, seconds);
            verified[job.OutputKey] = entry;
            added.Add(entry);
        }

        foreach (var job in all)
            if (verified.TryGetValue(job.OutputKey, out var e)) lines[job.OutputKey] = e;
        if (stale + manifest.UnreadableLines + added.Count == 0) return; // every line is kept as it is, in its order
        // The surviving lines in the order the file has them, then the added ones: a resume reorders nothing.
        var kept = manifest.Entries.Where(e => verified.TryGetValue(e.Output, out var winner) && ReferenceEquals(winner, e));
        manifest.Rewrite(kept.Concat(added).ToList());
        note($"manifest '{manifest.Path}': kept {lines.Count - added.Count} line(s), dropped {stale + manifest.UnreadableLines} (torn, duplicated, stale or outside this run), added {added.Count} for existing outputs");
    }

    /// <summary>Writes the features of one input (temporary file + rename) and then its manifest line.</summary>
    public void Write(FileFeatures result, string target)
    {
        var features = result.Features!;
        settings.Format.Write(target, features);
        if (manifest is null || !byInput.TryGetValue(result.Path, out var job)) return;
        var entry = CorpusManifest.Describe(job.InputKey, job.OutputKey, target, features.Frames, features.Dim, settings.Format.StoredShape(features),
            result.Samples16k / (double)AudioPreprocessor.TargetSampleRate);
        superseded |= lines.ContainsKey(job.OutputKey);
        lines[job.OutputKey] = entry;
        manifest.Append(entry);
    }

    /// <summary>At the end of a run: when an output was rewritten while it already had a line, rewrite the manifest
    /// with only the newest line per output.</summary>
    public void Finish()
    {
        if (manifest is not null && superseded)
            manifest.Rewrite(all.Where(j => lines.ContainsKey(j.OutputKey)).Select(j => lines[j.OutputKey]));
    }

    public void Dispose() => manifest?.Dispose();
}
