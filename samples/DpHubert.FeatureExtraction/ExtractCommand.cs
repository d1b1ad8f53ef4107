using System;
using System.Collections.Generic;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Threading;
using DpHubert.Audio;
using DpHubert.Corpus;
using DpHubert.Extraction;
using DpHubert.IO;
using Spectre.Console;

namespace DpHubert.FeatureExtraction;

/// <summary>
/// <c>dphubert extract --checkpoint FILE --input AUDIO|DIR --output FILE.npy|DIR [--layer N|all] ...</c>:
/// a thin layer over <see cref="SpeechEncoder.ExtractFiles"/>.
/// </summary>
internal static class ExtractCommand
{
    public static Command Create()
    {
        var encoderOptions = new EncoderCommandOptions("No progress, per-file lines or summary; errors still go to stderr.");
        var input = new Option<string>("--input") { Description = "Input audio file (WAV, FLAC, MP3, Ogg Vorbis; M4A/AAC, Opus, WebM and more with ffmpeg on the PATH), or a folder searched recursively for audio files.", Required = true };
        var output = new Option<string>("--output") { Description = "Output .npy file; for a folder --input, the output folder (the tree is mirrored).", Required = true };
        var batchSize = new Option<int>("--batch-size") { Description = "Files per forward pass (length-sorted batches).", DefaultValueFactory = _ => 1 };
        var chunkSeconds = new Option<double?>("--chunk-seconds") { Description = "Split recordings longer than S seconds into overlapping chunks." };
        var chunkOverlap = new Option<double>("--chunk-overlap") { Description = "Context in seconds on each side of a chunk.", DefaultValueFactory = _ => 1.0 };
        var memoryLimit = new Option<double?>("--memory-limit") { Description = "GB one forward pass may take (default: what the machine has available); an input that needs more fails alone, with a --chunk-seconds suggestion." };
        var command = new Command("extract", "Extract features from an audio file or a folder of audio files into float32 .npy files.")
        {
            encoderOptions.Source.Checkpoint, encoderOptions.Source.Model, input, output, encoderOptions.Layer, encoderOptions.Device,
            encoderOptions.DType, encoderOptions.Threads, batchSize, chunkSeconds, chunkOverlap, encoderOptions.Quiet, encoderOptions.Verbose,
            memoryLimit, encoderOptions.Hints.Arch, encoderOptions.Hints.Config, encoderOptions.Projection, encoderOptions.Units,
        };
        var corpus = new CorpusOptions();
        foreach (var option in corpus.All) command.Options.Add(option);
        command.SetAction(parse =>
        {
            var (named, selection) = encoderOptions.ParseSelection(parse);
            var options = new ExtractionOptions
            {
                BatchSize = parse.GetValue(batchSize),
                ChunkSeconds = parse.GetValue(chunkSeconds),
                ChunkOverlapSeconds = parse.GetValue(chunkOverlap),
            };
            options.Validate();
            string inputPath = parse.GetValue(input)!;
            string outputPath = parse.GetValue(output)!;
            bool isFolder = Directory.Exists(inputPath);
            if (!isFolder && !File.Exists(inputPath))
                throw new FileNotFoundException($"--input '{inputPath}' does not exist.", inputPath);
            if (isFolder && File.Exists(outputPath))
                throw new ArgumentException($"--input '{inputPath}' is a folder, so --output must be a folder, but '{outputPath}' is a file.");
            var corpusSettings = corpus.Parse(parse, isFolder, selection);
            var format = corpusSettings.Format;

            var (loaded, units) = encoderOptions.Load(parse, named, () => parse.GetValue(memoryLimit) is { } gb
                ? (gb > 0 && double.IsFinite(gb) ? (long)(gb * 1e9) : throw new ArgumentException($"--memory-limit must be a positive number of GB; got {gb}."))
                : null);
            using var encoder = loaded;
            if (units is not null) selection = units.Layers; // a short name's preset: one layer, which every --format holds
            encoder.Validate(selection);
            bool beQuiet = parse.GetValue(encoderOptions.Quiet);

            List<(string In, string Out)> jobs;
            var notRegular = new List<string>();
            if (isFolder)
            {
                string root = Path.GetFullPath(inputPath);
                jobs = AudioFiles.Find(root, (link, real) =>
                    {
                        if (!beQuiet) Console.Error.WriteLine($"note: not following '{link}': it is '{real}', a folder this run already reads.");
                    })
                    .Select(f => (f, format.OutputName(Path.Combine(outputPath, Path.GetRelativePath(root, f)))))
                    .ToList();
                if (jobs.Count == 0)
                    throw new ArgumentException($"no audio files ({string.Join(" ", AudioReader.Extensions)}) found under '{inputPath}'.");
                // A FIFO named .wav would block the run forever when opened; such entries fail without being opened.
                var regular = jobs.ToLookup(j => AudioFiles.IsRegularOrUnknown(j.In));
                notRegular = regular[false].Select(j => j.In).ToList();
                jobs = regular[true].ToList();
                // a.wav and a.WAVE would both become a.npy: refuse rather than let one overwrite the other.
                var clash = jobs.GroupBy(j => j.Item2, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
                if (clash is not null)
                    throw new ArgumentException($"{string.Join(" and ", clash.Select(j => $"'{j.Item1}'"))} would both be written to '{clash.Key}'; rename one of them.");
            }
            else
            {
                string target = Directory.Exists(outputPath)
                    ? Path.Combine(outputPath, format.OutputName(Path.GetFileName(inputPath)))
                    : outputPath;
                jobs = new List<(string, string)> { (inputPath, target) };
            }
            string inputRoot = isFolder ? inputPath : Path.GetDirectoryName(Path.GetFullPath(inputPath))!;
            string outputRoot = isFolder ? outputPath : Path.GetDirectoryName(Path.GetFullPath(jobs[0].Out))!;
            if (corpusSettings.Shard is { } ownShard) // each shard reports only its own
                notRegular = notRegular.Where(p => ownShard.Contains(ShardSpec.RelativeKey(inputRoot, p))).ToList();
            using var run = CorpusRun.Begin(corpusSettings, inputRoot, outputRoot, jobs, line => { if (!beQuiet) Console.Error.WriteLine($"note: {line}"); });
            return Run(encoder, run, notRegular, selection, options, isFolder && !beQuiet, beQuiet);
        });
        return command;
    }

    private static int Run(SpeechEncoder encoder, CorpusRun run, IReadOnlyList<string> notRegular, LayerSelection selection,
        ExtractionOptions options, bool progress, bool quiet)
    {
        var jobs = run.Jobs;
        int inputs = jobs.Count + notRegular.Count;
        var stderr = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        var outFor = jobs.ToDictionary(j => j.In, j => j.Out);
        int written = 0;
        var failed = new List<string>();
        long samples = 0;
        var clock = Stopwatch.StartNew();
        foreach (var path in notRegular)
        {
            failed.Add(path);
            Console.Error.WriteLine($"error: {path}: not a regular file (a FIFO, socket or device): a folder run reads regular files only, so it was not opened.");
        }

        void Handle(FileFeatures r, Action<string> report)
        {
            if (r.Succeeded)
            {
                try
                {
                    string target = outFor[r.Path];
                    var dir = Path.GetDirectoryName(Path.GetFullPath(target));
                    if (dir is not null) Directory.CreateDirectory(dir);
                    run.Write(r, target); // temporary file + rename, then the manifest line
                    written++;
                    samples += r.Samples16k;
                    if (!quiet && !progress) Console.WriteLine($"{r.Path} -> {target} [{string.Join(", ", r.Features!.Shape)}]");
                    return;
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    r = r with { Error = e }; // one output that cannot be written fails that input alone
                }
            }
            failed.Add(r.Path);
            string message = Cli.Describe(r.Error!);
            report(message.Contains(r.Path, StringComparison.Ordinal) ? $"error: {message}" : $"error: {r.Path}: {message}");
        }

        // Ctrl+C / SIGTERM: stop between files and forward passes, keep what is written, say what was not done.
        // A second Ctrl+C ends the process at once.
        using var cancel = new CancellationTokenSource();
        using var signals = Cli.CancelOnSignals(cancel);
        var results = encoder.ExtractFiles(jobs.Select(j => j.In), selection, options, cancel.Token);
        bool cancelled = false;
        try
        {
            if (progress && !Console.IsErrorRedirected)
            {
                stderr.Progress()
                    .AutoClear(false)
                    .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(),
                        new ElapsedTimeColumn(), new RemainingTimeColumn(), new SpinnerColumn())
                    .Start(ctx =>
                    {
                        var task = ctx.AddTask($"extracting {jobs.Count} files", maxValue: jobs.Count);
                        foreach (var r in results)
                        {
                            Handle(r, line => stderr.WriteLine(line, new Style(Color.Red)));
                            task.Increment(1);
                        }
                    });
            }
            else
            {
                // Not a terminal (a pipeline or a log): plain lines, a progress line with ETA every few seconds.
                var last = Stopwatch.StartNew();
                int done = 0;
                foreach (var r in results)
                {
                    Handle(r, Console.Error.WriteLine);
                    done++;
                    if (progress && (last.Elapsed.TotalSeconds >= 5 || done == jobs.Count))
                    {
                        last.Restart();
                        double elapsed = clock.Elapsed.TotalSeconds;
                        double eta = elapsed / done * (jobs.Count - done);
                        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                            $"progress: {done}/{jobs.Count} files ({100.0 * done / jobs.Count:0}%), elapsed {elapsed:0} s, ETA {eta:0} s"));
                    }
                }
            }
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            cancelled = true;
        }

        double seconds = clock.Elapsed.TotalSeconds;
        if (!quiet && (inputs > 1 || failed.Count > 0 || progress || run.ReportsSkipped))
        {
            double audio = samples / 16000.0;
            string skipped = run.ReportsSkipped ? $"{run.Skipped} skipped, " : "";
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{written} written, {skipped}{failed.Count} failed, {audio:0.0} s of audio in {seconds:0.0} s ({(seconds > 0 ? audio / seconds : 0):0.0}x real time)"));
        }
        run.Finish();
        if (cancelled)
        {
            int notDone = inputs - written - failed.Count;
            Console.Error.WriteLine($"cancelled: {written} written, {failed.Count} failed, {notDone} of {inputs} input(s) not processed " +
                                    "(every output written is complete; run again with --skip-existing to continue).");
            return Cli.Cancelled;
        }
        if (failed.Count > 0)
        {
            Console.Error.WriteLine($"{failed.Count} of {inputs} input(s) failed:");
            foreach (var f in failed) Console.Error.WriteLine($"  {f}");
            return Cli.SomeInputsFailed;
        }
        return Cli.Ok;
    }
}
