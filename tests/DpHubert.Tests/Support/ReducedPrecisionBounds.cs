using System.Linq;
using FluentAssertions;
using Xunit.Abstractions;

namespace DpHubert.Tests.Support;

/// <summary>
/// How close a reduced-precision run must stay to float32, as scale-free measures that hold on every CPU we have seen
/// (AMD EPYC without bf16 units, AVX-512 BF16, Intel AMX: each rounds differently). bfloat16 keeps 8 mantissa bits, so a
/// few layers of a small random model drift by a few percent of the features' RMS; float16 keeps 11.
/// </summary>
internal static class ReducedPrecisionBounds
{
    public static void Check(string dtype, float[] actual, float[] expected, int dim, ITestOutputHelper output)
    {
        double meanCos = FeatureSimilarity.MeanFrameCosine(actual, expected, dim);
        double minCos = FeatureSimilarity.FrameCosines(actual, expected, dim).Min();
        double relRms = FeatureSimilarity.RelativeRmsError(actual, expected);
        output.WriteLine($"{dtype}: mean frame cosine {meanCos:F6}, min {minCos:F6}, RMS error / RMS {relRms:E2}");
        bool bf16 = dtype == "bfloat16";
        meanCos.Should().BeGreaterThanOrEqualTo(bf16 ? 0.99 : 0.999, $"{dtype} mean per-frame cosine to float32");
        minCos.Should().BeGreaterThanOrEqualTo(bf16 ? 0.95 : 0.99, $"{dtype} worst frame's cosine to float32");
        relRms.Should().BeLessThanOrEqualTo(bf16 ? 0.15 : 0.05, $"{dtype} RMS error relative to float32's RMS");
    }
}
