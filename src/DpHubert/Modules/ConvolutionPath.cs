namespace DpHubert.Modules;

/// <summary>How a convolution of the feature extractor (and, where it has one, the positional convolution) is
/// computed.</summary>
public enum ConvolutionPath
{
    /// <summary>The default: channels-last matrix multiplications over strided views of the input, no <c>conv1d</c>
    /// (float32 ones on the library <see cref="LinearKernels"/> chose: BLAS's <c>mm</c> / <c>addmm</c>, or oneDNN). Right on every CPU where a matrix product is right, including
    /// those where libtorch's oneDNN convolution returns wrong values for channel counts that are not a multiple
    /// of 16.</summary>
    Gemm,

    /// <summary>libtorch's <c>nn.functional.conv1d</c> (oneDNN on most CPUs), as the original computes it; kept for
    /// comparison and benchmarks.</summary>
    LibTorch,
}
