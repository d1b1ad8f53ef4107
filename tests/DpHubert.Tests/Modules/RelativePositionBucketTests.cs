using System.Linq;
using DpHubert.Modules;
using FluentAssertions;
using Xunit;
using static TorchSharp.torch;

namespace DpHubert.Tests.Modules;

/// <summary>WavLM's bucket function against values computed with the original's formula (320 buckets, max distance 800).</summary>
public class RelativePositionBucketTests
{
    private static long Bucket(long d)
    {
        using var rel = tensor(new[] { d });
        using var b = WavLMSelfAttention.RelativePositionBucket(rel, 320, 800);
        return b.item<long>();
    }

    [Fact]
    public void Exact_region_and_sides()
    {
        Bucket(0).Should().Be(0);
        foreach (var k in new[] { 1L, 40, 79 })
        {
            Bucket(-k).Should().Be(k);
            Bucket(k).Should().Be(160 + k);
        }
    }

    [Theory]
    [InlineData(80, 80)]
    [InlineData(83, 81)]
    [InlineData(143, 100)]
    [InlineData(253, 120)]
    [InlineData(450, 140)]
    [InlineData(505, 144)]
    [InlineData(778, 159)]
    public void First_offset_of_each_log_bucket(long firstDistance, long bucket)
    {
        Bucket(-firstDistance).Should().Be(bucket);
        Bucket(-(firstDistance - 1)).Should().BeLessThan(bucket);
        Bucket(firstDistance).Should().Be(160 + bucket);
    }

    [Fact]
    public void Known_buckets_far_and_near()
    {
        Bucket(-500).Should().Be(143);
        Bucket(500).Should().Be(303);
        Bucket(-900).Should().Be(159);
        Bucket(900).Should().Be(319);
        Bucket(20000).Should().Be(319);
    }
}
