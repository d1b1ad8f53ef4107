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
