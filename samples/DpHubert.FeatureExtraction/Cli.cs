using System;
using System.Collections.Generic;
using System.CommandLine;
using System.IO;
using System.Runtime.InteropServices;
using System.Threading;
using DpHubert.Audio;
using DpHubert.Checkpoints;
using DpHubert.Hub;
using DpHubert.PyTorch;

namespace DpHubert.FeatureExtraction;

/// <summary>Exit codes and error reporting shared by the commands.</summary>
internal static class Cli
{
    public const int Ok = 0;
    public const int SomeInputsFailed = 1;
    public const int UsageError = 2;
    public const int Cancelled = 130; // 128 + SIGINT, as shells report an interrupted command

    public static int Run(RootCommand root, string[] args)
    {
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var e in parse.Errors) Console.Error.WriteLine($"error: {e.Message}");
            Console.Error.WriteLine("Run 'dphubert --help' for usage.");
            return UsageError;
        }
        try
        {
            return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("cancelled (a partial download is kept; the next run resumes it).");
            return Cancelled;
        }
        catch (Exception e) when (IsUserError(e))
        {
            Console.Error.WriteLine($"error: {Describe(e)}");
            return UsageError;
        }
    }

    /// <summary>
    /// Ends the process with <paramref name="code"/> once a command has returned: every output is complete by then
    /// (written through a temporary, flushed to disk and renamed; every file closed), so on Linux the process leaves
    /// through <c>_exit</c> after flushing stdout and stderr, skipping the runtime's shutdown and libtorch's static
    /// destructors (about a tenth of a second of a one-file extract). Elsewhere, or with
    /// <c>DPHUBERT_FAST_EXIT=0</c>, it returns the code for a normal exit.
    /// </summary>
    public static int Exit(int code)
    {
        Console.Out.Flush();
        Console.Error.Flush();
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable("DPHUBERT_FAST_EXIT") is "0" or "false") return code;
        try
        {
            _exit(code);
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            // No libc _exit (not glibc): the normal exit.
        }
        return code;
    }

    /// <summary>The spin count libgomp (libtorch's OpenMP runtime) is given when the environment sets none.</summary>
    public const string OpenMpSpinCount = "10000";

    /// <summary>
    /// Bounds how long libtorch's idle OpenMP worker spins before it sleeps: libgomp's default, 300,000 rounds, is
    /// milliseconds on a Zen 4, so on a machine where other processes want the cores the spinning worker takes them
    /// from this process's own main thread (a 20 s extract on the shared 2-core Zen 4 at load average 9-10: 7.9 CPU-s
    /// by default, 5.2 with 10,000 rounds, about 0.2 ms, which still covers the gaps between one forward pass's
    /// operations). libgomp reads <c>GOMP_SPINCOUNT</c> once, when libtorch loads, so this runs first; a value the user
    /// set (<c>GOMP_SPINCOUNT</c> or <c>OMP_WAIT_POLICY</c>) wins.
    /// </summary>
    public static void LimitOpenMpSpinning()
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable("GOMP_SPINCOUNT") is not null
            || Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is not null) return;
        try
        {
            setenv("GOMP_SPINCOUNT", OpenMpSpinCount, 0); // the native environment: .NET's own copy is not what libgomp reads
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            // No libc setenv: libgomp keeps its default.
        }
    }

    [DllImport("libc", EntryPoint = "setenv")]
    private static extern int setenv(string name, string value, int overwrite);

    [DllImport("libc", EntryPoint = "_exit")]
    private static extern void _exit(int status);

    /// <summary>An exception's message for a person: options of the library named by their flags (from the option
    /// names the exception carries, <see cref="OptionText"/>), without .NET's "(Parameter 'x')" and "Actual value was"
    /// suffixes, which name our internals rather than the option at fault.</summary>
    public static string Describe(Exception e)
    {
        if (OptionText.Of(e) is { } text) return text.Render(Flag);
        string message = e.Message;
        int actual = message.IndexOf(Environment.NewLine + "Actual value was", StringComparison.Ordinal);
        if (actual >= 0) message = message[..actual];
        string suffix = e is ArgumentException { ParamName: { } name } ? $" (Parameter '{name}')" : "";
        return suffix.Length > 0 && message.EndsWith(suffix, StringComparison.Ordinal) ? message[..^suffix.Length] : message;
    }

    /// <summary>The flag of a library option (its C# name when the console has no flag for it).</summary>
    public static string Flag(ApiOption option) => Flags.TryGetValue(option, out var flag) ? flag : option.Name;

    /// <summary>The library's options as the command line names them.</summary>
    private static readonly Dictionary<ApiOption, string> Flags = new()
    {
        [ApiOption.ChunkOverlapSeconds] = "--chunk-overlap",
        [ApiOption.ChunkSeconds] = "--chunk-seconds",
        [ApiOption.BatchSize] = "--batch-size",
        [ApiOption.BlockSeconds] = "--block",
        [ApiOption.ContextSeconds] = "--context",
        [ApiOption.LookaheadFrames] = "--lookahead",
        [ApiOption.Threads] = "--threads",
        [ApiOption.DType] = "--dtype",
        [ApiOption.ConfigPath] = "--config",
        [ApiOption.Arch] = "--arch",
        [ApiOption.Units] = "--units",
        [ApiOption.Projection] = "--projection",
        [ApiOption.Layers] = "--layer",
        [ApiOption.Input] = "--input",
        [ApiOption.Output] = "--output",
        [ApiOption.Format] = "--format",
        [ApiOption.Shard] = "--shard",
        [ApiOption.ManifestPath] = "--manifest",
    };

    /// <summary>Ctrl+C and SIGTERM cancel <paramref name="cancel"/> instead of ending the process, until the result is
    /// disposed; a second Ctrl+C ends the process at once.</summary>
    public static IDisposable CancelOnSignals(CancellationTokenSource cancel)
    {
        void OnSignal(PosixSignalContext context)
        {
            if (cancel.IsCancellationRequested) return;
            context.Cancel = true;
            cancel.Cancel();
        }
        return new Registrations(PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal),
            PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal));
    }

    /// <summary>Reports on the reporting thread, in order (Progress&lt;T&gt; would post to the thread pool).</summary>
    public sealed class Direct<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }

    private sealed record Registrations(IDisposable First, IDisposable Second) : IDisposable
    {
        public void Dispose()
        {
            First.Dispose();
            Second.Dispose();
        }
    }

    /// <summary>What <c>--verbose</c> prints once an encoder is loaded: the load report, the compute dtype and the kernel
    /// check's summary line, on stderr.</summary>
    public static void PrintLoad(DpHubert.Extraction.SpeechEncoder encoder)
    {
        Console.Error.WriteLine(encoder.Report);
        Console.Error.WriteLine($"Compute dtype: {encoder.DType} on {encoder.Device.type}.");
        Console.Error.WriteLine(encoder.KernelCheck.Summary);
    }

    /// <summary>What <c>extract --verbose</c> prints last: where the command's time went since the process started
    /// (the runtime's start and the command line, loading the model with its kernel check, extracting and writing) and
    /// the process's CPU time, so that a slow run shows which part to look at.</summary>
    /// <param name="loadStart">The <see cref="System.Diagnostics.Stopwatch"/> timestamp at which the model load began.</param>
    /// <param name="load">How long loading took (libtorch, the checkpoint, the model and the kernel check).</param>
    /// <param name="kernelCheck">How long the kernel check took, within <paramref name="load"/>.</param>
    /// <param name="extraction">Reading, extracting and writing every input.</param>
    public static string Timings(long loadStart, TimeSpan load, TimeSpan kernelCheck, TimeSpan extraction)
    {
        using var self = System.Diagnostics.Process.GetCurrentProcess();
        double total = (DateTime.Now - self.StartTime).TotalSeconds;
        double before = total - System.Diagnostics.Stopwatch.GetElapsedTime(loadStart).TotalSeconds;
        var ci = System.Globalization.CultureInfo.InvariantCulture;
        return string.Create(ci, $"time: {total:0.00} s since the process started: runtime start and options {before:0.00} s, model load {load.TotalSeconds:0.00} s (kernel check {kernelCheck.TotalSeconds:0.00} s), ") +
               string.Create(ci, $"extraction and writing {extraction.TotalSeconds:0.00} s; CPU {self.TotalProcessorTime.TotalSeconds:0.00} s (user {self.UserProcessorTime.TotalSeconds:0.00} s, system {self.PrivilegedProcessorTime.TotalSeconds:0.00} s)");
    }

    /// <summary>Errors caused by what the user gave us (bad option values, missing or broken checkpoints).</summary>
    public static bool IsUserError(Exception e) => e is ArgumentException or FileNotFoundException
        or DirectoryNotFoundException or CheckpointFormatException or FormatException or AudioFormatException
        or InvalidDataException or UnauthorizedAccessException or HubException or KernelCheckException;
}

/// <summary><c>--arch</c> and <c>--config</c>: the architecture of a checkpoint that does not carry its own, taken
/// the same way by every command that loads one.</summary>
internal sealed record CheckpointHintOptions(Option<string> Arch, Option<string> Config)
{
    public static CheckpointHintOptions Create() => new(
        new Option<string>("--arch") { Description = "Preset for a bare torchaudio state_dict (hubert_base, ...)." },
        new Option<string>("--config") { Description = "Config JSON, or a DPHuBERT .pth whose config to take, for a checkpoint without one (a bare state_dict; a DPHuBERT Lightning .ckpt: the student's original .pth)." });

    public CheckpointReadOptions Read(ParseResult parse) =>
        new() { Arch = parse.GetValue(Arch), ConfigPath = parse.GetValue(Config) };
}
