using System;
using System.IO;
using DpHubert.Modules;
using TorchSharp;
using static TorchSharp.torch;

namespace DpHubert.Audio;

/// <summary>
/// Turns decoded audio into what the speech encoders take: mono, 16 kHz, float32.
/// </summary>
/// <remarks>
/// Channels are mixed by their mean <b>before</b> resampling (as so-vits-svc does); resampling
/// reproduces <c>torchaudio.functional.resample(waveform, orig_freq, new_freq)</c> with its defaults
/// (Hann-windowed sinc, lowpass_filter_width 6, rolloff 0.99), checked against torchaudio 0.13.1.
/// torchaudio builds one kernel row per output phase, (16000 / gcd) rows of about (rate / gcd) taps; where that
/// table would exceed <see cref="MaxExactKernelElements"/> values (rates that share little with the target, such as
/// 44,101 Hz) the same filter is evaluated directly at each output position instead, so memory stays the input and
/// output whatever the rates. Rates from <see cref="MinSampleRate"/> to <see cref="MaxSampleRate"/> are accepted.
/// </remarks>
public static class AudioPreprocessor
{
    /// <summary>The sample rate HuBERT, wav2vec 2.0, WavLM and DPHuBERT models expect.</summary>
    public const int TargetSampleRate = 16000;

    /// <summary>The lowest sample rate accepted (Hz): below it no recording carries speech.</summary>
    public const int MinSampleRate = 1_000;

    /// <summary>The highest sample rate accepted (Hz): above the 768 kHz of the fastest audio converters and the
    /// 500 kHz–1 MHz of ultrasonic recorders, a rate is a corrupt header rather than a recording.</summary>
    public const int MaxSampleRate = 1_000_000;

    /// <summary>The largest torchaudio kernel table (phases × taps) built; beyond it the filter is evaluated directly.
    /// 2^20 values (4 MiB in float32) holds every common rate: 11,025 Hz needs 291,200, 44,100 Hz 76,000.</summary>
    internal const long MaxExactKernelElements = 1 << 20;

    private const int LowpassFilterWidth = 6;
    private const double Rolloff = 0.99;

    /// <summary>Mixes the channels of a clip into one by their mean (float32 sum over channels, then divided by the count, like <c>wav.mean(dim=0)</c> in PyTorch).</summary>
    /// <param name="clip">The audio, interleaved.</param>
    /// <returns>A new array with one sample per frame; a copy of the samples for mono audio.</returns>
    public static float[] ToMono(AudioClip clip)
    {
        ArgumentNullException.ThrowIfNull(clip);
        int channels = clip.Channels;
        if (channels <= 0)
        {
            throw new ArgumentException($"clip has {channels} channels", nameof(clip));
        }
        var src = clip.Samples;
        if (channels == 1)
        {
            return (float[])src.Clone();
        }
        var mono = new float[src.Length / channels];
        for (int f = 0, i = 0; f < mono.Length; f++)
        {
            float sum = 0f;
            for (int c = 0; c < channels; c++)
            {
                sum += src[i++];
            }
            mono[f] = sum / channels;
        }
        return mono;
    }

    /// <summary>
    /// Resamples a mono waveform like <c>torchaudio.functional.resample(waveform, fromRate, toRate)</c>.
    /// Runs on the CPU with TorchSharp.
    /// </summary>
    /// <param name="samples">The waveform.</param>
    /// <param name="fromRate">Its sample rate in Hz.</param>
    /// <param name="toRate">The wanted sample rate in Hz.</param>
    /// <returns>A new array of <c>ceil(samples.Length × toRate / fromRate)</c> samples; an unchanged copy when the rates are equal.</returns>
    public static float[] Resample(float[] samples, int fromRate, int toRate)
    {
        ArgumentNullException.ThrowIfNull(samples);
        CheckRates(fromRate, toRate);
        if (fromRate == toRate)
        {
            return (float[])samples.Clone();
        }
        if (samples.Length == 0)
        {
            return Array.Empty<float>();
        }
        if (!UsesExactKernel(fromRate, toRate))
        {
            var direct = new float[DirectSincResampler.OutputLength(samples.Length, fromRate, toRate)];
            DirectSincResampler.Resample<float>(samples, direct, fromRate, toRate);
            return direct;
        }
        using var scope = NewDisposeScope();
        var output = Resample(tensor(samples), fromRate, toRate);
        return output.data<float>().ToArray();
    }

    /// <summary>
    /// Resamples the last dimension of a waveform tensor like
    /// <c>torchaudio.functional.resample(waveform, fromRate, toRate)</c>: any leading batch/channel
    /// dimensions, float32 or float64, on any device. The filter kernel is built in the waveform's
    /// dtype on its device, exactly as torchaudio's functional API does; for rate pairs whose kernel table would be
    /// too large the filter is evaluated directly on the CPU in float64 and the result returned in the input's dtype
    /// and device.
    /// </summary>
    /// <param name="waveform">A floating-point tensor of shape (..., time).</param>
    /// <param name="fromRate">Its sample rate in Hz.</param>
    /// <param name="toRate">The wanted sample rate in Hz.</param>
    /// <returns>A new tensor of shape (..., ceil(time × toRate / fromRate)); when the rates are equal, an alias of the input (a new handle sharing its storage, which the caller disposes separately).</returns>
    public static Tensor Resample(Tensor waveform, int fromRate, int toRate)
    {
        ArgumentNullException.ThrowIfNull(waveform);
        CheckRates(fromRate, toRate);
        if (!waveform.is_floating_point())
        {
            throw new ArgumentException($"expected a floating-point waveform, got {waveform.dtype}", nameof(waveform));
        }
        if (waveform.dim() == 0)
        {
            throw new ArgumentException("expected a waveform with a time dimension, got a scalar", nameof(waveform));
        }
        if (fromRate == toRate)
        {
            return waveform.alias();
        }
        if (waveform.shape[^1] == 0)
        {
            return waveform.clone(); // no samples in, none out (reshape(-1, 0) below would fail)
        }

        if (!UsesExactKernel(fromRate, toRate))
        {
            return ResampleDirect(waveform, fromRate, toRate);
        }
        int gcd = Gcd(fromRate, toRate);
        int orig = fromRate / gcd;
        int next = toRate / gcd;

        using var scope = NewDisposeScope();
        var (kernel, width) = CachedKernel(orig, next, waveform.dtype, waveform.device);

        long[] shape = waveform.shape;
        long length = shape[^1];
        var flat = waveform.reshape(-1, length);
        // Zero padding: `width` before for the filter's left half, `width + orig` after so the last stride fits.
        var padded = nn.functional.pad(flat, new long[] { width, width + orig });
        // The convolution as matrix products (libtorch's oneDNN conv1d is wrong on some CPUs for output counts that are
        // not a multiple of 16, such as the 1 phase of 48 -> 16 kHz): each row gives [frames, next], phase-minor.
        using var rows = GemmConvolution.TapRows(kernel);
        var phases = new Tensor[flat.shape[0]];
        for (long r = 0; r < phases.Length; r++)
        {
            using var row = padded[r].unsqueeze(-1);
            phases[r] = GemmConvolution.ConvFrames(row, rows, null, kernel.shape[2], orig, copyNarrowWindows: false);
        }
        var interleaved = stack(phases).reshape(flat.shape[0], -1);
        foreach (var p in phases) p.Dispose();
        // ceil(next * length / orig) in exact integer arithmetic.
        long targetLength = checked((next * length + orig - 1) / orig);
        var resampled = interleaved.narrow(1, 0, targetLength);
        long[] outShape = (long[])shape.Clone();
        outShape[^1] = targetLength;
        return resampled.reshape(outShape).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>Whether torchaudio's gcd kernel table is used for this pair (small enough) rather than the direct evaluation.</summary>
    internal static bool UsesExactKernel(int fromRate, int toRate) => ExactKernelElements(fromRate, toRate) <= MaxExactKernelElements;

    /// <summary>Phases × taps of torchaudio's kernel for the pair: <c>next × (2 × width + orig)</c> of the gcd-reduced rates.</summary>
    internal static long ExactKernelElements(int fromRate, int toRate)
    {
        int gcd = Gcd(fromRate, toRate);
        long orig = fromRate / gcd, next = toRate / gcd;
        long width = (long)Math.Ceiling(LowpassFilterWidth * orig / (Math.Min(orig, next) * Rolloff));
        return next * (2 * width + orig);
    }

    private static Tensor ResampleDirect(Tensor waveform, int fromRate, int toRate)
    {
        using var scope = NewDisposeScope();
        long[] shape = waveform.shape;
        long length = shape[^1];
        long outLength = DirectSincResampler.OutputLength(length, fromRate, toRate);
        using var rows = waveform.reshape(-1, length).to(ScalarType.Float64, CPU).contiguous();
        double[] input = rows.data<double>().ToArray();
        var output = new double[rows.shape[0] * outLength];
        for (long r = 0; r < rows.shape[0]; r++)
        {
            DirectSincResampler.Resample<double>(input.AsSpan((int)(r * length), (int)length),
                output.AsSpan((int)(r * outLength), (int)outLength), fromRate, toRate);
        }
        long[] outShape = (long[])shape.Clone();
        outShape[^1] = outLength;
        return tensor(output, outShape).to(waveform.dtype, waveform.device).MoveToOuterDisposeScope();
    }

    /// <summary>Reads an audio file (any format <see cref="AudioReader"/> reads: WAV, FLAC, MP3, Ogg Vorbis, and more
    /// with ffmpeg), mixes it to mono and resamples it to <see cref="TargetSampleRate"/>.</summary>
    /// <param name="path">The audio file.</param>
    /// <returns>The 16 kHz mono waveform.</returns>
    /// <exception cref="AudioFormatException">The file cannot be decoded, or its sample rate is outside
    /// <see cref="MinSampleRate"/>..<see cref="MaxSampleRate"/>.</exception>
    public static float[] LoadMono16k(string path) => ToMono16k(AudioReader.Read(path), $"audio '{path}'", path);

    /// <summary>Reads audio of any format <see cref="AudioReader"/> reads from a stream, mixes it to mono and resamples
    /// it to <see cref="TargetSampleRate"/>.</summary>
    /// <param name="stream">The audio data; it is left open.</param>
    /// <param name="name">A name for error messages (its extension helps where the content does not say).</param>
    /// <returns>The 16 kHz mono waveform.</returns>
    /// <exception cref="AudioFormatException">The data cannot be decoded, or its sample rate is outside
    /// <see cref="MinSampleRate"/>..<see cref="MaxSampleRate"/>.</exception>
    public static float[] LoadMono16k(Stream stream, string? name = null) =>
        ToMono16k(AudioReader.Read(stream, name), name is null ? "audio stream" : $"audio '{name}'", name);

    /// <summary>Mixes a clip to mono, then resamples it to <see cref="TargetSampleRate"/>.</summary>
    /// <param name="clip">The audio.</param>
    /// <returns>The 16 kHz mono waveform.</returns>
    /// <exception cref="AudioFormatException">The clip's sample rate is outside <see cref="MinSampleRate"/>..<see cref="MaxSampleRate"/>.</exception>
    public static float[] ToMono16k(AudioClip clip) => ToMono16k(clip, "audio clip", null);

    private static float[] ToMono16k(AudioClip clip, string display, string? path)
    {
        ArgumentNullException.ThrowIfNull(clip);
        if (!IsSupportedRate(clip.SampleRate))
        {
            throw new AudioFormatException(
                $"Cannot use {display}: its sample rate {clip.SampleRate} Hz is outside the supported {MinSampleRate}..{MaxSampleRate} Hz " +
                "(a corrupt or hand-edited header?)", path);
        }
        var mono16k = Resample(ToMono(clip), clip.SampleRate, TargetSampleRate);
        int bad = IndexOfNonFinite(mono16k);
        if (bad >= 0)
        {
            // Only finite values reach here, so this is float32 overflow of huge values while mixing or filtering.
            throw new AudioFormatException(
                $"Cannot use {display}: its samples overflow float32 when mixed to mono and resampled (16 kHz sample {bad} is " +
                $"{mono16k[bad]}); audio samples should lie in [-1, 1]", path);
        }
        return mono16k;
    }

    /// <summary>The index of the first NaN or ±Infinity, or -1.</summary>
    internal static int IndexOfNonFinite(ReadOnlySpan<float> samples)
    {
        for (int i = 0; i < samples.Length; i++)
        {
            if (!float.IsFinite(samples[i]))
            {
                return i;
            }
        }
        return -1;
    }

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first NaN or ±Infinity of <paramref name="samples"/>
    /// (they would turn every output feature into NaN).</summary>
    /// <param name="samples">Audio samples.</param>
    /// <param name="paramName">The argument's name for the message.</param>
    internal static void ThrowIfNotFinite(ReadOnlySpan<float> samples, string paramName)
    {
        int bad = IndexOfNonFinite(samples);
        if (bad >= 0)
        {
            string value = float.IsNaN(samples[bad]) ? "NaN" : samples[bad] > 0 ? "+Infinity" : "-Infinity";
            throw new ArgumentException($"{paramName}[{bad}] is {value}; audio samples must be finite numbers", paramName);
        }
    }

    private static bool IsSupportedRate(int rate) => rate is >= MinSampleRate and <= MaxSampleRate;

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<(int, int, ScalarType, string), (Tensor Kernel, int Width)> Kernels = new();

    /// <summary>
    /// The kernel for a rate pair, computed once per process and shared read-only (a corpus has few rates): besides the
    /// time, this keeps the many small libtorch calls that build it, each a chance for TorchSharp's scalar race, off
    /// the per-clip path. Callers get a fresh handle to the same storage, which they may dispose.
    /// </summary>
    internal static (Tensor Kernel, int Width) CachedKernel(int orig, int next, ScalarType dtype, Device device)
    {
        var key = (orig, next, dtype, device.ToString());
        if (!Kernels.TryGetValue(key, out var entry))
        {
            var (kernel, width) = SincResampleKernel(orig, next, dtype, device);
            kernel.DetachFromDisposeScope();
            entry = Kernels.GetOrAdd(key, (kernel, width));
            if (!ReferenceEquals(entry.Kernel, kernel)) kernel.Dispose();
        }
        return (entry.Kernel.alias(), entry.Width);
    }

    /// <summary>
    /// torchaudio's <c>_get_sinc_resample_kernel</c> for the gcd-reduced rates, op for op, in
    /// <paramref name="dtype"/> (torchaudio.functional.resample passes the waveform's dtype, so a
    /// float32 waveform gets a kernel computed in float32). Shape (next, 1, 2 × width + orig).
    /// </summary>
    internal static (Tensor Kernel, int Width) SincResampleKernel(int orig, int next, ScalarType dtype, Device device)
    {
        double baseFreq = Math.Min(orig, next) * Rolloff;
        int width = (int)Math.Ceiling(LowpassFilterWidth * orig / baseFreq);

        // Every Scalar is a named local disposed at the end: an implicit conversion's temporary Scalar can be finalized
        // by the GC while libtorch still reads it (TorchSharp 0.107 passes the raw handle), which fails a clip at random
        // with "Unknown scalar type" (seen about once per 1,000 clips in the soak benchmark).
        using var scope = NewDisposeScope();
        using Scalar lo = -width, hi = width + orig, origS = orig, zeroS = 0, negNext = -next, minusOne = -1, nextS = next;
        using Scalar baseS = baseFreq, negL = -LowpassFilterWidth, posL = LowpassFilterWidth, two = 2, pi = Math.PI;
        using Scalar scaleS = baseFreq / orig;
        var idx = arange(lo, hi, dtype: dtype, device: device).unsqueeze(0).unsqueeze(0).div(origS);
        var t = arange(zeroS, negNext, minusOne, dtype: dtype, device: device).unsqueeze(1).unsqueeze(2).div(nextS).Plus(idx);
        t.mul_(baseS);
        t.clamp_(negL, posL);
        var window = t.mul(pi).div(posL).div(two).cos().pow(two);
        t.mul_(pi);
        var one = ones(1, dtype: dtype, device: device).squeeze();
        var kernels = where(t.eq(zeroS), one, t.sin() / t);
        kernels.mul_(window.mul(scaleS));
        return (kernels.MoveToOuterDisposeScope(), width);
    }

    private static void CheckRates(int fromRate, int toRate)
    {
        if (!IsSupportedRate(fromRate))
        {
            throw new ArgumentOutOfRangeException(nameof(fromRate), fromRate, $"sample rate {fromRate} Hz is outside the supported {MinSampleRate}..{MaxSampleRate} Hz");
        }
        if (!IsSupportedRate(toRate))
        {
            throw new ArgumentOutOfRangeException(nameof(toRate), toRate, $"sample rate {toRate} Hz is outside the supported {MinSampleRate}..{MaxSampleRate} Hz");
        }
    }

    internal static int Gcd(int a, int b)
    {
        while (b != 0)
        {
            (a, b) = (b, a % b);
        }
        return a;
    }
}
