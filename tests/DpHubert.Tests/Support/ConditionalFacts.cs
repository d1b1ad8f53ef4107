using System;
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
