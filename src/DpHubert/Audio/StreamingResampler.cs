using System;
using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace DpHubert.Audio;

/// <summary>
/// Resamples a mono signal to 16 kHz as it arrives, block by block, giving exactly the samples
/// <see cref="AudioPreprocessor.Resample(float[], int, int)"/> gives for the whole signal: each output sample is computed
/// once all the input its filter reads has arrived (or at <see cref="Flush"/>, with the zeros past the end the whole-signal
/// filter sees), so block joins have no edge effects. It holds back about the filter's half width (6 / 0.99 output
/// samples) until more input or the end arrives.
/// </summary>
internal sealed class StreamingResampler
{
    private readonly int fromRate;
    private readonly SampleBuffer input = new();
    private long produced; // output samples written so far

    // torchaudio's gcd kernel as a table: phase p's taps are kernel[p * taps + j], j in [first[p], end[p]) non-zero.
    private readonly float[]? kernel;
    private readonly int[]? first, end;
    private readonly int orig, next, taps, width;
    private readonly DirectSincResampler.Filter direct;

    public StreamingResampler(int fromRate)
    {
        this.fromRate = fromRate;
        if (fromRate == AudioPreprocessor.TargetSampleRate) return;
        if (AudioPreprocessor.UsesExactKernel(fromRate, AudioPreprocessor.TargetSampleRate))
        {
            int gcd = AudioPreprocessor.Gcd(fromRate, AudioPreprocessor.TargetSampleRate);
            orig = fromRate / gcd;
            next = AudioPreprocessor.TargetSampleRate / gcd;
            var (table, w) = AudioPreprocessor.CachedKernel(orig, next, ScalarType.Float32, CPU);
            using (table)
            {
                width = w;
                taps = (int)table.shape[^1];
                using var flat = table.contiguous();
                kernel = MemoryMarshal.Cast<byte, float>(flat.bytes).ToArray();
            }
            first = new int[next];
            end = new int[next];
            for (int p = 0; p < next; p++)
            {
                var row = kernel.AsSpan(p * taps, taps);
                int a = 0, b = taps;
                while (a < b && row[a] == 0) a++;
                while (b > a && row[b - 1] == 0) b--;
                (first[p], end[p]) = (a, b); // the zero taps add exact zeros, so skipping them changes nothing
            }
        }
        else
        {
            direct = new DirectSincResampler.Filter(fromRate, AudioPreprocessor.TargetSampleRate);
        }
    }

    /// <summary>The input rate.</summary>
    public int FromRate => fromRate;

    /// <summary>Takes <paramref name="samples"/> and appends every 16 kHz sample that became computable to
    /// <paramref name="output"/>.</summary>
    public void Push(ReadOnlySpan<float> samples, SampleBuffer output)
    {
        if (fromRate == AudioPreprocessor.TargetSampleRate)
        {
            output.Append(samples);
            return;
        }
        input.Append(samples);
        Produce(output, flushing: false);
    }

    /// <summary>End of input: appends the remaining samples (the whole-signal length is then reached).</summary>
    public void Flush(SampleBuffer output)
    {
        if (fromRate != AudioPreprocessor.TargetSampleRate) Produce(output, flushing: true);
    }

    private void Produce(SampleBuffer output, bool flushing)
    {
        long received = input.End;
        long total = DirectSincResampler.OutputLength(received, fromRate, AudioPreprocessor.TargetSampleRate);
        long o = produced;
        if (kernel is not null)
        {
            while (o < total)
            {
                long f = o / next;
                int p = (int)(o % next);
                long start = f * orig - width; // input index of tap 0
                if (!flushing && start + end![p] > received) break;
                output.AppendOne((float)TableOutput(start, p, received));
                o++;
            }
            produced = o;
            input.DropBefore(produced / next * orig - width);
        }
        else
        {
            while (o < total)
            {
                var (_, last) = direct.Taps(o);
                if (!flushing && last >= received) break;
                output.AppendOne((float)direct.Output(input.Span, input.Start, received, o));
                o++;
            }
            produced = o;
            input.DropBefore(direct.Taps(produced).First);
        }
    }

    private double TableOutput(long start, int phase, long received)
    {
        int a = first![phase], b = end![phase];
        long lo = Math.Max(start + a, 0), hi = Math.Min(start + b, received); // zeros outside the signal
        var x = input.Span;
        var k = kernel.AsSpan(phase * taps);
        double acc = 0;
        for (long i = lo; i < hi; i++) acc += (double)x[(int)(i - input.Start)] * k[(int)(i - start)];
        return acc;
    }
}
