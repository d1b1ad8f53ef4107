using System;
using FluentAssertions;
using Xunit;

namespace DpHubert.Tests.Internal;

public sealed class NativeHeapTests
{
    [Fact]
    public void Trim_reaches_glibc_on_linux_and_is_a_no_op_elsewhere()
    {
        // A wrong entry point would silently turn the trim off: on Linux (glibc) it must run.
        NativeHeap.Trim().Should().Be(OperatingSystem.IsLinux());
    }
}
