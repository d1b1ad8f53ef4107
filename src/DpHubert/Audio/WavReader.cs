using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Text;

namespace DpHubert.Audio;

// Why a reader of our own rather than a WAV library (NAudio's WaveFileReader): what a corpus run needs here is a
// truncated data chunk that fails with the file named instead of decoding short, streaming headers (RIFF and data
// sizes of 0 or 0xFFFFFFFF) read to the end, non-seekable streams, and typed errors that name the format and the file
// (WavReaderTests holds each case). The WAV container is small and fully specified, so the few hundred lines here
// give exactly that, with no extra dependency for library users.
/// <summary>
/// Reads RIFF/WAVE (and RF64) files into <see cref="AudioClip"/>s of 32-bit floats.
/// </summary>
/// <remarks>
/// <para>Supported encodings: PCM with 8-bit unsigned and 16/24/32-bit signed containers (any valid-bits
/// value inside them), IEEE float 32 and 64, and WAVE_FORMAT_EXTENSIBLE with a PCM or IEEE float
/// sub-format; any channel count and sample rate. Unknown chunks (LIST, fact, cue, bext, ...) are
/// skipped, including the pad byte after an odd-sized chunk.</para>
/// <para>Integers scale like libsndfile/soundfile and torchaudio: x / 2^(bits-1) of the container
/// (int16 / 32768, int24 / 2^23, int32 / 2^31) and 8-bit as (x - 128) / 128, so PCM values convert
/// exactly and identical audio in different encodings gives identical floats.</para>
/// <para>Float samples must be finite: NaN, ±Infinity (and float64 values beyond the float32 range) are refused with
/// an <see cref="AudioFormatException"/> giving the index of the first one.</para>
/// <para>A data chunk whose size is a placeholder written by a streaming tool (0xFFFFFFFF, 0x7FFFFFFF,
/// sox's 0x7FFFF000, or 0 when the RIFF size is also 0/0xFFFFFFFF) is read to the end of the file;
/// any other data chunk that is longer than the file is reported as truncated rather than silently
/// shortened.</para>
/// </remarks>
public static class WavReader
{
    private const ushort TagPcm = 0x0001;
    private const ushort TagFloat = 0x0003;
    private const ushort TagExtensible = 0xFFFE;

    /// <summary>The list of encodings in error messages.</summary>
    internal const string SupportedList = "supported: PCM 8/16/24/32, IEEE float 32/64, extensible";

    // Data chunk sizes that streaming writers put in the header when they cannot seek back.
    private static readonly HashSet<uint> StreamingDataSizes = new() { 0xFFFFFFFFu, 0x7FFFFFFFu, 0x7FFFF000u };

    // The 14 bytes that follow the 2-byte format tag in KSDATAFORMAT_SUBTYPE_* GUIDs
    // (xxxxxxxx-0000-0010-8000-00AA00389B71, stored little-endian in the file).
    private static ReadOnlySpan<byte> KsSubtypeTail =>
        new byte[] { 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71 };

    /// <summary>Reads a WAV file.</summary>
    /// <param name="path">The file to read.</param>
    /// <returns>The decoded audio, interleaved.</returns>
    /// <exception cref="AudioFormatException">The file is not WAVE audio, is truncated, or its encoding is not supported.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public static AudioClip Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        return Read(stream, path);
    }

    /// <summary>Reads WAV data from a stream, which need not be seekable; reading starts at its current position.</summary>
    /// <param name="stream">The stream; it is left open.</param>
    /// <param name="name">A name for the audio used in error messages and <see cref="AudioFormatException.Path"/>, e.g. a file name or URL.</param>
    /// <returns>The decoded audio, interleaved.</returns>
    /// <exception cref="AudioFormatException">The data is not WAVE audio, is truncated, or its encoding is not supported.</exception>
    public static AudioClip Read(Stream stream, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        return new Parser(stream, name).Parse();
    }

    /// <summary>Opens a WAV file for reading block by block (live streaming, long recordings): the header is read now,
    /// the samples as <see cref="WavStreamReader.Read"/> asks for them, decoded exactly as <see cref="Read(string)"/>
    /// decodes them.</summary>
    /// <param name="path">The file to read.</param>
    /// <exception cref="AudioFormatException">The file is not WAVE audio or its encoding is not supported.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public static WavStreamReader Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        return Open(stream, path, leaveOpen: false);
    }

    /// <summary>Opens WAV data on a stream (which need not be seekable: a pipe, a socket, a file still being written)
    /// for reading block by block, from its current position; see <see cref="Open(string)"/>.</summary>
    /// <param name="stream">The data.</param>
    /// <param name="name">A name for error messages.</param>
    /// <param name="leaveOpen">Whether disposing the reader leaves <paramref name="stream"/> open.</param>
    /// <exception cref="AudioFormatException">The data is not WAVE audio or its encoding is not supported.</exception>
    public static WavStreamReader Open(Stream stream, string? name = null, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        try
        {
            return new WavStreamReader(new Parser(stream, name), leaveOpen ? null : stream);
        }
        catch
        {
            if (!leaveOpen) stream.Dispose();
            throw;
        }
    }

    /// <summary>A human-readable name for a WAVE format tag, for error messages.</summary>
    internal static string FormatTagName(ushort tag) => tag switch
    {
        0x0000 => "unknown",
        0x0001 => "PCM",
        0x0002 => "Microsoft ADPCM",
        0x0003 => "IEEE float",
        0x0006 => "A-law",
        0x0007 => "mu-law",
        0x0010 => "OKI ADPCM",
        0x0011 => "IMA ADPCM",
        0x0022 => "TrueSpeech",
        0x0031 => "GSM 6.10",
        0x0040 => "G.721 ADPCM",
        0x0050 => "MPEG",
        0x0055 => "MPEG Layer 3",
        0x0092 => "Dolby AC3 SPDIF",
        0x00FF => "AAC",
        0x0160 or 0x0161 or 0x0162 or 0x0163 => "Windows Media Audio",
        0x1610 => "HE-AAC",
        0x2000 => "Dolby AC3",
        0x674F or 0x6750 or 0x6751 or 0x676F or 0x6770 or 0x6771 => "Ogg Vorbis",
        0xF1AC => "FLAC",
        0xFFFE => "extensible",
        _ => "unrecognized",
    };

    /// <summary>What the fmt chunk says, reduced to what decoding needs.</summary>
    internal sealed record Format(ushort Tag, int Channels, int SampleRate, int BlockAlign, int ContainerBytes, bool IsFloat);

    internal sealed class Parser
    {
        private readonly Stream _stream;
        private readonly string? _path;
        private readonly string _display;
        private long _position; // bytes consumed, for messages; works for non-seekable streams too
        private int _pushback = -1;

        public Parser(Stream stream, string? name)
        {
            _stream = stream;
            _path = name;
            _display = name is null ? "WAV stream" : $"WAV '{name}'";
        }

        private AudioFormatException Error(string detail) => new($"Cannot read {_display}: {detail}", _path);

        public AudioClip Parse()
        {
            var (format, declared) = ParseHeader();
            return ReadData(format, declared);
        }

        /// <summary>The header up to the start of the samples: their format and the data chunk's size (null: to the end).</summary>
        public (Format Format, long? Declared) ParseHeader()
        {
            Span<byte> header = stackalloc byte[12];
            int got = ReadFully(header);
            if (got < 4 || !(Is(header, "RIFF") || Is(header, "RF64")))
            {
                if (got >= 4 && Is(header, "RIFX"))
                {
                    throw Error("big-endian RIFX files are not supported; " + SupportedList);
                }
                throw Error(got == 0
                    ? "not a RIFF/WAVE file (it is empty)"
                    : $"not a RIFF/WAVE file (it starts with {Describe(header[..Math.Min(got, 4)])}, not 'RIFF')");
            }
            if (got < 12)
            {
                throw Error($"truncated RIFF header: expected 12 bytes, found {got}");
            }
            bool rf64 = Is(header, "RF64");
            uint riffSize = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
            if (!Is(header[8..], "WAVE"))
            {
                throw Error($"not a RIFF/WAVE file (RIFF form type is {Describe(header[8..12])}, not 'WAVE')");
            }

            Format? format = null;
            long? ds64DataSize = null;
            Span<byte> chunkHeader = stackalloc byte[8];
            while (true)
            {
                long chunkStart = _position;
                got = ReadFully(chunkHeader);
                if (got < 8)
                {
                    string missing = format is null ? "'fmt '" : "'data'";
                    throw Error(got == 0
                        ? $"no {missing} chunk before the end of the file (at byte {chunkStart})"
                        : $"truncated chunk header at byte {chunkStart}: expected 8 bytes, found {got} (no {missing} chunk)");
                }
                string id = Encoding.ASCII.GetString(chunkHeader[..4]);
                uint size = BinaryPrimitives.ReadUInt32LittleEndian(chunkHeader[4..]);

                if (id == "data")
                {
                    if (format is null)
                    {
                        throw Error("the 'data' chunk comes before the 'fmt ' chunk, which is not supported");
                    }
                    long? declared = size;
                    if (rf64 && size == 0xFFFFFFFFu && ds64DataSize is not null)
                    {
                        declared = ds64DataSize; // RF64: the real size lives in the ds64 chunk
                    }
                    else if ((StreamingDataSizes.Contains(size) && !FileHolds(size))
                             || (size == 0 && (riffSize == 0 || riffSize == 0xFFFFFFFFu)))
                    {
                        declared = null; // placeholder from a streaming writer: read to the end
                    }
                    return (format, declared);
                }

                byte[] body = id is "fmt " or "ds64" ? ReadChunkBody(id, size) : Array.Empty<byte>();
                if (id == "fmt ")
                {
                    format = ParseFormat(body);
                }
                else if (id == "ds64")
                {
                    if (body.Length < 16)
                    {
                        throw Error($"'ds64' chunk is {body.Length} bytes, expected at least 16");
                    }
                    ds64DataSize = BinaryPrimitives.ReadInt64LittleEndian(body.AsSpan(8));
                }
                else
                {
                    Skip(id, size);
                }

                if ((size & 1) != 0)
                {
                    SkipPadByte();
                }
            }
        }

        /// <summary>Whether a seekable stream has at least <paramref name="size"/> bytes left, so a placeholder-looking size may be real.</summary>
        private bool FileHolds(uint size) =>
            _stream.CanSeek && _stream.Length - _stream.Position + (_pushback >= 0 ? 1 : 0) >= size;

        private byte[] ReadChunkBody(string id, uint size)
        {
            if (size > 1 << 20)
            {
                throw Error($"'{id}' chunk declares {size} bytes, which is implausibly large");
            }
            var body = new byte[size];
            int got = ReadFully(body);
            if (got < body.Length)
            {
                throw Error($"truncated '{id}' chunk: expected {size} bytes, found {got}");
            }
            return body;
        }

        private Format ParseFormat(byte[] fmt)
        {
            if (fmt.Length < 16)
            {
                throw Error($"'fmt ' chunk is {fmt.Length} bytes, expected at least 16");
            }
            var span = fmt.AsSpan();
            ushort tag = BinaryPrimitives.ReadUInt16LittleEndian(span);
            int channels = BinaryPrimitives.ReadUInt16LittleEndian(span[2..]);
            uint sampleRate = BinaryPrimitives.ReadUInt32LittleEndian(span[4..]);
            int blockAlign = BinaryPrimitives.ReadUInt16LittleEndian(span[12..]);
            int bits = BinaryPrimitives.ReadUInt16LittleEndian(span[14..]);

            ushort encoding = tag;
            string tagText = $"format tag 0x{tag:X4} ({FormatTagName(tag)})";
            if (tag == TagExtensible)
            {
                // WAVEFORMATEXTENSIBLE: cbSize(2) validBits(2) channelMask(4) subFormat GUID(16) after the 16 base bytes.
                if (fmt.Length < 40)
                {
                    throw Error($"extensible 'fmt ' chunk is {fmt.Length} bytes, expected 40");
                }
                var guid = span.Slice(24, 16);
                encoding = BinaryPrimitives.ReadUInt16LittleEndian(guid);
                if (!guid[2..].SequenceEqual(KsSubtypeTail))
                {
                    throw Error($"extensible sub-format {new Guid(guid)} is not supported; {SupportedList}");
                }
                tagText = $"extensible sub-format 0x{encoding:X4} ({FormatTagName(encoding)})";
            }

            bool isFloat;
            if (encoding == TagPcm)
            {
                if (bits is < 1 or > 32)
                {
                    throw Error($"PCM with {bits} bits per sample is not supported; {SupportedList}");
                }
                isFloat = false;
            }
            else if (encoding == TagFloat)
            {
                if (bits is not (32 or 64))
                {
                    throw Error($"IEEE float with {bits} bits per sample is not supported; {SupportedList}");
                }
                isFloat = true;
            }
            else
            {
                throw Error($"{tagText} is not supported; {SupportedList}");
            }

            if (channels == 0)
            {
                throw Error("the 'fmt ' chunk says 0 channels");
            }
            if (sampleRate == 0 || sampleRate > int.MaxValue)
            {
                throw Error($"invalid sample rate {sampleRate}");
            }
            // Samples sit in whole-byte containers; e.g. 12-bit PCM uses 2 bytes and scales like 16-bit.
            int containerBytes = (bits + 7) / 8;
            if (blockAlign != channels * containerBytes)
            {
                throw Error($"block align {blockAlign} does not match {channels} channel(s) × {containerBytes} byte(s) per {bits}-bit sample");
            }
            return new Format(encoding, channels, (int)sampleRate, blockAlign, containerBytes, isFloat);
        }

        private long dataRead; // bytes of the data chunk read so far by ReadFrames
        private byte[]? frameBuffer;

        /// <summary>Decodes up to <paramref name="frames"/> whole sample frames of the data chunk into
        /// <paramref name="destination"/> (interleaved); returns how many (0 at the end). A trailing partial frame is
        /// dropped, as <see cref="Parse"/> does; a data chunk shorter than declared is an error once its end is reached.</summary>
        public int ReadFrames(Format format, long? declared, Span<float> destination, int frames)
        {
            int blockAlign = format.BlockAlign;
            long limit = declared ?? long.MaxValue;
            long want = Math.Min((long)frames * blockAlign, limit - dataRead);
            if (want <= 0) return 0;
            if (frameBuffer is null || frameBuffer.Length < want) frameBuffer = new byte[want];
            int got = ReadFully(frameBuffer.AsSpan(0, (int)want));
            long before = dataRead / blockAlign * format.Channels; // index of the first sample, for messages
            dataRead += got;
            if (got < want && declared is long expected && dataRead < expected) throw Truncated(expected, dataRead);
            int whole = got / blockAlign, values = whole * format.Channels;
            var src = frameBuffer.AsSpan(0, whole * blockAlign);
            Decode(format, src, destination[..values]);
            if (format.IsFloat) CheckFinite(format, src, destination[..values], before);
            return whole;
        }

        /// <summary>Decodes the data chunk; <paramref name="declared"/> is null to read to the end of the stream.</summary>
        private AudioClip ReadData(Format format, long? declared)
        {
            long? available = _stream.CanSeek
                ? Math.Max(0, _stream.Length - _stream.Position) + (_pushback >= 0 ? 1 : 0)
                : null;
            if (declared is long d && available is long a && a < d)
            {
                throw Truncated(d, a); // fail before allocating for a size the file cannot hold
            }
            long limit = declared ?? long.MaxValue;
            // Exact when seekable; otherwise a guess capped at 4M bytes, grown as data arrives.
            long initialBytes = available ?? Math.Min(declared ?? 1 << 16, 1 << 22);

            int blockAlign = format.BlockAlign;
            // Read whole frames at a time; a trailing partial frame is dropped, as libsndfile does.
            int bufferBytes = Math.Max(1, (1 << 16) / blockAlign) * blockAlign;
            var buffer = new byte[bufferBytes];
            float[] samples = new float[CheckedSampleCount(Math.Min(initialBytes, limit) / blockAlign * format.Channels)];
            long count = 0;
            long total = 0;
            while (total < limit)
            {
                int want = (int)Math.Min(bufferBytes, limit - total);
                int got = ReadFully(buffer.AsSpan(0, want));
                total += got;
                int frames = got / blockAlign;
                int values = frames * format.Channels;
                if (count + values > samples.Length)
                {
                    Array.Resize(ref samples, CheckedSampleCount(Math.Max(count + values, Math.Min((long)samples.Length * 2, Array.MaxLength))));
                }
                Decode(format, buffer.AsSpan(0, frames * blockAlign), samples.AsSpan((int)count, values));
                if (format.IsFloat)
                {
                    CheckFinite(format, buffer.AsSpan(0, frames * blockAlign), samples.AsSpan((int)count, values), count);
                }
                count += values;
                if (got < want)
                {
                    break; // end of stream
                }
            }
            if (declared is long expected && total < expected)
            {
                throw Truncated(expected, total);
            }
            if (count != samples.Length)
            {
                Array.Resize(ref samples, (int)count);
            }
            return new AudioClip(samples, format.SampleRate, format.Channels);
        }

        /// <summary>NaN, ±Inf, or a float64 beyond float32's range would reach the model as NaN features: refuse them,
        /// naming the first one by its index in the file.</summary>
        private void CheckFinite(Format format, ReadOnlySpan<byte> src, ReadOnlySpan<float> decoded, long offset)
        {
            for (int i = 0; i < decoded.Length; i++)
            {
                if (float.IsFinite(decoded[i]))
                {
                    continue;
                }
                long index = offset + i;
                string value = format.ContainerBytes == 8
                    ? DescribeNonFinite(BinaryPrimitives.ReadDoubleLittleEndian(src[(8 * i)..]))
                    : DescribeNonFinite(decoded[i]);
                string where = format.Channels == 1 ? $"sample {index}" : $"sample {index} (frame {index / format.Channels}, channel {index % format.Channels})";
                throw Error($"{where} is {value}; audio samples must be finite numbers");
            }
        }

        private static string DescribeNonFinite(double v) =>
            double.IsNaN(v) ? "NaN"
            : double.IsPositiveInfinity(v) ? "+Infinity"
            : double.IsNegativeInfinity(v) ? "-Infinity"
            : $"{v.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}, beyond the float32 range";

        private AudioFormatException Truncated(long expected, long found) =>
            Error($"file is truncated: the 'data' chunk declares {expected} bytes but only {found} bytes are present");

        private int CheckedSampleCount(long count)
        {
            if (count > Array.MaxLength)
            {
                throw Error($"audio is too long: {count} samples do not fit in one array (max {Array.MaxLength})");
            }
            return (int)count;
        }

        private static void Decode(Format format, ReadOnlySpan<byte> src, Span<float> dst)
        {
            switch (format.IsFloat, format.ContainerBytes)
            {
                case (true, 4):
                    for (int i = 0; i < dst.Length; i++)
                    {
                        dst[i] = BinaryPrimitives.ReadSingleLittleEndian(src[(4 * i)..]);
                    }
                    break;
                case (true, 8):
                    for (int i = 0; i < dst.Length; i++)
                    {
                        dst[i] = (float)BinaryPrimitives.ReadDoubleLittleEndian(src[(8 * i)..]);
                    }
                    break;
                case (false, 1):
                    for (int i = 0; i < dst.Length; i++)
                    {
                        dst[i] = (src[i] - 128) / 128f; // 8-bit WAV is unsigned with 128 as zero
                    }
                    break;
                case (false, 2):
                    for (int i = 0; i < dst.Length; i++)
                    {
                        dst[i] = BinaryPrimitives.ReadInt16LittleEndian(src[(2 * i)..]) / 32768f;
                    }
                    break;
                case (false, 3):
                    for (int i = 0, j = 0; i < dst.Length; i++, j += 3)
                    {
                        int v = src[j] | (src[j + 1] << 8) | ((sbyte)src[j + 2] << 16);
                        dst[i] = v / 8388608f;
                    }
                    break;
                case (false, 4):
                    for (int i = 0; i < dst.Length; i++)
                    {
                        // (float)int rounds once; dividing by 2^31 is then exact, as in libsndfile.
                        dst[i] = BinaryPrimitives.ReadInt32LittleEndian(src[(4 * i)..]) / 2147483648f;
                    }
                    break;
                default:
                    throw new InvalidOperationException("unreachable: format validated in ParseFormat");
            }
        }

        private void Skip(string id, uint size)
        {
            long skipped;
            if (_stream.CanSeek && _pushback < 0)
            {
                long left = Math.Max(0, _stream.Length - _stream.Position);
                skipped = Math.Min(left, size);
                _stream.Seek(skipped, SeekOrigin.Current);
                _position += skipped;
            }
            else
            {
                Span<byte> scratch = stackalloc byte[4096];
                skipped = 0;
                while (skipped < size)
                {
                    int got = ReadFully(scratch[..(int)Math.Min(scratch.Length, size - skipped)]);
                    skipped += got;
                    if (got == 0)
                    {
                        break;
                    }
                }
            }
            if (skipped < size)
            {
                throw Error($"truncated '{SafeId(id)}' chunk: expected {size} bytes, found {skipped} (no 'data' chunk)");
            }
        }

        /// <summary>RIFF pads odd-sized chunks to even length; some writers forget, so only a zero byte is taken as padding.</summary>
        private void SkipPadByte()
        {
            Span<byte> one = stackalloc byte[1];
            if (ReadFully(one) == 1 && one[0] != 0)
            {
                _pushback = one[0];
                _position--;
            }
        }

        private int ReadFully(Span<byte> buffer)
        {
            int total = 0;
            if (_pushback >= 0 && buffer.Length > 0)
            {
                buffer[0] = (byte)_pushback;
                _pushback = -1;
                total = 1;
            }
            while (total < buffer.Length)
            {
                int n = _stream.Read(buffer[total..]);
                if (n == 0)
                {
                    break;
                }
                total += n;
            }
            _position += total;
            return total;
        }

        private static bool Is(ReadOnlySpan<byte> bytes, string fourCc) =>
            bytes.Length >= 4 && bytes[0] == fourCc[0] && bytes[1] == fourCc[1] && bytes[2] == fourCc[2] && bytes[3] == fourCc[3];

        private static string SafeId(string id)
        {
            var sb = new StringBuilder(id.Length);
            foreach (char c in id)
            {
                sb.Append(c is >= ' ' and <= '~' ? c : '?');
            }
            return sb.ToString();
        }

        private static string Describe(ReadOnlySpan<byte> bytes)
        {
            var hex = Convert.ToHexString(bytes);
            return $"'{SafeId(Encoding.Latin1.GetString(bytes))}' (0x{hex})";
        }
    }
}

/// <summary>A WAV file read block by block (<see cref="WavReader.Open(string)"/>): whole sample frames, decoded as
/// <see cref="WavReader.Read(string)"/> decodes them, so the blocks concatenated equal the whole file's samples.</summary>
public sealed class WavStreamReader : IDisposable
{
    private readonly WavReader.Parser parser;
    private readonly Stream? owned;
    private readonly WavReader.Format format;
    private readonly long? declared;

    internal WavStreamReader(WavReader.Parser parser, Stream? owned)
    {
        this.parser = parser;
        this.owned = owned;
        (format, declared) = parser.ParseHeader();
    }

    /// <summary>Samples per second per channel.</summary>
    public int SampleRate => format.SampleRate;

    /// <summary>Interleaved channels.</summary>
    public int Channels => format.Channels;

    /// <summary>Reads up to <paramref name="frames"/> sample frames (one sample per channel each) into
    /// <paramref name="destination"/>, interleaved.</summary>
    /// <param name="destination">Room for <paramref name="frames"/> × <see cref="Channels"/> samples.</param>
    /// <param name="frames">Frames wanted.</param>
    /// <returns>Frames read: fewer than asked only at the end of the data, 0 after it.</returns>
    /// <exception cref="AudioFormatException">The data ends before its declared size, or a float sample is not finite.</exception>
    public int Read(Span<float> destination, int frames)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(frames);
        if (destination.Length < (long)frames * Channels)
            throw new ArgumentException($"destination holds {destination.Length} samples; {frames} frames of {Channels} channel(s) need {(long)frames * Channels}.", nameof(destination));
        return parser.ReadFrames(format, declared, destination, frames);
    }

    /// <summary>Closes the file (or the stream, unless opened with leaveOpen).</summary>
    public void Dispose() => owned?.Dispose();
}
