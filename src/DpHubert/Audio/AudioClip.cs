using System;

namespace DpHubert.Audio;

/// <summary>
/// Decoded audio: 32-bit float samples, nominally in [-1, 1], with their sample rate and channel count.
/// </summary>
/// <param name="Samples">
/// The samples, <b>interleaved</b> frame by frame exactly as a WAV file stores them:
/// <c>[f0c0, f0c1, ..., f0cN-1, f1c0, ...]</c>. For mono audio this is simply the waveform.
/// Its length is <see cref="Frames"/> × <paramref name="Channels"/>.
/// </param>
/// <param name="SampleRate">Frames per second (Hz), positive.</param>
/// <param name="Channels">Channels per frame, positive.</param>
public sealed record AudioClip(float[] Samples, int SampleRate, int Channels)
{
    /// <summary>The number of frames (samples per channel).</summary>
    public int Frames => Channels > 0 ? Samples.Length / Channels : 0;

    /// <summary>The duration in seconds.</summary>
    public double DurationSeconds => SampleRate > 0 ? (double)Frames / SampleRate : 0;

    /// <summary>Copies one channel out of the interleaved <see cref="Samples"/>.</summary>
    /// <param name="channel">Zero-based channel index, below <see cref="Channels"/>.</param>
    /// <returns>A new array of <see cref="Frames"/> samples.</returns>
    public float[] GetChannel(int channel)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(channel);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(channel, Channels);
        var result = new float[Frames];
        for (int i = 0, j = channel; i < result.Length; i++, j += Channels)
        {
            result[i] = Samples[j];
        }
        return result;
    }
}
