using System;
using System.Buffers.Binary;

namespace DpHubert.Audio;

/// <summary>What the pages of an Ogg file say: the codec of its first logical stream and how many streams it has.</summary>
/// <param name="Codec">"Vorbis", "Opus", "FLAC", "Speex" or "unknown".</param>
/// <param name="Streams">Logical streams (beginning-of-stream pages).</param>
internal sealed record OggInfo(string Codec, int Streams);

/// <summary>Walks an Ogg file's pages: every page whole, its CRC right, the last page marked end-of-stream. A file cut
/// short (a partial download) fails here with a clear message, before any decoder sees it.</summary>
internal static class OggPages
{
    private static readonly uint[] CrcTable = MsbFirstCrc.Table(32, 0x04C11DB7);

    public static OggInfo Scan(ReadOnlySpan<byte> data, string display, string? name)
    {
        AudioFormatException Error(string detail) => new($"Cannot read {display}: {detail}", name);
        int pos = 0, streams = 0, pages = 0;
        string codec = "unknown";
        bool lastEos = false;
        while (pos < data.Length)
        {
            if (data.Length - pos < 27)
                throw Error($"the file is truncated: page {pages} (at byte {pos}) has {data.Length - pos} of its 27 header bytes");
            if (!data[pos..].StartsWith("OggS"u8)) throw Error($"no Ogg page at byte {pos} (page {pages}); the file is corrupt");
            if (data[pos + 4] != 0) throw Error($"page {pages} has Ogg version {data[pos + 4]}; only version 0 exists");
            int type = data[pos + 5];
            int segments = data[pos + 26];
            if (data.Length - pos < 27 + segments)
                throw Error($"the file is truncated inside page {pages}'s header (at byte {pos})");
            int body = 0;
            for (int i = 0; i < segments; i++) body += data[pos + 27 + i];
            int size = 27 + segments + body;
            if (data.Length - pos < size)
                throw Error($"the file is truncated: page {pages} (at byte {pos}) needs {size} bytes, {data.Length - pos} are left");
            uint stored = BinaryPrimitives.ReadUInt32LittleEndian(data[(pos + 22)..]);
            uint computed = Crc(data.Slice(pos, size));
            if (stored != computed) throw Error($"page {pages} (at byte {pos}) fails its CRC check; the file is corrupt");
            if ((type & 2) != 0)
            {
                if (streams++ == 0) codec = CodecOf(data.Slice(pos + 27 + segments, body));
            }
            lastEos = (type & 4) != 0;
            pos += size;
            pages++;
        }
        if (pages == 0) throw Error("the file is empty");
        if (streams == 0) throw Error("no logical stream begins in the file (no beginning-of-stream page)");
        if (!lastEos) throw Error($"the file is truncated: its last page (page {pages - 1}) does not end the stream");
        return new OggInfo(codec, streams);
    }

    private static string CodecOf(ReadOnlySpan<byte> packet) =>
        packet.StartsWith("\u0001vorbis"u8) ? "Vorbis"
        : packet.StartsWith("OpusHead"u8) ? "Opus"
        : packet.StartsWith("\u007fFLAC"u8) ? "FLAC"
        : packet.StartsWith("Speex   "u8) ? "Speex"
        : "unknown";

    /// <summary>Ogg's CRC-32 (polynomial 0x04C11DB7, not reflected, initial 0) with the page's CRC field taken as zero.</summary>
    internal static uint Crc(ReadOnlySpan<byte> page)
    {
        uint c = 0;
        for (int i = 0; i < page.Length; i++)
        {
            byte b = i is >= 22 and < 26 ? (byte)0 : page[i];
            c = (c << 8) ^ CrcTable[(c >> 24) ^ b];
        }
        return c;
    }
}

/// <summary>Ogg Vorbis through NVorbis, which trims the first and last packets by their granule positions as the
/// reference decoder (oggdec) does, so the sample count is the encoded one.</summary>
internal static class OggVorbisReader
{
    public static AudioClip Decode(AudioBytes bytes, string? name)
    {
        string display = name is null ? "Ogg Vorbis stream" : $"Ogg Vorbis '{name}'";
        AudioFormatException Error(string detail, Exception? inner = null) => new($"Cannot read {display}: {detail}", name, inner);
        var info = OggPages.Scan(bytes.Span, display, name);
        if (info.Codec != "Vorbis") throw Error($"its first stream is {info.Codec}, not Vorbis");
        if (info.Streams > 1)
            throw Error($"it holds {info.Streams} logical streams (chained or multiplexed Ogg); only single-stream files are read (convert with ffmpeg)");
        try
        {
            using var stream = bytes.OpenStream();
            using var reader = new NVorbis.VorbisReader(stream, closeOnDispose: false);
            int channels = reader.Channels, rate = reader.SampleRate;
            if (channels < 1 || rate < 1) throw Error($"its header gives {channels} channels at {rate} Hz");
            long total = reader.TotalSamples;
            long capacity = total > 0 ? total * channels : 1 << 16;
            // The last granule position bounds the length; a corrupt one cannot make us allocate more than a
            // generous ceiling for the file's size (Vorbis needs well over one bit per sample).
            capacity = Math.Min(capacity, Math.Max(1 << 16, (long)bytes.Length * 64 * channels));
            if (capacity > Array.MaxLength) throw Error($"audio is too long: {capacity} samples do not fit in one array");
            var samples = new float[capacity];
            int n = 0;
            while (true)
            {
                if (n == samples.Length)
                {
                    if (n >= Array.MaxLength) throw Error("audio is too long to fit in one array");
                    Array.Resize(ref samples, (int)Math.Min(Array.MaxLength, 2L * n));
                }
                int got = reader.ReadSamples(samples, n, samples.Length - n);
                if (got <= 0) break;
                n += got;
            }
            if (n % channels != 0) throw Error($"the decoder gave {n} samples, not a whole number of {channels}-channel frames");
            if (n != samples.Length) Array.Resize(ref samples, n);
            for (int i = 0; i < samples.Length; i++)
            {
                if (!float.IsFinite(samples[i])) throw Error($"sample {i} is {samples[i]}; the file is corrupt");
            }
            return new AudioClip(samples, rate, channels);
        }
        catch (Exception e) when (e is not AudioFormatException)
        {
            throw Error($"the Vorbis decoder failed ({e.GetType().Name}: {e.Message}); the file is corrupt", e);
        }
    }
}
