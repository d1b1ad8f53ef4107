using System;
using FluentAssertions;
using Xunit;
using static TorchSharp.torch;

namespace DpHubert.Tests.Support;

public class TensorAssertTests
{
    [Fact]
    public void Relative_tolerance_scales_with_the_expected_value()
    {
        using var expected = tensor(new[] { 1000f, 1f, 0f });
        using var actual = tensor(new[] { 1000.5f, 1.0004f, 0.0001f });
        // 0.5 <= 1e-3 + 1e-3 * 1000; 4e-4 <= 1e-3 + 1e-3; 1e-4 <= 1e-3.
        TensorAssert.Close(actual, expected, rtol: 1e-3, atol: 1e-3, "within both").Should().BeApproximately(0.5, 1e-4);
        var tooFar = () => TensorAssert.Close(actual, expected, rtol: 0, atol: 1e-3, "absolute only");
        tooFar.Should().Throw<Exception>().WithMessage("*[0]*");
        using var off = tensor(new[] { 1000f, 1f, 0.01f });
        var zeroExpected = () => TensorAssert.Close(off, expected, rtol: 1, atol: 1e-3, "rtol cannot help at zero");
        zeroExpected.Should().Throw<Exception>().WithMessage("*[2]*");
    }

    [Fact]
    public void Shapes_must_match()
    {
        using var a = zeros(2, 3);
        using var b = zeros(3, 2);
        var act = () => TensorAssert.Close(a, b, 1e-5, 1e-5, "shape");
        act.Should().Throw<Exception>();
    }
}
