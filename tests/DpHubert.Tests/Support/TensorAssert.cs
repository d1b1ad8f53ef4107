using System;
using System.Linq;
using FluentAssertions;
using TorchSharp;
using static TorchSharp.torch;

namespace DpHubert.Tests.Support;

/// <summary>Closeness checks that say how far off and where.</summary>
internal static class TensorAssert
{
    /// <summary>Asserts same shape and max |actual - expected| &lt;= atol.</summary>
    public static double Close(Tensor actual, Tensor expected, double atol, string because)
    {
        actual.shape.Should().Equal(expected.shape, $"shapes must match ({because})");
        using var a = actual.detach().cpu().to(float64);
        using var e = expected.detach().cpu().to(float64);
        using var diff = (a - e).abs();
        if (diff.numel() == 0) return 0;
        double max = diff.max().item<double>();
        long at = diff.argmax().item<long>();
        var index = Unravel(at, actual.shape);
        max.Should().BeLessThanOrEqualTo(atol,
            $"{because}: max abs diff {max:E3} at [{string.Join(", ", index)}] (actual {a.flatten()[at].item<double>():G6}, expected {e.flatten()[at].item<double>():G6})");
        return max;
    }

    private static long[] Unravel(long flat, long[] shape)
    {
        var idx = new long[shape.Length];
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            idx[i] = flat % Math.Max(1, shape[i]);
            flat /= Math.Max(1, shape[i]);
        }
        return idx;
    }
}
