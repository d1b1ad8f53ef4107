using System.Linq;

namespace DpHubert;

/// <summary>
/// Replacements for the TorchSharp 0.107 entry points whose native side lets a libtorch error escape as a C++ exception
/// (the process aborts with "terminate called after throwing an instance of 'c10::Error'", exit 134) instead of raising
/// <see cref="System.Runtime.InteropServices.ExternalException"/>: <c>Tensor.matmul</c> is one, so an allocation failure
/// in attention would end the whole process rather than fail one input.
/// </summary>
internal static class CatchingOps
{
    /// <summary><c>a.matmul(b)</c> for [..., n, m] × [..., m, p] with equal leading dimensions, computed as
    /// <c>bmm</c> over the flattened batch, which is what matmul itself does (bit-identical results).</summary>
    public static Tensor MatMul(Tensor a, Tensor b)
    {
        long n = a.shape[^2], m = a.shape[^1], p = b.shape[^1];
        long[] lead = a.shape[..^2];
        using var a3 = a.reshape(-1, n, m);
        using var b3 = b.reshape(-1, b.shape[^2], p);
        using var c3 = a3.bmm(b3);
        return c3.reshape(lead.Append(n).Append(p).ToArray());
    }
}
