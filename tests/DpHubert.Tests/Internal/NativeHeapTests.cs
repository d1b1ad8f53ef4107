using System;
using FluentAssertions;
using DpHubert.Tests.Support;
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

    [Theory]
    [InlineData(null, null, false)]
    [InlineData("", "", false)]
    [InlineData(null, "glibc.malloc.arena_max=2", false)]
    [InlineData("1048576", null, true)]
    [InlineData(null, "glibc.malloc.mmap_threshold=1048576", true)]
    [InlineData(null, "glibc.malloc.arena_max=2:glibc.malloc.mmap_threshold=65536", true)]
    [InlineData(null, "glibc.malloc.mmap_threshold_x=1", false)]
    public void The_hosts_own_glibc_setting_is_left_alone(string? mallocEnv, string? tunables, bool chosen)
    {
        NativeHeap.HostChoseThreshold(mallocEnv, tunables).Should().Be(chosen);
    }

    [Fact]
    public void The_large_block_threshold_is_set_at_most_once_per_process()
    {
        NativeHeap.FixLargeBlockThreshold(); // the first call (here or by any encoder) may set it
        NativeHeap.FixLargeBlockThreshold().Should().BeFalse("it is process-wide and set once");
    }

    [OurMallocThresholdFact]
    public void Glibc_accepts_the_large_block_threshold()
    {
        // A wrong entry point or a parameter glibc refuses would silently leave its sliding
        // threshold in place. What the setting does to resident memory is measured by tools/bench soak: in a test
        // process, earlier tests leave free arena chunks that any block may reuse, so RSS cannot show it here.
        NativeHeap.SetLargeBlockThreshold().Should().BeTrue();
    }
}
