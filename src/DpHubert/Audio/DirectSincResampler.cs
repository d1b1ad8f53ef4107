using System;
using System.Numerics;

namespace DpHubert.Audio;

/// <summary>
/// torchaudio's resampling filter (Hann-windowed sinc, lowpass_filter_width 6, rolloff 0.99) evaluated directly at
/// each output sample's position instead of through a precomputed (16000 / gcd)-phase kernel table: memory is the
/// input and output alone, and the work is about 12 taps per input sample when downsampling (12 × 16000 / rate per
/// output sample when upsampling), whatever the two rates share.
/// </summary>
/// <remarks>
/// Output sample <c>n</c> sits at input position <c>c = n · from / to</c>; input sample <c>i</c> contributes
/// <c>x[i] · K((i − c) · s) · s</c> with <c>s = 0.99 · min(from, to) / from</c> and
/// <c>K(t) = sinc(πt) · cos²(πt / 12)</c> for <c>|t| &lt; 6</c>, which is exactly the value torchaudio's gcd kernel
/// holds for that pair (its phases are these positions for reduced rates). Positions use exact integer arithmetic; sin
/// and cos advance by rotation along the taps of one output sample, accumulated in float64.
/// </remarks>
internal static class DirectSincResampler
{
    private const int LowpassFilterWidth = 6;
    private const double Rolloff = 0.99;

    /// <summary>The length torchaudio gives: <c>ceil(length × to / from)</c>.</summary>
    public static long OutputLength(long length, int fromRate, int toRate) => checked((length * toRate + fromRate - 1) / fromRate);

    /// <summary>Resamples <paramref name="input"/> into <paramref name="output"/>, which must hold
    /// <see cref="OutputLength"/> samples.</summary>
    public static void Resample<T>(ReadOnlySpan<T> input, Span<T> output, int fromRate, int toRate)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        long n = input.Length;
        if (output.Length != OutputLength(n, fromRate, toRate))
            throw new ArgumentException($"output holds {output.Length} samples, expected {OutputLength(n, fromRate, toRate)}", nameof(output));
        var filter = new Filter(fromRate, toRate);
        for (long o = 0; o < output.Length; o++) output[(int)o] = T.CreateTruncating(filter.Output(input, 0, n, o));
    }

    /// <summary>The filter for one rate pair; <see cref="Output{T}"/> computes one output sample from any window of the
    /// input that holds its taps, so a stream gives exactly the whole-input values.</summary>
    internal readonly struct Filter
    {
        private readonly int fromRate, toRate;
        private readonly double s, half, cosStep, sinStep, cosW, sinW;

        public Filter(int fromRate, int toRate)
        {
            this.fromRate = fromRate;
            this.toRate = toRate;
            s = Rolloff * Math.Min(fromRate, toRate) / fromRate;  // kernel argument per input sample
            half = LowpassFilterWidth / s;                         // taps reach this far (input samples) each side
            double step = Math.PI * s, wStep = step / LowpassFilterWidth;
            (cosStep, sinStep, cosW, sinW) = (Math.Cos(step), Math.Sin(step), Math.Cos(wStep), Math.Sin(wStep));
        }

        /// <summary>The first and last input sample output <paramref name="o"/> reads when the input is long enough.</summary>
        public (long First, long Last) Taps(long o)
        {
            long num = o * fromRate;             // exact: o < 2^40 and fromRate < 2^21 for the supported rates
            long q = num / toRate;
            double frac = (double)(num % toRate) / toRate;
            return (Math.Max(0, (long)Math.Floor(q + frac - half) + 1), (long)Math.Ceiling(q + frac + half) - 1);
        }

        /// <summary>Output sample <paramref name="o"/> (before rounding to the output type) of an input of
        /// <paramref name="length"/> samples, of which <paramref name="input"/> holds those from <paramref name="offset"/>.</summary>
        public double Output<T>(ReadOnlySpan<T> input, long offset, long length, long o)
            where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            long num = o * fromRate;
            long q = num / toRate;
            double frac = (double)(num % toRate) / toRate;
            var (lo, last) = Taps(o);
            long hi = Math.Min(length - 1, last);
            double acc = 0;
            if (lo <= hi)
            {
                double t0 = ((lo - q) - frac) * s;
                // sin(πt) and cos(πt / 6) (cos²(πt/12) = (1 + cos(πt/6)) / 2), advanced by rotation per tap.
                double sn = Math.Sin(Math.PI * t0), cs = Math.Cos(Math.PI * t0);
                double wc = Math.Cos(Math.PI * t0 / LowpassFilterWidth), ws = Math.Sin(Math.PI * t0 / LowpassFilterWidth);
                for (long i = lo; i <= hi; i++)
                {
                    double t = ((i - q) - frac) * s;
                    if (Math.Abs(t) < LowpassFilterWidth)
                    {
                        double pt = Math.PI * t;
                        double sinc = Math.Abs(pt) < 1e-9 ? 1.0 : sn / pt;
                        acc += double.CreateTruncating(input[(int)(i - offset)]) * sinc * (0.5 + 0.5 * wc);
                    }
                    (sn, cs) = (sn * cosStep + cs * sinStep, cs * cosStep - sn * sinStep);
                    (wc, ws) = (wc * cosW - ws * sinW, ws * cosW + wc * sinW);
                }
            }
            return acc * s;
        }
    }
}
