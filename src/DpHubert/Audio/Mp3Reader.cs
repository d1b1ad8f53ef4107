using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;

namespace DpHubert.Audio;

/// <summary>
/// MPEG-1/2/2.5 Layer I/II/III audio (MP3) through NLayer, trimmed as ffmpeg and LAME's decoder trim it: when the first
/// frame is a Xing/Info frame with a LAME tag (what LAME and ffmpeg write), its encoder delay plus the 529-sample delay
/// of the decoder's filter bank is removed from the start and the encoder's padding from the end, so the output has
/// exactly the samples that were encoded.
/// </summary>
/// <remarks>The frames are found and checked here first (a truncated last frame, or fewer frames than the Xing header
/// counts, is an error), and only whole frames are passed to NLayer, so tags and junk between frames never reach it.</remarks>
internal static class Mp3Reader
{
    /// <summary>Samples the decoder's synthesis filter bank delays its output by (as ffmpeg and LAME count it).</summary>
    internal const int DecoderDelay = 529;

    private static readonly int[,] Bitrates =
    {
        // MPEG-1 layer I, II, III; MPEG-2/2.5 layer I, II/III (kbit/s, index 1..14)
        { 0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448 },
        { 0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384 },
        { 0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320 },
        { 0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256 },
        { 0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160 },
    };

    private static readonly int[] Mpeg1Rates = { 44100, 48000, 32000 };

    /// <summary>One frame header, decoded.</summary>
    internal readonly record struct Frame(int Length, int Samples, int SampleRate, int Channels, int Version, int Layer, bool Crc);

    /// <summary>Parses the 4-byte header at <paramref name="at"/>; null when it is not a valid, supported header.</summary>
    internal static Frame? ParseHeader(ReadOnlySpan<byte> data, int at)
    {
        if (at + 4 > data.Length) return null;
        uint h = BinaryPrimitives.ReadUInt32BigEndian(data[at..]);
        if ((h & 0xFFE00000) != 0xFFE00000) return null;
        int version = (int)(h >> 19) & 3; // 0 = MPEG-2.5, 1 reserved, 2 = MPEG-2, 3 = MPEG-1
        int layerBits = (int)(h >> 17) & 3; // 1 = III, 2 = II, 3 = I
        int bitrateIndex = (int)(h >> 12) & 15;
        int rateIndex = (int)(h >> 10) & 3;
        if (version == 1 || layerBits == 0 || bitrateIndex == 0 || bitrateIndex == 15 || rateIndex == 3) return null;
        int layer = 4 - layerBits;
        bool mpeg1 = version == 3;
        int table = mpeg1 ? layer - 1 : (layer == 1 ? 3 : 4);
        int bitrate = Bitrates[table, bitrateIndex] * 1000;
        int rate = Mpeg1Rates[rateIndex] >> (mpeg1 ? 0 : version == 2 ? 1 : 2);
        int padding = (int)(h >> 9) & 1;
        int channels = ((h >> 6) & 3) == 3 ? 1 : 2;
        int length, samples;
        if (layer == 1)
        {
            length = (12 * bitrate / rate + padding) * 4;
            samples = 384;
        }
        else
        {
            samples = layer == 3 && !mpeg1 ? 576 : 1152;
            length = samples / 8 * bitrate / rate + padding;
        }
        return new Frame(length, samples, rate, channels, version, layer, (h & 0x10000) == 0);
    }

    /// <summary>Whether the first frame is MPEG-2.5 (8, 11.025, 12 kHz): NLayer 3.0.1 decodes those wrongly (about
    /// 14 dB from the reference decoders), so they go to ffmpeg.</summary>
    public static bool IsMpeg25(AudioBytes bytes)
    {
        var data = bytes.Span;
        int first = FindFirstFrame(data, AudioReader.SkipId3v2(data));
        return first >= 0 && ParseHeader(data, first)!.Value.Version == 0;
    }

    public static AudioClip Decode(AudioBytes bytes, string? name)
    {
        string display = name is null ? "MP3 stream" : $"MP3 '{name}'";
        AudioFormatException Error(string detail, Exception? inner = null) => new($"Cannot read {display}: {detail}", name, inner);
        var data = bytes.Span;

        int at = AudioReader.SkipId3v2(data);
        int first = FindFirstFrame(data, at);
        if (first < 0) throw Error("no MPEG audio frames found");
        var head = ParseHeader(data, first)!.Value;

        // The frames, from the first to the last whole one; the Xing/Info frame (no audio) is left out.
        var frames = new List<(int Offset, int Length)>();
        int delay = 0, padding = 0;
        long xingFrames = -1;
        bool lame = false;
        int pos = first;
        if (ReadXing(data, first, head) is { } xing)
        {
            (xingFrames, lame, delay, padding) = xing;
            pos += head.Length;
        }
        while (pos < data.Length)
        {
            var f = ParseHeader(data, pos);
            if (f is { } frame && frame.SampleRate == head.SampleRate && frame.Layer == head.Layer && frame.Version == head.Version)
            {
                if (pos + frame.Length > data.Length)
                {
                    if (IsTag(data, pos)) break;
                    throw Error($"the file is truncated: its last frame (at byte {pos}) needs {frame.Length} bytes, {data.Length - pos} are left");
                }
                frames.Add((pos, frame.Length));
                pos += frame.Length;
                continue;
            }
            if (IsTag(data, pos)) break;
            // Junk between frames: decoders resynchronise on the next header that a second header follows.
            int next = FindFirstFrame(data, pos + 1);
            if (next < 0) break;
            pos = next;
        }
        if (frames.Count == 0) throw Error("no MPEG audio frames found");
        if (xingFrames > frames.Count)
            throw Error($"the file is truncated: its Xing header counts {xingFrames} frames, {frames.Count} are present");

        // Whole frames only, back to back, for NLayer.
        int total = 0;
        foreach (var (_, length) in frames) total += length;
        var clean = new byte[total];
        int w = 0;
        foreach (var (offset, length) in frames)
        {
            data.Slice(offset, length).CopyTo(clean.AsSpan(w));
            w += length;
        }

        float[] decoded;
        int channels, rate;
        try
        {
            using var stream = new MemoryStream(clean, writable: false);
            using var mpeg = new NLayer.MpegFile(stream);
            channels = mpeg.Channels;
            rate = mpeg.SampleRate;
            long expected = (long)frames.Count * head.Samples * channels;
            if (expected > Array.MaxLength) throw Error($"audio is too long: {expected} samples do not fit in one array");
            decoded = new float[expected];
            int n = 0;
            while (n < decoded.Length)
            {
                int got = mpeg.ReadSamples(decoded, n, Math.Min(decoded.Length - n, 1 << 16));
                if (got <= 0) break;
                n += got;
            }
            if (n != decoded.Length)
                throw Error($"{frames.Count} frames should decode to {expected / channels} samples per channel, the decoder gave {n / channels}; the file is corrupt");
        }
        catch (Exception e) when (e is not AudioFormatException)
        {
            throw Error($"the MPEG decoder failed ({e.GetType().Name}: {e.Message}); the file is corrupt", e);
        }
        if (channels != head.Channels || rate != head.SampleRate)
            throw Error($"the decoder reports {channels} channels at {rate} Hz, the first frame says {head.Channels} at {head.SampleRate} Hz");

        long perChannel = decoded.Length / channels;
        long start = 0, end = perChannel;
        if (lame)
        {
            start = Math.Min(perChannel, (long)delay + DecoderDelay);
            end = Math.Clamp(perChannel - padding + DecoderDelay, start, perChannel);
        }
        var samples = start == 0 && end == perChannel ? decoded : decoded.AsSpan((int)(start * channels), (int)((end - start) * channels)).ToArray();
        return new AudioClip(samples, rate, channels);
    }

    /// <summary>The first offset at or after <paramref name="from"/> holding a frame header that another header
    /// follows (or the end of the data, for a one-frame file); -1 when there is none.</summary>
    private static int FindFirstFrame(ReadOnlySpan<byte> data, int from)
    {
        for (int i = Math.Max(0, from); i + 4 <= data.Length; i++)
        {
            if (data[i] != 0xFF) continue;
            if (ParseHeader(data, i) is not { } f) continue;
            int next = i + f.Length;
            if (next > data.Length) continue;
            if (next == data.Length || IsTag(data, next)) return i;
            if (ParseHeader(data, next) is { } g && g.SampleRate == f.SampleRate && g.Layer == f.Layer) return i;
        }
        return -1;
    }

    /// <summary>An ID3v1, APEv2 or Lyrics3 tag at the end of the file.</summary>
    private static bool IsTag(ReadOnlySpan<byte> data, int at)
    {
        if (at >= data.Length) return false;
        var rest = data[at..];
        return rest.StartsWith("TAG"u8) || rest.StartsWith("APETAGEX"u8) || rest.StartsWith("LYRICSBEGIN"u8);
    }

    /// <summary>A Xing/Info (or VBRI) frame at <paramref name="at"/>: its frame count (-1 when absent) and, when a LAME
    /// tag follows, the encoder delay and padding; null for an audio frame.</summary>
    private static (long Frames, bool Lame, int Delay, int Padding)? ReadXing(ReadOnlySpan<byte> data, int at, Frame f)
    {
        int sideInfo = f.Version == 3 ? (f.Channels == 1 ? 17 : 32) : (f.Channels == 1 ? 9 : 17);
        int x = at + 4 + (f.Crc ? 2 : 0) + sideInfo;
        var frame = data.Slice(at, Math.Min(f.Length, data.Length - at));
        if (at + 36 + 4 <= data.Length && data[(at + 36)..].StartsWith("VBRI"u8))
        {
            return (-1, false, 0, 0); // Fraunhofer's VBR header: a frame without audio, as ffmpeg treats it
        }
        if (x + 8 > at + frame.Length) return null;
        var tag = data[x..];
        if (!tag.StartsWith("Xing"u8) && !tag.StartsWith("Info"u8)) return null;
        uint flags = BinaryPrimitives.ReadUInt32BigEndian(tag[4..]);
        int p = 8;
        long count = -1;
        if ((flags & 1) != 0 && x + p + 4 <= at + frame.Length)
        {
            count = BinaryPrimitives.ReadUInt32BigEndian(tag[p..]);
            p += 4;
        }
        if ((flags & 2) != 0) p += 4;
        if ((flags & 4) != 0) p += 100;
        if ((flags & 8) != 0) p += 4;
        // The LAME extension: a 9-byte encoder name, then 12 bytes, then 12 bits of delay and 12 of padding.
        if (x + p + 24 <= at + frame.Length)
        {
            var ext = tag[p..];
            bool named = ext.StartsWith("LAME"u8) || ext.StartsWith("Lavc"u8) || ext.StartsWith("Lavf"u8) || ext.StartsWith("L3.99"u8);
            if (named)
            {
                int delay = (ext[21] << 4) | (ext[22] >> 4);
                int padding = ((ext[22] & 0x0F) << 8) | ext[23];
                return (count, true, delay, padding);
            }
        }
        return (count, false, 0, 0);
    }
}
