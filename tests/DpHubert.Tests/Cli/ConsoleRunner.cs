using System;
using System.Diagnostics;
using System.IO;
using System.Linq;

namespace DpHubert.Tests.Cli;

/// <summary>Runs the built <c>dphubert</c> console (built before the tests through a ProjectReference with
/// ReferenceOutputAssembly=false) as a separate process.</summary>
internal static class ConsoleRunner
{
    public sealed record Result(int ExitCode, string StdOut, string StdErr)
    {
        public override string ToString() => $"exit {ExitCode}\n--- stdout ---\n{StdOut}\n--- stderr ---\n{StdErr}";
    }

    private static readonly Lazy<string> Dll = new(Locate);

    /// <summary>samples/DpHubert.FeatureExtraction/bin/&lt;Configuration&gt;/&lt;tfm&gt;/dphubert.dll next to this test build.</summary>
    private static string Locate()
    {
        var baseDir = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        string tfm = baseDir.Name, configuration = baseDir.Parent!.Name;
        for (var dir = baseDir; dir is not null; dir = dir.Parent)
        {
            string samples = Path.Combine(dir.FullName, "samples", "DpHubert.FeatureExtraction", "bin");
            if (!Directory.Exists(samples)) continue;
            string exact = Path.Combine(samples, configuration, tfm, "dphubert.dll");
            if (File.Exists(exact)) return exact;
            var any = Directory.EnumerateFiles(samples, "dphubert.dll", SearchOption.AllDirectories)
                .OrderByDescending(File.GetLastWriteTimeUtc).FirstOrDefault();
            if (any is not null) return any;
        }
        throw new FileNotFoundException(
            $"The dphubert console was not found under samples/DpHubert.FeatureExtraction/bin above {baseDir.FullName}; build the solution first.");
    }

    public static Result Run(params string[] args) => RunWithTimeout(TimeSpan.FromSeconds(120), args);

    /// <summary>The path of the built console's dll, to run it as <c>dotnet dphubert.dll</c> from a script.</summary>
    public static string DllPath => Dll.Value;

    private static ProcessStartInfo StartInfo(string[] args) => StartInfo(null, args);

    private static ProcessStartInfo StartInfo(System.Collections.Generic.IReadOnlyDictionary<string, string>? environment, string[] args)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(Dll.Value);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        if (environment is not null)
            foreach (var (k, v) in environment) psi.Environment[k] = v;
        return psi;
    }

    /// <summary>Starts the console without waiting (to kill it mid-run); the caller reads or discards its output.</summary>
    public static Process Start(params string[] args) => Process.Start(StartInfo(args))!;

    public static Result RunWithTimeout(TimeSpan timeout, params string[] args) => RunWithEnvironment(null, timeout, args);

    /// <summary>Starts the console with extra environment variables without waiting.</summary>
    public static Process Start(System.Collections.Generic.IReadOnlyDictionary<string, string> environment, params string[] args) =>
        Process.Start(StartInfo(environment, args))!;

    /// <summary>Runs the console with <paramref name="stdin"/> written to its standard input (then closed).</summary>
    public static Result RunWithInput(byte[] stdin, params string[] args)
    {
        var psi = StartInfo(args);
        psi.RedirectStandardInput = true;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        try
        {
            p.StandardInput.BaseStream.Write(stdin);
            p.StandardInput.Close();
        }
        catch (IOException)
        {
            // The console stopped reading (an error it reports on stderr).
        }
        if (!p.WaitForExit(TimeSpan.FromSeconds(120)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"dphubert {string.Join(' ', args)} did not finish within 120 s.");
        }
        p.WaitForExit();
        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Runs the console with extra environment variables (HF_ENDPOINT, HF_HUB_CACHE, ...).</summary>
    public static Result RunWithEnvironment(System.Collections.Generic.IReadOnlyDictionary<string, string>? environment, TimeSpan timeout, params string[] args)
    {
        using var p = Process.Start(StartInfo(environment, args))!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"dphubert {string.Join(' ', args)} did not finish within {timeout.TotalSeconds} s.");
        }
        p.WaitForExit();
        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }
}
