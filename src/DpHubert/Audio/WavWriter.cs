using System;
using System.Buffers.Binary;
using System.IO;

namespace DpHubert.Audio;

/// <summary>
/// Writes canonical 44-byte-header WAV files (PCM 16-bit or IEEE float 32-bit) that
/// <see cref="WavReader"/>, soundfile, torchaudio and sox read back.
/// </summary>
public static class WavWriter
{
    /// <summary>
    /// Writes 16-bit PCM. Each sample becomes round(x × 32768) clamped to [-32768, 32767] (NaN as 0),
    /// so values on the 1/32768 grid read back exactly.
    /// </summary>
    /// <param name="path">The file to write; it is replaced atomically (written to a temporary file in the same folder, then renamed).</param>
    /// <param name="samples">The samples, interleaved when <paramref name="channels"/> is above 1.</param>
    /// <param name="sampleRate">Frames per second.</param>
    /// <param name="channels">Channels per frame.</param>
    public static void WritePcm16(string path, ReadOnlySpan<float> samples, int sampleRate, int channels = 1)
    {
        Validate(samples.Length, sampleRate, channels);
        var bytes = Encode(samples, sampleRate, channels, pcm16: true);
        WriteAtomically(path, bytes);
    }

    /// <summary>Writes 32-bit IEEE float samples unchanged.</summary>
    /// <param name="path">The file to write; it is replaced atomically (written to a temporary file in the same folder, then renamed).</param>
    /// <param name="samples">The samples, interleaved when <paramref name="channels"/> is above 1.</param>
    /// <param name="sampleRate">Frames per second.</param>
    /// <param name="channels">Channels per frame.</param>
    public static void WriteFloat32(string path, ReadOnlySpan<float> samples, int sampleRate, int channels = 1)
    {
        Validate(samples.Length, sampleRate, channels);
        var bytes = Encode(samples, sampleRate, channels, pcm16: false);
        WriteAtomically(path, bytes);
    }

    /// <summary>Writes 16-bit PCM to a stream (see <see cref="WritePcm16(string, ReadOnlySpan{float}, int, int)"/>).</summary>
    /// <param name="stream">The destination; it is left open.</param>
    /// <param name="samples">The samples, interleaved.</param>
    /// <param name="sampleRate">Frames per second.</param>
    /// <param name="channels">Channels per frame.</param>
    public static void WritePcm16(Stream stream, ReadOnlySpan<float> samples, int sampleRate, int channels = 1)
    {
        ArgumentNullException.ThrowIfNull(stream);
        Validate(samples.Length, sampleRate, channels);
        stream.Write(Encode(samples, sampleRate, channels, pcm16: true));
    }

    /// <summary>Writes 32-bit IEEE float to a stream.</summary>
    /// <param name="stream">The destination; it is left open.</param>
    /// <param name="samples">The samples, interleaved.</param>
    /// <param name="sampleRate">Frames per second.</param>
    /// <param name="channels">Channels per frame.</param>
    public static void WriteFloat32(Stream stream, ReadOnlySpan<float> samples, int sampleRate, int channels = 1)
    {
        ArgumentNullException.ThrowIfNull(stream);
        Validate(samples.Length, sampleRate, channels);
        stream.Write(Encode(samples, sampleRate, channels, pcm16: false));
    }

    /// <summary>Writes a clip as 16-bit PCM.</summary>
    /// <param name="path">The file to write, replaced atomically.</param>
    /// <param name="clip">The audio.</param>
    public static void WritePcm16(string path, AudioClip clip)
    {
        ArgumentNullException.ThrowIfNull(clip);
        WritePcm16(path, clip.Samples, clip.SampleRate, clip.Channels);
    }

    /// <summary>Writes a clip as 32-bit float.</summary>
    /// <param name="path">The file to write, replaced atomically.</param>
    /// <param name="clip">The audio.</param>
    public static void WriteFloat32(string path, AudioClip clip)
    {
        ArgumentNullException.ThrowIfNull(clip);
        WriteFloat32(path, clip.Samples, clip.SampleRate, clip.Channels);
    }

    private static void Validate(int count, int sampleRate, int channels)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sampleRate);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(channels, ushort.MaxValue);
        if (count % channels != 0)
        {
            throw new ArgumentException($"{count} samples are not a whole number of {channels}-channel frames", nameof(count));
        }
    }

    private static byte[] Encode(ReadOnlySpan<float> samples, int sampleRate, int channels, bool pcm16)
    {
        int bytesPerSample = pcm16 ? 2 : 4;
        long dataBytes = (long)samples.Length * bytesPerSample;
        if (dataBytes > uint.MaxValue - 36)
        {
            throw new ArgumentException($"{samples.Length} samples exceed the 4 GiB limit of a WAV file", nameof(samples));
        }
        var bytes = new byte[44 + dataBytes];
        var h = bytes.AsSpan();
        "RIFF"u8.CopyTo(h);
        BinaryPrimitives.WriteUInt32LittleEndian(h[4..], (uint)(36 + dataBytes));
        "WAVEfmt "u8.CopyTo(h[8..]);
        BinaryPrimitives.WriteUInt32LittleEndian(h[16..], 16);
        BinaryPrimitives.WriteUInt16LittleEndian(h[20..], (ushort)(pcm16 ? 1 : 3));
        BinaryPrimitives.WriteUInt16LittleEndian(h[22..], (ushort)channels);
        BinaryPrimitives.WriteUInt32LittleEndian(h[24..], (uint)sampleRate);
        BinaryPrimitives.WriteUInt32LittleEndian(h[28..], (uint)((long)sampleRate * channels * bytesPerSample));
        BinaryPrimitives.WriteUInt16LittleEndian(h[32..], (ushort)(channels * bytesPerSample));
        BinaryPrimitives.WriteUInt16LittleEndian(h[34..], (ushort)(bytesPerSample * 8));
        "data"u8.CopyTo(h[36..]);
        BinaryPrimitives.WriteUInt32LittleEndian(h[40..], (uint)dataBytes);
        var data = h[44..];
        for (int i = 0; i < samples.Length; i++)
        {
            if (pcm16)
            {
                float x = samples[i];
                double scaled = float.IsNaN(x) ? 0 : Math.Round(x * 32768.0, MidpointRounding.AwayFromZero);
                short v = (short)Math.Clamp(scaled, short.MinValue, short.MaxValue);
                BinaryPrimitives.WriteInt16LittleEndian(data[(2 * i)..], v);
            }
            else
            {
                BinaryPrimitives.WriteSingleLittleEndian(data[(4 * i)..], samples[i]);
            }
        }
        return bytes;
    }

    private static void WriteAtomically(string path, byte[] bytes)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full) ?? ".";
        // Same folder, so the final rename stays on one file system and is atomic.
        string temp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var fs = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                fs.Write(bytes);
                fs.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }
}
