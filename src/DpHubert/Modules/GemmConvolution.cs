using System;
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
/// the output (the bias is the initial value). The products go through <see cref="LinearKernels"/> (BLAS, or oneDNN
/// for float32 where it was chosen; oneDNN copies a strided view first). A narrow input (one channel, kernel 10 stride 5) is copied into its
/// small window matrix and multiplied once; its GroupNorm folds into the weights (<see cref="FoldGroupNorm"/>).
/// </remarks>
internal static class GemmConvolution
{
    /// <summary>Inputs whose window (C_in·k values) is at most this wide are copied into a window matrix first:
    /// one GEMM over a contiguous [frames, C_in·k] beats several over very narrow views.</summary>
    public const long NarrowWindow = 64;

    /// <summary>Frames out of a kernel-k stride-s convolution of <paramref name="frames"/> frames.</summary>
    public static long OutFrames(long frames, long kernel, long stride) => frames < kernel ? 0 : (frames - kernel) / stride + 1;

    /// <summary>The weight as tap-major rows: row j·C_in + c holds <c>w[:, c, j]</c>, so taps j … j + m − 1 are one
    /// contiguous block of rows, matching m consecutive input frames.</summary>
    /// <param name="weight">[C_out, C_in, k].</param>
    /// <returns>[k·C_in, C_out], contiguous.</returns>
    public static Tensor TapRows(Tensor weight)
    {
        using var taps = weight.permute(2, 1, 0);
        using var rows = taps.reshape(weight.size(2) * weight.size(1), weight.size(0));
        return rows.contiguous();
    }

    /// <summary>Every window of a narrow input as one contiguous matrix (the im2col of a one-channel layer).</summary>
    /// <param name="x">[frames, C_in], rows contiguous.</param>
    /// <param name="kernel">k.</param>
    /// <param name="stride">s.</param>
    /// <returns>[(frames − k) / s + 1, k·C_in].</returns>
    public static Tensor Windows(Tensor x, long kernel, long stride)
    {
        long cin = x.size(1), outFrames = CheckedOutFrames(x.size(0), kernel, stride);
        using var view = Rows(x, outFrames, kernel * cin, stride * cin, x.storage_offset());
        return view.contiguous();
    }

    [ThreadStatic] private static long[]? rowsSize, rowsStride;

    /// <summary>The view [<paramref name="rows"/>, <paramref name="width"/>] of <paramref name="x"/>'s storage whose rows
    /// start <paramref name="rowStride"/> elements apart. The size and stride arrays are reused per thread (as_strided
    /// copies them before it returns), so a pass allocates none.</summary>
    private static Tensor Rows(Tensor x, long rows, long width, long rowStride, long offset)
    {
        var size = rowsSize ??= new long[2];
        var stride = rowsStride ??= new long[2];
        (size[0], size[1], stride[0], stride[1]) = (rows, width, rowStride, 1L);
        return x.as_strided(size, stride, offset);
    }

    private static long CheckedOutFrames(long frames, long kernel, long stride)
    {
        long outFrames = OutFrames(frames, kernel, stride);
        return outFrames > 0 ? outFrames
            : throw new ArgumentException($"Input of {frames} frames is shorter than the kernel ({kernel}).", "x");
    }

    /// <summary>The convolution of a channels-last batch.</summary>
    /// <param name="x">[batch, frames, C_in].</param>
    /// <param name="weight">[C_out, C_in, k], any dtype the GEMM supports (the input's).</param>
    /// <param name="bias">[C_out], or null.</param>
    /// <param name="stride">s.</param>
    /// <param name="tapRows">The weight's <see cref="TapRows"/> when the caller keeps them (the caller still owns them),
    /// or null to compute them here.</param>
    /// <returns>[batch, (frames − k) / s + 1, C_out], contiguous.</returns>
    /// <exception cref="ArgumentException">The input is shorter than the kernel or its channels do not match.</exception>
    public static Tensor Conv(Tensor x, Tensor weight, Tensor? bias, int stride, Tensor? tapRows = null)
    {
        long batch = x.size(0), cin = x.size(2), k = weight.size(2);
        if (weight.size(1) != cin)
            throw new ArgumentException($"Expected {weight.size(1)} input channels; got {Shapes.Format(x)} (batch, frames, channels).", nameof(x));
        CheckedOutFrames(x.size(1), k, stride);
        using var rows = tapRows is null ? TapRows(weight) : tapRows.alias();
        using var xc = x.is_contiguous() ? x.alias() : x.contiguous();
        if (batch == 1)
        {
            using var row = xc.select(0, 0);
            using var y = ConvFrames(row, rows, bias, k, stride);
            return y.unsqueeze(0);
        }
        var outs = new Tensor[batch];
        try
        {
            for (long b = 0; b < batch; b++)
            {
                using var row = xc.select(0, b);
                outs[b] = ConvFrames(row, rows, bias, k, stride);
            }
            return stack(outs);
        }
        finally
        {
            foreach (var o in outs) o?.Dispose();
        }
    }

    /// <summary>The convolution of one channels-last row.</summary>
    /// <param name="x">[frames, C_in], rows contiguous.</param>
    /// <param name="rows">The weight's <see cref="TapRows"/>.</param>
    /// <param name="bias">[C_out], or null.</param>
    /// <param name="k">Kernel width.</param>
    /// <param name="stride">Stride.</param>
    /// <param name="copyNarrowWindows">Whether a narrow window (<see cref="NarrowWindow"/>) is copied into a window
    /// matrix; false keeps memory at the output's size where the copy would be many times the input (resampling).</param>
    /// <returns>[(frames − k) / s + 1, C_out].</returns>
    public static Tensor ConvFrames(Tensor x, Tensor rows, Tensor? bias, long k, long stride, bool copyNarrowWindows = true)
    {
        long cin = x.size(1), offset = x.storage_offset(), outFrames = CheckedOutFrames(x.size(0), k, stride);
        if ((copyNarrowWindows && cin * k <= NarrowWindow) || k <= stride)
        {
            // Every tap in one GEMM: a view when the windows do not overlap (k ≤ s), else a small window copy.
            using var view = Rows(x, outFrames, k * cin, stride * cin, offset);
            using var windows = k <= stride ? view.alias() : view.contiguous();
            return LinearKernels.Mm(windows, rows, bias);
        }
        Tensor? y = null;
        try
        {
            for (long first = 0; first < k; first += stride)
            {
                long m = Math.Min(stride, k - first);
                using var view = Rows(x, outFrames, m * cin, stride * cin, offset + first * cin);
                using var block = rows.narrow(0, first * cin, m * cin);
                if (y is null) y = LinearKernels.Mm(view, block, bias);
                else LinearKernels.AddMmInPlace(y, view, block);
            }
            return y!;
        }
        catch
        {
            y?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Folds <c>GroupNorm(C, C)</c> over the frames of a narrow convolution's output into its weights: with window
    /// mean ū and covariance Σ (float64), channel c has mean <c>r_c·ū + b_c</c> and variance <c>r_cᵀ Σ r_c</c>, so
    /// the normalized output is the window matrix times <c>r_c·γ_c/σ_c</c> plus <c>β_c − γ_c/σ_c · r_c·ū</c>. The
    /// output is never materialised to take its statistics, and they are exact rather than float32 sums.
    /// </summary>
    /// <param name="windows">[frames, K] (<see cref="Windows"/>).</param>
    /// <param name="rows">[K, C] (<see cref="TapRows"/>).</param>
    /// <param name="gamma">γ [C].</param>
    /// <param name="beta">β [C].</param>
    /// <param name="eps">Variance epsilon.</param>
    /// <returns>Folded rows [K, C] and bias [C], in the windows' dtype.</returns>
    public static (Tensor Rows, Tensor Bias) FoldGroupNorm(Tensor windows, Tensor rows, Tensor gamma, Tensor beta, double eps)
    {
        // Every intermediate freed as soon as used (no dispose scope: its set of owned tensors is managed garbage per pass).
        using var u = windows.to(ScalarType.Float64);
        using var mean = u.mean(Rows0);
        using var centered = u.Minus(mean);
        using var ct = centered.t();
        using var gram = ct.mm(centered);
        using var cov = gram.DividedBy(u.size(0));
        using var r = rows.to(ScalarType.Float64);
        // Not in place: the fold stays differentiable for training with masks.
        using var covR = cov.mm(r);
        using var products = covR.mul(r);
        using var variance = products.sum(Rows0);
        using var shifted = variance.Plus(eps);
        using var inverse = shifted.rsqrt();
        using var gamma64 = gamma.to(ScalarType.Float64);
        using var scale = inverse.mul(gamma64);
        using var scaled = r.mul(scale);
        var folded = scaled.to(windows.dtype);
        using var meanRow = mean.unsqueeze(0);
        using var meanOutRow = meanRow.mm(r);
        using var meanOut = meanOutRow.squeeze(0);
        using var beta64 = beta.to(ScalarType.Float64);
        using var meanScaled = meanOut.mul(scale);
        using var bias64 = beta64.Minus(meanScaled);
        var bias = bias64.to(windows.dtype);
        return (folded, bias);
    }

    // The frame axis of a [frames, K] matrix, as a reduction's dims (one array, not one per pass).
    private static readonly long[] Rows0 = { 0 };

    /// <summary><c>GroupNorm(C, C)</c> of a channels-last batch: every (row, channel) normalized over frames, the
    /// statistics in float32 at least.</summary>
    /// <param name="x">[batch, frames, C].</param>
    /// <param name="weight">γ [C].</param>
    /// <param name="bias">β [C].</param>
    /// <param name="eps">Variance epsilon.</param>
    public static Tensor GroupNormOverFrames(Tensor x, Tensor weight, Tensor bias, double eps)
    {
        using var wide = x.dtype == ScalarType.Float64 ? x.alias() : x.to(ScalarType.Float32);
        var (variance, mean) = wide.var_mean(1, unbiased: false, keepdim: true);
        using (variance)
        using (mean)
        {
            using var shifted = variance.Plus(eps);
            using var inverse = shifted.rsqrt();
            using var gamma = weight.to(variance.dtype);
            using var scale = inverse.mul(gamma);
            using var beta = bias.to(variance.dtype);
            using var meanScaled = mean.mul(scale);
            using var shift = beta.Minus(meanScaled);
            var y = wide.mul(scale).PlusInPlace(shift);
            return y.dtype == x.dtype ? y : Scopes.Replace(y, y.to(x.dtype), null);
        }
    }
}
