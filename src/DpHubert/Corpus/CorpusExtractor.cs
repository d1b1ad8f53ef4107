using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using DpHubert.Audio;
using DpHubert.Extraction;
using DpHubert.IO;

namespace DpHubert.Corpus;

/// <summary>
/// Extracts the features of a corpus (an audio file or a folder of them) into feature files, as
/// <c>dphubert extract</c> does: takes the shard's inputs, removes temporaries a killed run left for them, keeps
/// complete outputs (<see cref="CorpusRunOptions.SkipExisting"/>), writes each output atomically, and keeps the
/// manifest holding exactly one correct line per existing output of these inputs. One input that fails (unreadable,
/// too short, too long for memory, an output that cannot be written) is reported and the run goes on.
/// </summary>
/// <remarks>
/// <see cref="Open"/> plans the run and locks the manifest; <see cref="Run"/> extracts; <see cref="Dispose"/> releases
/// the manifest. The encoder is not owned. Cancellation stops between files and forward passes: every output written
/// is complete, the manifest describes exactly those, and a later run with <see cref="CorpusRunOptions.SkipExisting"/>
/// continues where it stopped.
/// </remarks>
/// <example>
/// <code>
/// using var encoder = SpeechEncoder.Load("hubert_soft.pt", new SpeechEncoderOptions { Units = SpeechUnits.HubertSoft });
/// using var run = CorpusExtractor.Open(encoder, new CorpusRunOptions
/// {
///     Input = "dataset/44k", Output = "dataset/44k", Layers = encoder.Units!.Layers, Format = FeatureFileFormat.SoftPt,
///     SkipExisting = true, ManifestPath = "units.jsonl",
/// });
/// CorpusSummary summary = run.Run(new Progress&lt;CorpusProgress&gt;(p =&gt; Console.WriteLine($"{p.Done}/{p.Total}")), token);
/// </code>
/// </example>
public sealed class CorpusExtractor : IDisposable
{
    private sealed record Job(string In, string Out, string InputKey, string OutputKey);

    private readonly SpeechEncoder encoder;
    private readonly List<Job> all;
    private readonly List<Job> pending;
    private readonly List<CorpusFileResult> refused;
    private readonly CorpusManifest? manifest;
    private readonly Dictionary<string, ManifestEntry> lines = new(StringComparer.Ordinal); // by output key
    private readonly List<CorpusFileResult> failures = new();
    private int written;
    private long samples;
    private bool superseded, started;

    private CorpusExtractor(SpeechEncoder encoder, CorpusRunOptions options, List<Job> all, List<Job> pending, int skipped,
        List<CorpusFileResult> refused, CorpusManifest? manifest)
    {
        this.encoder = encoder;
        Options = options;
        this.all = all;
        this.pending = pending;
        this.refused = refused;
        this.manifest = manifest;
        Skipped = skipped;
    }

    /// <summary>The options of this run.</summary>
    public CorpusRunOptions Options { get; }

    /// <summary>The inputs <see cref="Run"/> extracts, with their outputs (after the shard and skipping).</summary>
    public IReadOnlyList<(string Input, string Output)> Pending => pending.Select(j => (j.In, j.Out)).ToList();

    /// <summary>Inputs refused without being opened: entries that are not regular files (a FIFO, socket or device,
    /// which would block or never end). <see cref="Run"/> reports them first, as failures.</summary>
    public IReadOnlyList<CorpusFileResult> Refused => refused;

    /// <summary>Inputs whose complete output was kept (<see cref="CorpusRunOptions.SkipExisting"/>).</summary>
    public int Skipped { get; private set; }

    /// <summary>Inputs <see cref="Run"/> reports: <see cref="Pending"/> and <see cref="Refused"/>.</summary>
    public int Inputs => pending.Count + refused.Count;

    /// <summary>The counts so far (after <see cref="Run"/>, or after it was cancelled, the run's).</summary>
    public CorpusSummary Summary => new(Inputs, written, Skipped, failures.ToList(), samples / (double)AudioPreprocessor.TargetSampleRate);

    /// <summary>
    /// Plans the run: checks the options (<see cref="CorpusRunOptions.Validate"/>) and the layer selection against the
    /// model, finds the inputs and names their outputs, takes the shard's, removes temporaries a killed run left for
    /// them, keeps complete outputs when skipping, and opens the manifest (locked until <see cref="Dispose"/>), dropping
    /// lines that no longer match their output and adding lines for kept outputs that have none.
    /// </summary>
    /// <param name="encoder">The model (not owned; it must outlive the run).</param>
    /// <param name="options">What to read and write.</param>
    /// <param name="notes">Told what the plan found, one line each: links to folders not followed, the shard's share,
    /// removed temporaries, the manifest repaired (synchronously, on this thread).</param>
    /// <exception cref="ArgumentException">Bad options, no audio files, two inputs with one output, or a manifest
    /// that cannot be opened (another run holds it); <see cref="OptionText.Of"/> names the option where one is at fault.</exception>
    /// <exception cref="FileNotFoundException">The input does not exist.</exception>
    public static CorpusExtractor Open(SpeechEncoder encoder, CorpusRunOptions options, IProgress<string>? notes = null)
    {
        ArgumentNullException.ThrowIfNull(encoder);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        encoder.Validate(options.Layers);
        Action<string> note = notes is null ? _ => { } : notes.Report;

        var (jobs, notRegular, inputRoot, outputRoot) = FindInputs(options, note);
        var all = jobs.Select(j => new Job(j.In, j.Out, ShardSpec.RelativeKey(inputRoot, j.In), ShardSpec.RelativeKey(outputRoot, j.Out))).ToList();
        if (options.Shard is { } shard)
        {
            int total = all.Count;
            all = all.Where(j => shard.Contains(j.InputKey)).ToList();
            note($"shard {shard}: {all.Count} of {total} input(s)");
            notRegular = notRegular.Where(p => shard.Contains(ShardSpec.RelativeKey(inputRoot, p))).ToList(); // each shard reports only its own
        }
        var refused = notRegular.Select(p => new CorpusFileResult(p, "", null, 0, AudioFiles.NotRegularFile(p))).ToList();

        RemovePartialFiles(all, note);

        var pending = new List<Job>();
        var complete = new List<(Job Job, FeatureFileInfo Info)>();
        foreach (var job in all)
        {
            if (options.SkipExisting && options.Format.Inspect(job.Out) is { } info) complete.Add((job, info));
            else pending.Add(job);
        }

        CorpusManifest? manifest = null;
        if (options.ManifestPath is { } path)
        {
            try
            {
                manifest = CorpusManifest.Open(path);
            }
            catch (IOException e)
            {
                throw new OptionText($"{ApiOption.ManifestPath}: {e.Message}").Argument(e);
            }
        }
        var run = new CorpusExtractor(encoder, options, all, pending, complete.Count, refused, manifest);
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

    /// <summary>Every input with its output; entries of a folder that are not regular files apart.</summary>
    private static (List<(string In, string Out)> Jobs, List<string> NotRegular, string InputRoot, string OutputRoot) FindInputs(
        CorpusRunOptions options, Action<string> note)
    {
        var format = options.Format;
        if (!Directory.Exists(options.Input))
        {
            string target = Directory.Exists(options.Output)
                ? Path.Combine(options.Output, format.OutputName(Path.GetFileName(options.Input)))
                : options.Output;
            return (new List<(string, string)> { (options.Input, target) }, new List<string>(),
                Path.GetDirectoryName(Path.GetFullPath(options.Input))!, Path.GetDirectoryName(Path.GetFullPath(target))!);
        }

        string root = Path.GetFullPath(options.Input);
        var jobs = AudioFiles.Find(root, (link, real) => note($"not following '{link}': it is '{real}', a folder this run already reads."))
            .Select(f => (In: f, Out: format.OutputName(Path.Combine(options.Output, Path.GetRelativePath(root, f)))))
            .ToList();
        if (jobs.Count == 0)
            throw new ArgumentException($"no audio files ({string.Join(" ", AudioReader.Extensions)}) found under '{options.Input}'.");
        // A FIFO named .wav would block the run forever when opened; such entries fail without being opened.
        var regular = jobs.ToLookup(j => AudioFiles.IsRegularOrUnknown(j.In));
        jobs = regular[true].ToList();
        // a.wav and a.WAVE would both become a.npy: refuse rather than let one overwrite the other.
        var clash = jobs.GroupBy(j => j.Out, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (clash is not null)
            throw new ArgumentException($"{string.Join(" and ", clash.Select(j => $"'{j.In}'"))} would both be written to '{clash.Key}'; rename one of them.");
        return (jobs, regular[false].Select(j => j.In).ToList(), options.Input, options.Output);
    }

    /// <summary>A run killed while writing leaves a hidden temporary next to the output; it is never renamed, so it is
    /// removed.</summary>
    private static void RemovePartialFiles(List<Job> jobs, Action<string> note)
    {
        int removed = 0;
        foreach (var leftover in PartialFiles.Find(jobs.Select(j => j.Out)))
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
                seconds = SecondsOf(AudioPreprocessor.LoadMono16k(job.In).Length);
            }
            catch (Exception e) when (e is AudioFormatException or IOException or UnauthorizedAccessException or InvalidDataException or ArgumentException)
            {
                // The output exists but its input no longer reads: extract it again so that the error is reported.
                pending.Add(job);
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

    /// <summary>A duration in seconds from a 16 kHz sample count: the one rule for lines of extracted and kept outputs.</summary>
    private static double SecondsOf(long samples16k) => samples16k / (double)AudioPreprocessor.TargetSampleRate;

    /// <summary>
    /// Extracts every pending input and writes its feature file (a temporary file renamed into place) and then its
    /// manifest line; reports each input, refused ones first, through <paramref name="progress"/>.
    /// </summary>
    /// <param name="progress">Told after each input, on the thread running this method (a <see cref="Progress{T}"/>
    /// posts to its own context instead).</param>
    /// <param name="cancellationToken">Stops the run between files and forward passes.</param>
    /// <returns>The counts; the failures are in <see cref="CorpusSummary.Failures"/>.</returns>
    /// <exception cref="OperationCanceledException">Cancelled; every output written is complete and in the manifest,
    /// and <see cref="Summary"/> has the counts.</exception>
    /// <exception cref="InvalidOperationException">Called a second time.</exception>
    public CorpusSummary Run(IProgress<CorpusProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        if (started) throw new InvalidOperationException("A CorpusExtractor runs once; open another for a new run.");
        started = true;
        var outFor = pending.ToDictionary(j => j.In, j => j, StringComparer.Ordinal);
        int done = 0;
        void Report(CorpusFileResult r)
        {
            done++;
            if (r.Succeeded)
            {
                written++;
            }
            else failures.Add(r);
            progress?.Report(new CorpusProgress(r, done, Inputs, failures.Count, SecondsOf(samples)));
        }

        try
        {
            foreach (var r in refused) Report(r);
            foreach (var r in encoder.ExtractFiles(pending.Select(j => j.In), Options.Layers, Options.Extraction, cancellationToken))
            {
                // Results come a read-ahead group at a time: after cancellation, write none of the group's rest.
                cancellationToken.ThrowIfCancellationRequested();
                Report(Write(r, outFor[r.Path]));
            }
        }
        finally
        {
            Finish();
        }
        return Summary;
    }

    /// <summary>Writes the features of one input and then its manifest line; an output that cannot be written fails
    /// that input alone.</summary>
    private CorpusFileResult Write(FileFeatures r, Job job)
    {
        double seconds = SecondsOf(r.Samples16k);
        if (!r.Succeeded) return new CorpusFileResult(r.Path, job.Out, null, seconds, r.Error);
        var features = r.Features!;
        try
        {
            var dir = Path.GetDirectoryName(Path.GetFullPath(job.Out));
            if (dir is not null) Directory.CreateDirectory(dir);
            Options.Format.Write(job.Out, features.Data, features.Shape);
            if (manifest is not null)
            {
                var entry = CorpusManifest.Describe(job.InputKey, job.OutputKey, job.Out, features.Frames, features.Dim,
                    Options.Format.StoredShape(features.Shape), seconds);
                superseded |= lines.ContainsKey(job.OutputKey);
                lines[job.OutputKey] = entry;
                manifest.Append(entry);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return new CorpusFileResult(r.Path, job.Out, null, seconds, e);
        }
        samples += r.Samples16k;
        return new CorpusFileResult(r.Path, job.Out, features.Shape, seconds, null);
    }

    /// <summary>When an output was rewritten while it already had a line, rewrites the manifest with only the newest
    /// line per output.</summary>
    private void Finish()
    {
        if (manifest is not null && superseded)
            manifest.Rewrite(all.Where(j => lines.ContainsKey(j.OutputKey)).Select(j => lines[j.OutputKey]));
        superseded = false;
    }

    /// <summary>Releases the manifest (the encoder stays with its owner).</summary>
    public void Dispose() => manifest?.Dispose();
}
