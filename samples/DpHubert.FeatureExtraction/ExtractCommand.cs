using System;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Threading;
using DpHubert.Corpus;
using DpHubert.Extraction;
using Spectre.Console;

namespace DpHubert.FeatureExtraction;

/// <summary>
/// <c>dphubert extract --checkpoint FILE --input AUDIO|DIR --output FILE.npy|DIR [--layer N|all] ...</c>:
/// a thin shell over <see cref="CorpusExtractor"/> (flags in, progress and summary out).
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
        var corpus = new CorpusCommandOptions();
        foreach (var option in corpus.All) command.Options.Add(option);
        command.SetAction(parse =>
        {
            var (named, selection) = encoderOptions.ParseSelection(parse);
            var extraction = new ExtractionOptions
            {
                BatchSize = parse.GetValue(batchSize),
                ChunkSeconds = parse.GetValue(chunkSeconds),
                ChunkOverlapSeconds = parse.GetValue(chunkOverlap),
            };
            var run = corpus.Parse(parse, parse.GetValue(input)!, parse.GetValue(output)!, selection, extraction);

            long loadStart = Stopwatch.GetTimestamp();
            var (loaded, units) = encoderOptions.Load(parse, named, () => parse.GetValue(memoryLimit) is { } gb
                ? (gb > 0 && double.IsFinite(gb) ? (long)(gb * 1e9) : throw new ArgumentException($"--memory-limit must be a positive number of GB; got {gb}."))
                : null);
            using var encoder = loaded;
            var loadTime = Stopwatch.GetElapsedTime(loadStart);
            if (units is not null) run = run with { Layers = units.Layers }; // a short name's preset: one layer, which every --format holds
            bool beQuiet = parse.GetValue(encoderOptions.Quiet);
            using var extractor = CorpusExtractor.Open(encoder, run, new Cli.Direct<string>(line => { if (!beQuiet) Console.Error.WriteLine($"note: {line}"); }));
            long runStart = Stopwatch.GetTimestamp();
            int code = Run(extractor, Directory.Exists(run.Input) && !beQuiet, beQuiet);
            if (parse.GetValue(encoderOptions.Verbose))
                Console.Error.WriteLine(Cli.Timings(loadStart, loadTime, encoder.KernelCheck.Elapsed, Stopwatch.GetElapsedTime(runStart)));
            return code;
        });
        return command;
    }

    private static int Run(CorpusExtractor extractor, bool progress, bool quiet)
    {
        int refused = extractor.Refused.Count, jobs = extractor.Inputs - refused;
        var stderr = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        var clock = Stopwatch.StartNew();

        // Prints one input's outcome; false for the inputs refused before extraction, which progress does not count.
        bool Handle(CorpusProgress p, Action<string> report)
        {
            var r = p.File;
            if (r.Succeeded)
            {
                if (!quiet && !progress) Console.WriteLine($"{r.Input} -> {r.Output} [{string.Join(", ", r.Shape!)}]");
                return true;
            }
            string message = Cli.Describe(r.Error!);
            string line = message.Contains(r.Input, StringComparison.Ordinal) ? $"error: {message}" : $"error: {r.Input}: {message}";
            if (p.Done <= refused)
            {
                Console.Error.WriteLine(line);
                return false;
            }
            report(line);
            return true;
        }

        // Ctrl+C / SIGTERM: stop between files and forward passes, keep what is written, say what was not done.
        // A second Ctrl+C ends the process at once.
        using var cancel = new CancellationTokenSource();
        using var signals = Cli.CancelOnSignals(cancel);
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
                        var task = ctx.AddTask($"extracting {jobs} files", maxValue: jobs);
                        extractor.Run(new Cli.Direct<CorpusProgress>(p =>
                        {
                            if (Handle(p, line => stderr.WriteLine(line, new Style(Color.Red)))) task.Increment(1);
                        }), cancel.Token);
                    });
            }
            else
            {
                // Not a terminal (a pipeline or a log): plain lines, a progress line with ETA every few seconds.
                var last = Stopwatch.StartNew();
                extractor.Run(new Cli.Direct<CorpusProgress>(p =>
                {
                    if (!Handle(p, Console.Error.WriteLine)) return;
                    int done = p.Done - refused;
                    if (progress && (last.Elapsed.TotalSeconds >= 5 || done == jobs))
                    {
                        last.Restart();
                        double elapsed = clock.Elapsed.TotalSeconds;
                        double eta = elapsed / done * (jobs - done);
                        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                            $"progress: {done}/{jobs} files ({100.0 * done / jobs:0}%), elapsed {elapsed:0} s, ETA {eta:0} s"));
                    }
                }), cancel.Token);
            }
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            cancelled = true;
        }

        var summary = extractor.Summary;
        double seconds = clock.Elapsed.TotalSeconds;
        // The skipped count appears only with --skip-existing, so that the summary of runs without it keeps its shape.
        bool reportsSkipped = extractor.Options.SkipExisting;
        if (!quiet && (summary.Inputs > 1 || summary.Failed > 0 || progress || reportsSkipped))
        {
            string skipped = reportsSkipped ? $"{summary.Skipped} skipped, " : "";
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{summary.Written} written, {skipped}{summary.Failed} failed, {summary.AudioSeconds:0.0} s of audio in {seconds:0.0} s ({(seconds > 0 ? summary.AudioSeconds / seconds : 0):0.0}x real time)"));
        }
        if (cancelled)
        {
            Console.Error.WriteLine($"cancelled: {summary.Written} written, {summary.Failed} failed, {summary.NotProcessed} of {summary.Inputs} input(s) not processed " +
                                    "(every output written is complete; run again with --skip-existing to continue).");
            return Cli.Cancelled;
        }
        if (summary.Failed > 0)
        {
            Console.Error.WriteLine($"{summary.Failed} of {summary.Inputs} input(s) failed:");
            foreach (var f in summary.Failures) Console.Error.WriteLine($"  {f.Input}");
            return Cli.SomeInputsFailed;
        }
        return Cli.Ok;
    }
}
