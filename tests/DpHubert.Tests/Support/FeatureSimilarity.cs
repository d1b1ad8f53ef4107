using System;
using System.Linq;

namespace DpHubert.Tests.Support;

/// <summary>
/// Scale-free closeness of two feature matrices (frames x dim, row-major), for reduced-precision checks: bf16 kernels
/// differ between CPUs (AMX, AVX-512 BF16, none), so a max-abs bound on raw features holds on one CPU and not another,
/// while per-frame cosine and RMS error relative to the reference's RMS stay bounded on all of them.
/// </summary>
internal static class FeatureSimilarity
{
    /// <summary>Cosine similarity of each frame (row) of <paramref name="actual"/> with the same frame of <paramref name="expected"/>.</summary>
    public static double[] FrameCosines(float[] actual, float[] expected, int dim)
    {
        if (actual.Length != expected.Length || dim <= 0 || actual.Length % dim != 0)
            throw new ArgumentException($"lengths {actual.Length} and {expected.Length} are not the same whole number of {dim}-dim frames");
        var cos = new double[actual.Length / dim];
        for (int f = 0; f < cos.Length; f++)
        {
            double dot = 0, na = 0, ne = 0;
            for (int i = f * dim; i < (f + 1) * dim; i++)
            {
                dot += (double)actual[i] * expected[i];
                na += (double)actual[i] * actual[i];
                ne += (double)expected[i] * expected[i];
            }
            // Two all-zero frames are the same frame.
            cos[f] = na == 0 && ne == 0 ? 1 : dot / Math.Sqrt(na * ne);
        }
        return cos;
    }

    /// <summary>Mean per-frame cosine similarity.</summary>
    public static double MeanFrameCosine(float[] actual, float[] expected, int dim) => FrameCosines(actual, expected, dim).Average();

    /// <summary>RMS of (actual - expected) divided by the RMS of expected.</summary>
    public static double RelativeRmsError(float[] actual, float[] expected)
    {
        if (actual.Length != expected.Length) throw new ArgumentException($"lengths {actual.Length} and {expected.Length} differ");
        double err = 0, refe = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            double d = (double)actual[i] - expected[i];
            err += d * d;
            refe += (double)expected[i] * expected[i];
        }
        return refe == 0 ? (err == 0 ? 0 : double.PositiveInfinity) : Math.Sqrt(err / refe);
    }
}
