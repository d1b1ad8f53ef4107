using System;
using System.Collections.Generic;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Threading;
using DpHubert.Extraction;
using DpHubert.Hub;
using Spectre.Console;

namespace DpHubert.FeatureExtraction;

/// <summary><c>--checkpoint</c> (a path or <c>hf://</c> reference) or <c>--model</c> (a short name): every command
/// that loads a checkpoint takes one of the two.</summary>
internal sealed record CheckpointSource(Option<string> Checkpoint, Option<string> Model)
{
    public static CheckpointSource Create(string description) => new(
        new Option<string>("--checkpoint")
        {
            Description = description + " Or hf://ORG/REPO[@REVISION][/FILE] on the Hugging Face Hub (fetched into huggingface_hub's cache).",
        },
        new Option<string>("--model") { Description = "A well-known encoder by short name instead of --checkpoint ('dphubert models' lists them)." });

    /// <summary>The units preset of a short name, when the user chose neither --units nor --layer.</summary>
    public static SpeechUnits? PresetUnits(KnownModel? known, SpeechUnits? units, string? layer) =>
        units is null && layer is null ? known?.Units : null;

    /// <summary>The local checkpoint path (downloading it first for a Hub reference or short name), what the user
    /// named it, and the short name's table row.</summary>
    public (string Path, string Named, KnownModel? Model) Resolve(ParseResult parse, bool quiet)
    {
        string? checkpoint = parse.GetValue(Checkpoint), model = parse.GetValue(Model);
        if (checkpoint is not null && model is not null)
            throw new ArgumentException("give --checkpoint or --model, not both.");
        if (model is not null)
        {
            var known = KnownModels.Get(model);
            return (HubDownloads.Fetch(known.Reference, quiet), known.Reference.ToString(), known);
        }
        if (checkpoint is null)
            throw new ArgumentException("--checkpoint (a file, folder or hf://ORG/REPO) or --model (a short name) is required.");
        return HubReference.IsHubReference(checkpoint)
            ? (HubDownloads.Fetch(HubReference.Parse(checkpoint), quiet), checkpoint, null)
            : (checkpoint, checkpoint, null);
    }
}

/// <summary>Fetches a Hub model with a progress bar on a terminal (bytes, rate, time left), progress lines in a log,
/// nothing with --quiet; Ctrl+C stops it and keeps the partial file for the next run to resume.</summary>
internal static class HubDownloads
{
    public static string Fetch(HubReference reference, bool quiet)
    {
        using var hub = new HubClient();
        using var cancel = new CancellationTokenSource();
        using var signals = Cli.CancelOnSignals(cancel);
        if (quiet) return hub.DownloadModel(reference, null, cancel.Token);
        if (!Console.IsErrorRedirected)
        {
            var stderr = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
            string result = "";
            stderr.Progress()
                .AutoClear(false)
                .HideCompleted(false)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(),
                    new TransferSpeedColumn(), new RemainingTimeColumn())
                .Start(ctx =>
                {
                    var tasks = new Dictionary<string, ProgressTask>(StringComparer.Ordinal);
                    var progress = new Cli.Direct<HubDownloadProgress>(p =>
                    {
                        if (!tasks.TryGetValue(p.File, out var task))
                        {
                            if (p.Completed) return; // in the cache already: nothing to show
                            tasks[p.File] = task = ctx.AddTask($"{p.RepoId}/{p.File}", maxValue: Math.Max(1, p.TotalBytes));
                        }
                        task.Value = p.BytesReceived;
                        if (p.Completed) task.StopTask();
                    });
                    result = hub.DownloadModel(reference, progress, cancel.Token);
                });
            return result;
        }
        // Not a terminal (a log): a line every few seconds and one when each file is in.
        var clock = new Dictionary<string, (Stopwatch Started, long From, Stopwatch Last)>(StringComparer.Ordinal);
        var lines = new Cli.Direct<HubDownloadProgress>(p =>
        {
            string name = $"{p.RepoId}/{p.File}";
            var inv = CultureInfo.InvariantCulture;
            if (!clock.TryGetValue(p.File, out var c))
            {
                if (p.Completed) return;
                clock[p.File] = c = (Stopwatch.StartNew(), p.BytesReceived, Stopwatch.StartNew());
                Console.Error.WriteLine(string.Create(inv, $"downloading {name} ({Mb(p.TotalBytes)} MB{(p.BytesReceived > 0 ? $", resuming at {Mb(p.BytesReceived)} MB" : "")})"));
                return;
            }
            double seconds = c.Started.Elapsed.TotalSeconds;
            double rate = seconds > 0 ? (p.BytesReceived - c.From) / seconds : 0;
            if (p.Completed)
                Console.Error.WriteLine(string.Create(inv, $"downloaded {name} ({Mb(p.TotalBytes)} MB) in {seconds:0.0} s"));
            else if (c.Last.Elapsed.TotalSeconds >= 5)
            {
                c.Last.Restart();
                string left = rate > 0 ? $"{(p.TotalBytes - p.BytesReceived) / rate:0} s left" : "time left unknown";
                Console.Error.WriteLine(string.Create(inv,
                    $"downloading {name}: {Mb(p.BytesReceived)} of {Mb(p.TotalBytes)} MB ({100.0 * p.BytesReceived / Math.Max(1, p.TotalBytes):0}%), {rate / 1e6:0.0} MB/s, {left}"));
            }
        });
        return hub.DownloadModel(reference, lines, cancel.Token);
    }

    private static string Mb(long bytes) => (bytes / 1e6).ToString("0.0", CultureInfo.InvariantCulture);
}
