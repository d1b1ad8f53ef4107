using TorchSharp;
using static TorchSharp.torch;

namespace DpHubert;

/// <summary>
/// Tensor arithmetic with numbers that keeps every <see cref="Scalar"/> alive until libtorch has used it.
/// </summary>
/// <remarks>
/// TorchSharp 0.107 hands a Scalar's raw handle to libtorch and holds no reference to it during the call, and its Scalars
/// are freed by a finalizer, not by dispose scopes. A temporary Scalar (an implicit conversion such as <c>x * 0.5</c>,
/// <c>arange(n)</c>, or the <c>alpha = 1</c> that <c>Tensor + Tensor</c> adds) can therefore be freed by the GC in the
/// middle of the call: libtorch then fails with "Expected false to be true" or "Unknown scalar type". Under GC pressure
/// with three threads sharing a model this failed about one forward pass in 200. Every Scalar here is either rooted for
/// the process (<see cref="One"/>, <see cref="MinusOne"/>) or a <c>using</c> local disposed after the call returns.
/// <c>tests/DpHubert.Tests/Internal/ScalarSafeTests.cs</c> fails when library code makes a temporary Scalar elsewhere.
/// </remarks>
internal static class ScalarSafe
{
    /// <summary>The alpha of every addition and subtraction; static, so never finalized.</summary>
    private static readonly Scalar One = 1;

    /// <summary>The alpha of subtractions: libtorch's own <c>sub</c> is <c>add</c> with alpha negated, so this is exact.</summary>
    private static readonly Scalar MinusOne = -1;

    /// <summary><c>a + b</c>.</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, One);

    /// <summary><c>a += b</c> in place.</summary>
    public static Tensor PlusInPlace(this Tensor a, Tensor b) => a.add_(b, One);

    /// <summary><c>a - b</c>.</summary>
    public static Tensor Minus(this Tensor a, Tensor b) => a.add(b, MinusOne);

    /// <summary><c>a + s</c>.</summary>
    public static Tensor Plus(this Tensor a, double s) { using Scalar k = s; return a.add(k, One); }

    /// <summary><c>a + s</c> (an integer scalar: integer tensors stay integer).</summary>
    public static Tensor Plus(this Tensor a, long s) { using Scalar k = s; return a.add(k, One); }

    /// <summary><c>a - s</c>.</summary>
    public static Tensor Minus(this Tensor a, double s) { using Scalar k = s; return a.add(k, MinusOne); }

    /// <summary><c>a - s</c> (an integer scalar).</summary>
    public static Tensor Minus(this Tensor a, long s) { using Scalar k = s; return a.add(k, MinusOne); }

    /// <summary><c>s - a</c>.</summary>
    public static Tensor SubtractedFrom(this Tensor a, double s) => a.Minus(s).neg_();

    /// <summary><c>a * s</c>.</summary>
    public static Tensor Times(this Tensor a, double s) { using Scalar k = s; return a.mul(k); }

    /// <summary><c>a * s</c> (an integer scalar).</summary>
    public static Tensor Times(this Tensor a, long s) { using Scalar k = s; return a.mul(k); }

    /// <summary><c>a / s</c>.</summary>
    public static Tensor DividedBy(this Tensor a, double s) { using Scalar k = s; return a.div(k); }

    /// <summary><c>a / s</c> (an integer scalar; true division, as <c>Tensor / long</c>).</summary>
    public static Tensor DividedBy(this Tensor a, long s) { using Scalar k = s; return a.div(k); }

    /// <summary><c>floor(a / s)</c>.</summary>
    public static Tensor FloorDividedBy(this Tensor a, long s) { using Scalar k = s; return a.div(k, RoundingMode.floor); }

    /// <summary><c>a ** p</c>.</summary>
    public static Tensor Power(this Tensor a, double p) { using Scalar k = p; return a.pow(k); }

    /// <summary><c>a.masked_fill(mask, value)</c>.</summary>
    public static Tensor MaskedFill(this Tensor a, Tensor mask, double value) { using Scalar k = value; return a.masked_fill(mask, k); }

    /// <summary><c>a.index_fill(dim, index, value)</c>.</summary>
    public static Tensor IndexFill(this Tensor a, long dim, Tensor index, double value) { using Scalar k = value; return a.index_fill(dim, index, k); }

    /// <summary><c>a.clamp(min, max)</c>.</summary>
    public static Tensor Clamp(this Tensor a, double min, double max) { using Scalar lo = min, hi = max; return a.clamp(lo, hi); }

    /// <summary><c>a.clamp_min(min)</c> (an integer scalar).</summary>
    public static Tensor ClampMin(this Tensor a, long min) { using Scalar k = min; return a.clamp_min(k); }

    /// <summary><c>a.clamp_max(max)</c> (an integer scalar).</summary>
    public static Tensor ClampMax(this Tensor a, long max) { using Scalar k = max; return a.clamp_max(k); }

    /// <summary><c>a &gt; s</c>.</summary>
    public static Tensor GreaterThan(this Tensor a, long s) { using Scalar k = s; return a.gt(k); }

    /// <summary><c>a &lt; s</c>.</summary>
    public static Tensor LessThan(this Tensor a, long s) { using Scalar k = s; return a.lt(k); }

    /// <summary><c>torch.arange(n)</c>: 0, 1, ..., n - 1.</summary>
    public static Tensor Arange(long n, ScalarType dtype = ScalarType.Int64, Device? device = null)
    {
        using Scalar start = 0L, stop = n, step = 1L;
        return arange(start, stop, step, dtype, device);
    }
}
