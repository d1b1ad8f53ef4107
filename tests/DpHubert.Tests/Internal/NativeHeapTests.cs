using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using DpHubert.Extraction;
using DpHubert.Tests.Support;
using FluentAssertions;
using Xunit;

namespace DpHubert.Tests.Internal;

public sealed class NativeHeapTests
{
    private const int M_TRIM_THRESHOLD = -1;
    private const int M_MMAP_THRESHOLD = -3;

    [Fact]
    public void Trim_reaches_glibc_on_linux_and_is_a_no_op_elsewhere()
    {
        // A wrong entry point would silently turn the trim off: on Linux (glibc) it must run.
        NativeHeap.Trim().Should().Be(OperatingSystem.IsLinux());
    }

    [Theory]
    [InlineData(null, null, "mmap_threshold", false)]
    [InlineData("", "", "mmap_threshold", false)]
    [InlineData(null, "glibc.malloc.arena_max=2", "mmap_threshold", false)]
    [InlineData("1048576", null, "mmap_threshold", true)]
    [InlineData(null, "glibc.malloc.mmap_threshold=1048576", "mmap_threshold", true)]
    [InlineData(null, "glibc.malloc.arena_max=2:glibc.malloc.mmap_threshold=65536", "mmap_threshold", true)]
    [InlineData(null, "glibc.malloc.mmap_threshold_x=1", "mmap_threshold", false)]
    [InlineData(null, "glibc.malloc.mmap_threshold=65536", "trim_threshold", false)]
    [InlineData(null, "glibc.malloc.trim_threshold=0", "trim_threshold", true)]
    public void The_hosts_own_glibc_setting_is_recognised(string? mallocEnv, string? tunables, string name, bool chosen)
    {
        NativeHeap.HostChose(mallocEnv, tunables, name).Should().Be(chosen);
    }

    public static TheoryData<string?, string?, string?, int[]> HostSettings() => new()
    {
        { null, null, null, new[] { M_MMAP_THRESHOLD, M_TRIM_THRESHOLD } },
        { "4194304", null, null, new[] { M_TRIM_THRESHOLD } },
        { null, "131072", null, new[] { M_MMAP_THRESHOLD } },
        { "4194304", "131072", null, Array.Empty<int>() },
        { null, null, "glibc.malloc.trim_threshold=0:glibc.malloc.mmap_threshold=65536", Array.Empty<int>() },
        { null, null, "glibc.malloc.arena_max=2", new[] { M_MMAP_THRESHOLD, M_TRIM_THRESHOLD } },
    };

    [Theory]
    [MemberData(nameof(HostSettings))]
    public void Each_threshold_the_host_set_is_left_to_the_host(string? mmapEnv, string? trimEnv, string? tunables, int[] expectedParams)
    {
        var env = new Dictionary<string, string?>
        {
            ["MALLOC_MMAP_THRESHOLD_"] = mmapEnv, ["MALLOC_TRIM_THRESHOLD_"] = trimEnv, ["GLIBC_TUNABLES"] = tunables,
        };
        var calls = new List<(int Param, int Value)>();
        bool set = NativeHeap.Apply(name => env.GetValueOrDefault(name), (p, v) => { calls.Add((p, v)); return true; });
        set.Should().Be(expectedParams.Length > 0);
        calls.Select(c => c.Param).Should().Equal(expectedParams);
        foreach (var (param, value) in calls)
            value.Should().Be(param == M_MMAP_THRESHOLD ? NativeHeap.LargeBlockBytes : NativeHeap.KeepTopBytes);
    }

    [Fact]
    public void The_thresholds_are_set_at_most_once_per_process()
    {
        NativeHeap.Configure(); // the first call (here or by any encoder) may set them
        NativeHeap.Configure().Should().BeFalse("they are process-wide and set once");
    }

    [OurMallocThresholdFact]
    public void After_configuring_glibc_serves_tens_of_megabytes_from_its_arenas_and_larger_blocks_from_their_own_mappings()
    {
        NativeHeap.Configure();
        // glibc on its own (threshold sliding up to 32 MB) or pinned low (4 MB) maps a 40 MB block afresh, so the
        // kernel zeroes it page by page at every pass; reused from an arena it costs nothing. A wrong entry point or a
        // value glibc refuses would leave that in place without an error.
        NativeHeap.SetOption(M_MMAP_THRESHOLD, NativeHeap.LargeBlockBytes).Should().BeTrue();
        NativeHeap.SetOption(M_TRIM_THRESHOLD, NativeHeap.KeepTopBytes).Should().BeTrue();
        NativeHeap.IsOwnMapping(40u << 20).Should().BeFalse();
        NativeHeap.IsOwnMapping(2u * NativeHeap.LargeBlockBytes).Should().BeTrue("blocks above the threshold are still unmapped when freed");
    }

    private sealed class FakeHeap
    {
        public long Resident = 1000L << 20;
        public int Trims;
        public bool Running;

        public HeapTrimPolicy Policy(TimeSpan? idleDelay = null) => new(() => Resident, () => { Trims++; Resident = Floor; return true; }, () => !Running, idleDelay);

        public long Floor = 600L << 20; // what a trim leaves resident
    }

    [Fact]
    public void The_first_idle_moment_trims_and_sets_the_level_that_later_growth_is_measured_from()
    {
        var heap = new FakeHeap();
        var policy = heap.Policy();
        policy.PassEnded(100L << 20);
        policy.Idle().Should().BeTrue();
        heap.Trims.Should().Be(1);
        policy.Trims.Should().Be(1);
    }

    [Fact]
    public void Passes_of_a_steady_size_keep_their_freed_memory_for_the_next_pass()
    {
        var heap = new FakeHeap();
        var policy = heap.Policy();
        policy.PassEnded(100L << 20);
        policy.Idle();
        for (int i = 0; i < 100; i++)
        {
            heap.Resident = heap.Floor + (180L << 20); // the pass's freed working memory stays resident: 1.8x its estimate
            policy.PassEnded(100L << 20);
            policy.Idle().Should().BeFalse();
        }
        heap.Trims.Should().Be(1, "only the first idle moment trimmed");
    }

    [Fact]
    public void Resident_free_memory_beyond_the_allowance_is_returned_once_no_pass_runs()
    {
        var heap = new FakeHeap();
        var policy = heap.Policy();
        policy.PassEnded(100L << 20);
        policy.Idle();
        policy.PassEnded(100L << 20);
        heap.Resident = heap.Floor + policy.Allowance + 1; // fragmentation: more resident than passes of this size use
        policy.Idle().Should().BeTrue();
        heap.Trims.Should().Be(2);
        // The allowance follows the largest pass since the last trim, not one seen long ago.
        policy.PassEnded(10L << 20);
        policy.Allowance.Should().Be(HeapTrimPolicy.MinimumSlackBytes);
        policy.PassEnded(300L << 20);
        policy.Allowance.Should().Be((long)(HeapTrimPolicy.SlackPerEstimatedByte * (300L << 20)));
    }

    [Fact]
    public void An_idle_process_is_trimmed_when_the_idle_timer_fires_but_not_after_a_pass_since_or_during_one()
    {
        var heap = new FakeHeap();
        var policy = heap.Policy();
        policy.PassEnded(100L << 20);
        policy.Idle(); // first: trims
        heap.Resident = heap.Floor + (50L << 20);
        policy.PassEnded(100L << 20);
        policy.Idle().Should().BeFalse();
        policy.PassEnded(100L << 20); // a later pass ended after the timer was armed: not idle since
        policy.IdleTimerFired().Should().BeFalse();
        policy.Idle().Should().BeFalse();
        heap.Running = true; // one started since
        policy.IdleTimerFired().Should().BeFalse();
        heap.Running = false;
        policy.IdleTimerFired().Should().BeTrue();
        heap.Trims.Should().Be(2);
        policy.IdleTimerFired().Should().BeFalse("nothing ran since that trim");
    }

    [Fact]
    public void Without_a_resident_reading_only_the_idle_timer_trims()
    {
        int trims = 0;
        var policy = new HeapTrimPolicy(() => null, () => { trims++; return true; }, () => true, idleDelay: null);
        policy.PassEnded(1L << 20);
        policy.Idle().Should().BeFalse();
        policy.IdleTimerFired().Should().BeTrue();
        trims.Should().Be(1);
    }

    [Fact]
    public void The_idle_timer_is_armed_by_the_last_pass_ending()
    {
        var heap = new FakeHeap();
        var policy = heap.Policy(TimeSpan.FromMilliseconds(100));
        policy.PassEnded(100L << 20);
        policy.Idle(); // first: trims
        heap.Resident = heap.Floor + (50L << 20);
        policy.PassEnded(100L << 20);
        policy.Idle().Should().BeFalse();
        // Waits for the timer (not a timing assertion: any delay up to the limit passes).
        SpinWait.SpinUntil(() => Volatile.Read(ref heap.Trims) == 2, TimeSpan.FromSeconds(60)).Should().BeTrue();
    }

}

/// <summary>Runs alone: the process's trim policy counts every encoder's passes.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessHeapCollection
{
    /// <summary>The collection's name.</summary>
    public const string Name = "ProcessHeap";
}

[Collection(ProcessHeapCollection.Name)]
public sealed class NativeHeapEncoderTests
{
    [Fact]
    public void An_encoders_forward_passes_reach_the_trim_policy_once_each()
    {
        using var encoder = SpeechEncoder.Load(TestFiles.DpHubertCase("hubert_post_ln", "checkpoint.pth"));
        long before = NativeHeap.Policy.PassesEnded;
        encoder.Extract(new float[16000]);
        encoder.ExtractBatch(new[] { new float[8000], new float[12000] }, LayerSelection.Final, batchSize: 2);
        NativeHeap.Policy.PassesEnded.Should().Be(before + 2);
    }

    [Fact]
    public void A_streams_passes_reach_the_trim_policy()
    {
        using var encoder = SpeechEncoder.Load(TestFiles.DpHubertCase("hubert_post_ln", "checkpoint.pth"));
        using var stream = encoder.OpenStream();
        long before = NativeHeap.Policy.PassesEnded;
        var speech = new float[32000];
        for (int i = 0; i < speech.Length; i++) speech[i] = MathF.Sin(i * 0.05f) * 0.3f;
        stream.Push(speech, 16000);
        NativeHeap.Policy.PassesEnded.Should().BeGreaterThan(before);
    }
}
