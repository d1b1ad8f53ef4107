using System;
using System.IO;
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
/// </remarks>
public static class AudioPreprocessor
{
    /// <summary>The sample rate HuBERT, wav2vec 2.0, WavLM and DPHuBERT models expect.</summary>
    public const int TargetSampleRate = 16000;

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
        using var scope = NewDisposeScope();
        var output = Resample(tensor(samples), fromRate, toRate);
        return output.data<float>().ToArray();
    }

    /// <summary>
    /// Resamples the last dimension of a waveform tensor like
    /// <c>torchaudio.functional.resample(waveform, fromRate, toRate)</c>: any leading batch/channel
    /// dimensions, float32 or float64, on any device. The filter kernel is built in the waveform's
    /// dtype on its device, exactly as torchaudio's functional API does.
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

        int gcd = Gcd(fromRate, toRate);
        int orig = fromRate / gcd;
        int next = toRate / gcd;

        using var scope = NewDisposeScope();
        var (kernel, width) = SincResampleKernel(orig, next, waveform.dtype, waveform.device);

        long[] shape = waveform.shape;
        long length = shape[^1];
        var flat = waveform.reshape(-1, length);
        // Zero padding: `width` before for the filter's left half, `width + orig` after so the last stride fits.
        var padded = nn.functional.pad(flat, new long[] { width, width + orig });
        var frames = nn.functional.conv1d(padded.unsqueeze(1), kernel, stride: orig); // (n, next, frames)
        var interleaved = frames.transpose(1, 2).reshape(flat.shape[0], -1);
        // ceil(next * length / orig) in exact integer arithmetic.
        long targetLength = checked((next * length + orig - 1) / orig);
        var resampled = interleaved.narrow(1, 0, targetLength);
        long[] outShape = (long[])shape.Clone();
        outShape[^1] = targetLength;
        return resampled.reshape(outShape).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>Reads a WAV file, mixes it to mono and resamples it to <see cref="TargetSampleRate"/>.</summary>
    /// <param name="path">The WAV file.</param>
    /// <returns>The 16 kHz mono waveform.</returns>
    /// <exception cref="AudioFormatException">The file cannot be decoded.</exception>
    public static float[] LoadMono16k(string path) => ToMono16k(WavReader.Read(path));

    /// <summary>Reads WAV data from a stream, mixes it to mono and resamples it to <see cref="TargetSampleRate"/>.</summary>
    /// <param name="stream">The WAV data; it is left open.</param>
    /// <param name="name">A name for error messages.</param>
    /// <returns>The 16 kHz mono waveform.</returns>
    /// <exception cref="AudioFormatException">The data cannot be decoded.</exception>
    public static float[] LoadMono16k(Stream stream, string? name = null) => ToMono16k(WavReader.Read(stream, name));

    /// <summary>Mixes a clip to mono, then resamples it to <see cref="TargetSampleRate"/>.</summary>
    /// <param name="clip">The audio.</param>
    /// <returns>The 16 kHz mono waveform.</returns>
    public static float[] ToMono16k(AudioClip clip) => Resample(ToMono(clip), clip.SampleRate, TargetSampleRate);

    /// <summary>
    /// torchaudio's <c>_get_sinc_resample_kernel</c> for the gcd-reduced rates, op for op, in
    /// <paramref name="dtype"/> (torchaudio.functional.resample passes the waveform's dtype, so a
    /// float32 waveform gets a kernel computed in float32). Shape (next, 1, 2 × width + orig).
    /// </summary>
    internal static (Tensor Kernel, int Width) SincResampleKernel(int orig, int next, ScalarType dtype, Device device)
    {
        double baseFreq = Math.Min(orig, next) * Rolloff;
        int width = (int)Math.Ceiling(LowpassFilterWidth * orig / baseFreq);

        using var scope = NewDisposeScope();
        var idx = arange(-width, width + orig, dtype: dtype, device: device).unsqueeze(0).unsqueeze(0) / orig;
        var t = arange(0, -next, -1, dtype: dtype, device: device).unsqueeze(1).unsqueeze(2) / next + idx;
        t.mul_(baseFreq);
        t.clamp_(-LowpassFilterWidth, LowpassFilterWidth);
        var window = (t * Math.PI / LowpassFilterWidth / 2).cos().pow(2);
        t.mul_(Math.PI);
        double scale = baseFreq / orig;
        var one = tensor(1.0, dtype: dtype, device: device);
        var kernels = where(t.eq(0), one, t.sin() / t);
        kernels.mul_(window * scale);
        return (kernels.MoveToOuterDisposeScope(), width);
    }

    private static void CheckRates(int fromRate, int toRate)
    {
        if (fromRate <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(fromRate), fromRate, "sample rates must be positive");
        }
        if (toRate <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(toRate), toRate, "sample rates must be positive");
        }
    }

    private static int Gcd(int a, int b)
    {
        while (b != 0)
        {
            (a, b) = (b, a % b);
        }
        return a;
    }
}
