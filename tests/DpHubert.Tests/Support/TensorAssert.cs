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
    public static double Close(Tensor actual, Tensor expected, double atol, string because) =>
        Close(actual, expected, rtol: 0, atol, because);

    /// <summary>
    /// Asserts same shape and, elementwise, |actual - expected| &lt;= atol + rtol * |expected| (numpy's allclose rule);
    /// returns the max abs difference. The failure names the worst element relative to its own bound.
    /// </summary>
    public static double Close(Tensor actual, Tensor expected, double rtol, double atol, string because)
    {
        actual.shape.Should().Equal(expected.shape, $"shapes must match ({because})");
        if (rtol < 0 || atol < 0) throw new System.ArgumentException($"tolerances must be >= 0 (rtol {rtol}, atol {atol})");
        using var a = actual.detach().cpu().to(float64);
        using var e = expected.detach().cpu().to(float64);
        using var diff = (a - e).abs();
        if (diff.numel() == 0) return 0;
        double max = diff.max().item<double>();
        using var bound = e.abs() * rtol + atol;
        using var excess = diff - bound;
        long at = excess.argmax().item<long>();
        double worst = excess.flatten()[at].item<double>();
        var index = Unravel(at, actual.shape);
        worst.Should().BeLessThanOrEqualTo(0,
            $"{because}: |diff| {diff.flatten()[at].item<double>():E3} at [{string.Join(", ", index)}] exceeds atol {atol:E1} + rtol {rtol:E1} * |expected| " +
            $"(actual {a.flatten()[at].item<double>():G6}, expected {e.flatten()[at].item<double>():G6}; max abs diff {max:E3})");
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
