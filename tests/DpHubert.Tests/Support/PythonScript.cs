using System;
using System.Diagnostics;
using System.IO;

namespace DpHubert.Tests.Support;

/// <summary>
/// Runs one of the repository's Python scripts with Debian's /usr/bin/python3 for the [Category=Python] tests, which
/// check in PyTorch itself what we write. They are [PythonFact] / [PythonTheory]: skipped, with the reason, where
/// python3 or python3-torch is absent; run wherever both are (tools/setup.sh installs them, so CI runs them).
/// </summary>
internal static class PythonScript
{
    public const string Python = "/usr/bin/python3";

    /// <summary>Runs <paramref name="script"/> (a path relative to the repository root) and returns its stdout.</summary>
    /// <exception cref="InvalidOperationException">Python is missing, the script failed (stderr included) or ran over 5 minutes.</exception>
    public static string Run(string script, params string[] args)
    {
        string path = Path.Combine(TestFiles.RepoRoot(), script);
        var psi = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(path);
        foreach (var a in args) psi.ArgumentList.Add(a);
        Process process;
        try
        {
            process = Process.Start(psi) ?? throw new InvalidOperationException("process did not start");
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            throw new InvalidOperationException(
                $"{Python} is needed by the [Category=Python] tests (install python3 and python3-torch): {e.Message}", e);
        }
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(300_000))
            {
                process.Kill();
                throw new InvalidOperationException($"{script} did not finish in 5 minutes");
            }
            if (process.ExitCode != 0)
            {
                var err = stderr.Result;
                var hint = err.Contains("No module named 'torch'", StringComparison.Ordinal)
                    ? $"{Python} cannot import torch; install python3-torch (the [Category=Python] tests need it). "
                    : string.Empty;
                throw new InvalidOperationException($"{hint}{script} failed ({process.ExitCode}):\n{err}");
            }
            return stdout.Result;
        }
    }
}
