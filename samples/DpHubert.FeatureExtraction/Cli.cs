using System;
using System.CommandLine;
using System.IO;
using DpHubert.Audio;
using DpHubert.Checkpoints;

namespace DpHubert.FeatureExtraction;

/// <summary>Exit codes and error reporting shared by the commands.</summary>
internal static class Cli
{
    public const int Ok = 0;
    public const int SomeInputsFailed = 1;
    public const int UsageError = 2;

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
        catch (Exception e) when (IsUserError(e))
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return UsageError;
        }
    }

    /// <summary>Errors caused by what the user gave us (bad option values, missing or broken checkpoints).</summary>
    public static bool IsUserError(Exception e) => e is ArgumentException or FileNotFoundException
        or DirectoryNotFoundException or CheckpointFormatException or FormatException or AudioFormatException
        or InvalidDataException or UnauthorizedAccessException;
}
