using System;
using FluentAssertions;
using DpHubert.Tests.Support;
using TorchSharp;
using Xunit;

namespace DpHubert.Tests.Internal;

[Collection(ProcessMemoryCollection.Name)]
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
    public void A_large_block_goes_back_to_the_system_when_freed_even_after_a_larger_one_was()
    {
        NativeHeap.FixLargeBlockThreshold();
        // glibc's sliding threshold would rise to 24 MB when the first block is freed, putting the 16 MB block in an
        // arena that keeps it resident after the free; with the fixed threshold it is unmapped.
        using (var first = torch.ones(6L << 20)) { }
        long before = Rss();
        var second = torch.ones(4L << 20);
        long touched = Rss();
        second.Dispose();
        long after = Rss();
        (touched - before).Should().BeGreaterThan(12L << 20, "the 16 MB block was written");
        (touched - after).Should().BeGreaterThan(12L << 20, "freeing it returns its pages");
    }

    private static long Rss()
    {
        foreach (var line in System.IO.File.ReadLines("/proc/self/statm"))
            return long.Parse(line.Split(' ')[1]) * Environment.SystemPageSize;
        return 0;
    }
}
