using System;
using TorchSharp;
using static TorchSharp.torch;

namespace DpHubert.Modules;

/// <summary>
/// The feature extractor's convolutions as matrix products over channels-last input ([batch, frames, channels]),
/// never libtorch's <c>conv1d</c> (whose oneDNN kernels are wrong on some CPUs for channel counts that are not a
/// multiple of 16, where <c>mm</c> of any size is right).
/// </summary>
/// <remarks>
/// Output frame t of a kernel-k stride-s convolution reads input rows t·s … t·s + k − 1. The taps are taken s at a
/// time: taps b·s … b·s + m − 1 of every output frame are m consecutive rows, so they form one strided view
/// [frames_out, m·C_in] whose row stride s·C_in is at least its width (BLAS reads it in place, no im2col copy), and
/// one GEMM with the matching weight rows. Kernel 2 stride 2 is one GEMM; kernel 3 stride 2 is two, accumulated into
/// the output (the bias is the initial value). A narrow input (one channel, kernel 10 stride 5) is copied into its
/// small window matrix and multiplied once.
/// </remarks>
internal static class GemmConvolution
{
    /// <summary>Inputs whose window (C_in·k values) is at most this wide are copied into a window matrix first:
    /// one GEMM over a contiguous [frames, C_in·k] beats several over very narrow views.</summary>
    private const long NarrowWindow = 64;

    /// <summary>Frames out of a kernel-k stride-s convolution of <paramref name="frames"/> frames.</summary>
    public static long OutFrames(long frames, long kernel, long stride) => frames < kernel ? 0 : (frames - kernel) / stride + 1;

    /// <summary>The convolution of a channels-last batch.</summary>
    /// <param name="x">[batch, frames, C_in].</param>
    /// <param name="weight">[C_out, C_in, k], any dtype the GEMM supports (the input's).</param>
    /// <param name="bias">[C_out], or null.</param>
    /// <param name="stride">s.</param>
    /// <returns>[batch, (frames − k) / s + 1, C_out], contiguous.</returns>
    /// <exception cref="ArgumentException">The input is shorter than the kernel or its channels do not match.</exception>
    public static Tensor Conv(Tensor x, Tensor weight, Tensor? bias, int stride)
    {
        long batch = x.shape[0], frames = x.shape[1], cin = x.shape[2];
        long cout = weight.shape[0], k = weight.shape[2];
        if (weight.shape[1] != cin)
            throw new ArgumentException($"Expected {weight.shape[1]} input channels; got {Shapes.Format(x)} (batch, frames, channels).", nameof(x));
        long outFrames = OutFrames(frames, k, stride);
        if (outFrames == 0)
            throw new ArgumentException($"Input of {frames} frames is shorter than the kernel ({k}).", nameof(x));
        // Weight rows in tap-major order: row j·C_in + c holds w[:, c, j], so taps j..j+m-1 are one contiguous block.
        using var taps = weight.permute(2, 1, 0).contiguous();
        using var rows = taps.view(k * cin, cout);
        using var xc = x.is_contiguous() ? x.alias() : x.contiguous();
        if (batch == 1)
        {
            using var row = xc[0];
            using var y = ConvRow(row, rows, bias, k, stride, outFrames);
            return y.unsqueeze(0);
        }
        var outs = new Tensor[batch];
        try
        {
            for (long b = 0; b < batch; b++)
            {
                using var row = xc[b];
                outs[b] = ConvRow(row, rows, bias, k, stride, outFrames);
            }
            return stack(outs);
        }
        finally
        {
            foreach (var o in outs) o?.Dispose();
        }
    }

    // One row: x [frames, C_in] contiguous, rows [k·C_in, C_out] tap-major.
    private static Tensor ConvRow(Tensor x, Tensor rows, Tensor? bias, long k, long stride, long outFrames)
    {
        long cin = x.shape[1], offset = x.storage_offset();
        if (cin * k <= NarrowWindow || k <= stride)
        {
            // Every tap in one GEMM: a view when the windows do not overlap (k ≤ s), else a small window copy.
            using var view = x.as_strided(new[] { outFrames, k * cin }, new[] { stride * cin, 1L }, offset);
            using var windows = k <= stride ? view.alias() : view.contiguous();
            return bias is null ? windows.mm(rows) : addmm(bias, windows, rows, 1, 1);
        }
        Tensor? y = null;
        try
        {
            for (long first = 0; first < k; first += stride)
            {
                long m = Math.Min(stride, k - first);
                using var view = x.as_strided(new[] { outFrames, m * cin }, new[] { stride * cin, 1L }, offset + first * cin);
                using var block = rows.narrow(0, first * cin, m * cin);
                if (y is null) y = bias is null ? view.mm(block) : addmm(bias, view, block, 1, 1);
                else y.addmm_(view, block, 1, 1);
            }
            return y!;
        }
        catch
        {
            y?.Dispose();
            throw;
        }
    }

    /// <summary><c>GroupNorm(C, C)</c> of a channels-last batch: every (row, channel) normalized over frames, the
    /// statistics in float32 at least.</summary>
    /// <param name="x">[batch, frames, C].</param>
    /// <param name="weight">γ [C].</param>
    /// <param name="bias">β [C].</param>
    /// <param name="eps">Variance epsilon.</param>
    public static Tensor GroupNormOverFrames(Tensor x, Tensor weight, Tensor bias, double eps)
    {
        using var scope = NewDisposeScope();
        var wide = x.dtype == ScalarType.Float64 ? x : x.to(ScalarType.Float32);
        var (variance, mean) = wide.var_mean(1, unbiased: false, keepdim: true);
        var scale = variance.Plus(eps).rsqrt().mul(weight.to(variance.dtype));
        var shift = bias.to(variance.dtype).Minus(mean.mul(scale));
        var y = wide.mul(scale).PlusInPlace(shift);
        if (y.dtype != x.dtype) y = y.to(x.dtype);
        return y.MoveToOuterDisposeScope();
    }
}
