using System;
using System.Linq;
using Xunit;

namespace DpHubert.Tests.Support;

/// <summary>A fact that runs only on Linux and is reported as skipped (with the reason) elsewhere.</summary>
public sealed class LinuxFactAttribute : FactAttribute
{
    public LinuxFactAttribute()
    {
        if (!OperatingSystem.IsLinux()) Skip = "Linux only: the libLibTorchSharp patch applies to Linux builds alone";
    }
}

/// <summary>
/// A fact about behaviour without a CUDA device; skipped with the reason where CUDA is present, because there the
/// behaviour it checks (a clear "CUDA is not available" error) cannot happen.
/// </summary>
public sealed class NoCudaFactAttribute : FactAttribute
{
    public NoCudaFactAttribute()
    {
        if (TorchSharp.torch.cuda.is_available()) Skip = "this machine has a CUDA device, so 'CUDA is not available' cannot be produced";
    }
}

/// <summary>A theory that needs the <c>sox</c> command (tools/setup.sh installs it); skipped with the reason without it.</summary>
public sealed class SoxTheoryAttribute : TheoryAttribute
{
    public SoxTheoryAttribute()
    {
        if (!OnPath("sox")) Skip = "sox is not installed (tools/setup.sh installs it)";
    }

    internal static bool OnPath(string command) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(System.IO.Path.PathSeparator)
            .Any(d => d.Length > 0 && System.IO.File.Exists(System.IO.Path.Combine(d, command)));
}

/// <summary>
/// A fact about glibc's mmap threshold as we set it; skipped off Linux and where the process was started with its
/// own threshold (which we leave alone).
/// </summary>
public sealed class OurMallocThresholdFactAttribute : FactAttribute
{
    public OurMallocThresholdFactAttribute()
    {
        if (!OperatingSystem.IsLinux()) Skip = "Linux (glibc) only";
        else if (NativeHeap.HostChoseThreshold())
            Skip = "the process was started with its own glibc mmap threshold, which the library leaves alone";
    }
}

/// <summary>
/// A fact that runs a Python script (<see cref="PythonScript"/>): skipped with the reason where /usr/bin/python3 (and,
/// unless <see cref="TorchNeeded"/> is false, its torch module) is absent, and run — failing if what it checks is
/// wrong — wherever they are, as in CI (tools/setup.sh installs python3-torch).
/// </summary>
public sealed class PythonFactAttribute : FactAttribute
{
    public PythonFactAttribute(bool torchNeeded = true)
    {
        TorchNeeded = torchNeeded;
        Skip = PythonProbe.Missing(torchNeeded);
    }

    /// <summary>Whether the script imports torch.</summary>
    public bool TorchNeeded { get; }
}

/// <summary>The theory form of <see cref="PythonFactAttribute"/> (torch needed).</summary>
public sealed class PythonTheoryAttribute : TheoryAttribute
{
    public PythonTheoryAttribute() => Skip = PythonProbe.Missing(torchNeeded: true);
}

/// <summary>Whether /usr/bin/python3 runs and imports torch, asked once per test run.</summary>
internal static class PythonProbe
{
    private static readonly Lazy<string?> NoPython = new(() => Probe("import sys"));
    private static readonly Lazy<string?> NoTorch = new(() => NoPython.Value ?? Probe("import torch, numpy"));

    /// <summary>Why the Python tests cannot run here, or null when they can.</summary>
    public static string? Missing(bool torchNeeded) => torchNeeded ? NoTorch.Value : NoPython.Value;

    internal static string? Probe(string code)
    {
        if (!System.IO.File.Exists(PythonScript.Python)) return $"{PythonScript.Python} is not installed (tools/setup.sh installs python3-torch)";
        var psi = new System.Diagnostics.ProcessStartInfo(PythonScript.Python) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(code);
        try
        {
            using var p = System.Diagnostics.Process.Start(psi)!;
            var stderr = p.StandardError.ReadToEndAsync();
            p.StandardOutput.ReadToEnd();
            if (!p.WaitForExit(120_000))
            {
                p.Kill();
                return $"{PythonScript.Python} -c \"{code}\" did not finish in 2 minutes";
            }
            return p.ExitCode == 0 ? null
                : $"{PythonScript.Python} cannot run \"{code}\" (tools/setup.sh installs python3-torch): {stderr.Result.Trim().Split('\n')[^1]}";
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return $"{PythonScript.Python} does not start: {e.Message}";
        }
    }
}
