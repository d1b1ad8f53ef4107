using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Numerics;
using System.Security.Cryptography;

namespace DpHubert.Audio;

// Why a decoder of our own: no managed FLAC decoder is served on NuGet, and binding the system's libFLAC would make
// every user install a native library (and a native crash on a bad file would end a run of many). The format is
// small and fully specified: a bit reader, Rice residuals, fixed and LPC predictors and stereo decorrelation.
/// <summary>
/// Reads native FLAC files (<c>fLaC</c> streams) into <see cref="AudioClip"/>s of 32-bit floats, bit-exact with the
/// reference decoder: every sample equals what <c>flac -d</c> writes, scaled like <see cref="WavReader"/> scales the
/// same PCM (x / 2^(bits-1)), so a FLAC and the WAV it came from give identical floats.
/// </summary>
/// <remarks>
/// <para>Supported: 4 to 32 bits per sample, 1 to 8 channels, every block size (fixed or variable blocking), constant,
/// verbatim, fixed (orders 0-4) and LPC (orders 1-32) subframes, wasted bits, Rice and Rice2 residuals with escape
/// codes, independent, left/side, right/side and mid/side channels. Every frame's header CRC-8 and frame CRC-16 are
/// checked, and the decoded audio is checked against the MD5 signature in STREAMINFO (when the encoder wrote one):
/// any mismatch, a truncated file, or a sample count that differs from STREAMINFO's is an
/// <see cref="AudioFormatException"/> naming the file.</para>
/// <para>Ogg FLAC (FLAC inside an Ogg container) is not read here; <see cref="AudioReader"/> passes it to ffmpeg.</para>
/// </remarks>
public static class FlacReader
{
    /// <summary>Reads a FLAC file.</summary>
    /// <param name="path">The file.</param>
    /// <returns>The decoded audio, interleaved.</returns>
    /// <exception cref="AudioFormatException">Not FLAC, truncated, corrupt (CRC or MD5 mismatch) or unsupported.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public static AudioClip Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return Decode(AudioBytes.ReadFile(path, AudioBytes.Padding), path);
    }

    /// <summary>Reads FLAC data from a stream (need not be seekable), from its current position to its end.</summary>
    /// <param name="stream">The stream; it is left open.</param>
    /// <param name="name">A name for error messages, e.g. a file name.</param>
    /// <returns>The decoded audio, interleaved.</returns>
    /// <exception cref="AudioFormatException">Not FLAC, truncated, corrupt (CRC or MD5 mismatch) or unsupported.</exception>
    public static AudioClip Read(Stream stream, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        return Decode(AudioBytes.ReadStream(stream, name, "FLAC", AudioBytes.Padding), name);
    }

    /// <param name="bytes">The file.</param>
    /// <param name="name">For messages.</param>
    /// <param name="features">Collects the coding features met (tests).</param>
    /// <param name="checksums">False skips the CRC and MD5 checks, so fuzzing reaches the decoding behind them.</param>
    internal static AudioClip Decode(AudioBytes bytes, string? name, ISet<string>? features = null, bool checksums = true) =>
        new Decoder(bytes, name, features, checksums).Run();

    private sealed class Decoder
    {
        private readonly byte[] data; // the file, followed by AudioBytes.Padding zero bytes the bit reader may peek into
        private readonly long limitBits; // bits of real data
        private readonly string? name;
        private readonly string display;
        private readonly bool checksums;
        private readonly ISet<string>? seen; // the coding features met, for tests that a matrix of files covers them all
        private long pos; // bit position

        private int sampleRate, channels, bitsPerSample, maxBlockSize;
        private long totalSamples;
        private byte[] md5 = Array.Empty<byte>();

        public Decoder(AudioBytes bytes, string? name, ISet<string>? features, bool checksums)
        {
            seen = features;
            this.checksums = checksums;
            data = bytes.Buffer;
            limitBits = (long)bytes.Length * 8;
            this.name = name;
            display = name is null ? "FLAC stream" : $"FLAC '{name}'";
        }

        private AudioFormatException Error(string detail) => new($"Cannot read {display}: {detail}", name);

        private AudioFormatException Truncated(string where) =>
            Error($"the file is truncated ({where} runs past its end at byte {limitBits / 8})");

        // ---- bit reading: data is padded, so a 64-bit peek at any position up to the end of the real data is safe.

        private ulong Peek64()
        {
            int at = (int)(pos >> 3);
            return BinaryPrimitives.ReadUInt64BigEndian(data.AsSpan(at, 8)) << (int)(pos & 7);
        }

        private void Need(long bits, string where)
        {
            if (bits > limitBits - pos) throw Truncated(where);
        }

        /// <summary>Reads 0..32 bits as an unsigned number (caller checks there are enough).</summary>
        private uint Bits(int n)
        {
            if (n == 0) return 0;
            uint v = (uint)(Peek64() >> (64 - n));
            pos += n;
            return v;
        }

        /// <summary>Reads 1..33 bits as a two's complement signed number.</summary>
        private long Signed(int n)
        {
            if (n == 0) return 0;
            ulong raw = Peek64() >> (64 - n);
            pos += n;
            return (long)(raw << (64 - n)) >> (64 - n);
        }

        /// <summary>Counts zero bits up to the next one bit, which is consumed too.</summary>
        private long Unary(string where)
        {
            long zeros = 0;
            while (true)
            {
                if (pos >= limitBits) throw Truncated(where);
                ulong w = Peek64();
                int valid = 64 - (int)(pos & 7);
                if (w != 0)
                {
                    int lz = BitOperations.LeadingZeroCount(w);
                    long end = pos + lz + 1;
                    if (end > limitBits) throw Truncated(where);
                    pos = end;
                    return zeros + lz;
                }
                zeros += valid;
                pos += valid;
            }
        }

        private void AlignToByte() => pos = (pos + 7) & ~7L;

        // ---- stream

        public AudioClip Run()
        {
            if (limitBits < 32 || data[0] != 'f' || data[1] != 'L' || data[2] != 'a' || data[3] != 'C')
                throw Error("not a FLAC stream (it does not start with 'fLaC')");
            pos = 32;
            ReadMetadata();

            long capacity = totalSamples > 0 ? totalSamples : Math.Max(maxBlockSize, 4096);
            if (totalSamples > 0 && totalSamples * channels > Array.MaxLength)
                throw Error($"audio is too long: {totalSamples} samples x {channels} channels do not fit in one array (max {Array.MaxLength})");
            // A corrupt header cannot make us allocate more than the file could hold (at least one bit per sample).
            capacity = Math.Min(capacity, Math.Max(4096, limitBits));
            var output = new float[capacity * channels];
            long frames = 0;

            using var hash = checksums && md5.AsSpan().IndexOfAnyExcept((byte)0) >= 0 ? IncrementalHash.CreateHash(HashAlgorithmName.MD5) : null;
            var block = new long[channels][];
            for (int c = 0; c < channels; c++) block[c] = new long[Math.Max(16, maxBlockSize)];
            byte[] md5Bytes = Array.Empty<byte>();
            float scale = 1f / (1L << (bitsPerSample - 1));
            long min = -(1L << (bitsPerSample - 1)), max = (1L << (bitsPerSample - 1)) - 1;
            int frameIndex = 0;

            while (pos < limitBits)
            {
                if (totalSamples > 0 && frames >= totalSamples)
                {
                    break; // trailing bytes after the last frame (an ID3v1 tag, padding) are not audio
                }
                if (limitBits - pos < 16 || (Peek64() >> 50) != 0x3FFE)
                {
                    if (totalSamples == 0 && IsTrailingTag()) break;
                    throw Error($"frame {frameIndex} at byte {pos / 8}: no frame sync code (0xFFF8) where a frame should start; the file is corrupt");
                }
                int blockSize = ReadFrame(block, frameIndex);
                if (totalSamples > 0 && frames + blockSize > totalSamples)
                    throw Error($"frame {frameIndex} holds samples past the {totalSamples} that STREAMINFO declares");
                long needed = (frames + blockSize) * channels;
                if (needed > output.Length)
                {
                    if (needed > Array.MaxLength) throw Error($"audio is too long: more than {Array.MaxLength} samples do not fit in one array");
                    Array.Resize(ref output, (int)Math.Min(Array.MaxLength, Math.Max(needed, (long)output.Length * 2)));
                }
                // Interleave, check the range and convert.
                int o = (int)(frames * channels);
                for (int c = 0; c < channels; c++)
                {
                    var ch = block[c];
                    for (int i = 0, j = o + c; i < blockSize; i++, j += channels)
                    {
                        long v = ch[i];
                        if (v < min || v > max)
                            throw Error($"frame {frameIndex}, channel {c}: sample {i} ({v}) does not fit in {bitsPerSample} bits; the file is corrupt");
                        output[j] = v * scale;
                    }
                }
                if (hash is not null) AppendMd5(hash, block, blockSize, ref md5Bytes);
                frames += blockSize;
                frameIndex++;
            }

            if (totalSamples > 0 && frames < totalSamples)
                throw Error($"the file is truncated: STREAMINFO declares {totalSamples} samples per channel but the frames hold {frames}");
            if (hash is not null)
            {
                var actual = hash.GetHashAndReset();
                if (!actual.AsSpan().SequenceEqual(md5))
                    throw Error($"MD5 mismatch: the decoded audio hashes to {Convert.ToHexString(actual).ToLowerInvariant()} but STREAMINFO " +
                                $"says {Convert.ToHexString(md5).ToLowerInvariant()}; the file is corrupt");
            }
            if (output.Length != frames * channels) Array.Resize(ref output, (int)(frames * channels));
            return new AudioClip(output, sampleRate, channels);
        }

        /// <summary>An ID3v1 tag ("TAG", 128 bytes) after the last frame of a stream that does not declare its length.</summary>
        private bool IsTrailingTag()
        {
            long at = pos / 8;
            return pos % 8 == 0 && limitBits / 8 - at == 128 && data[at] == 'T' && data[at + 1] == 'A' && data[at + 2] == 'G';
        }

        private void AppendMd5(IncrementalHash hash, long[][] block, int blockSize, ref byte[] buffer)
        {
            int bytesPer = (bitsPerSample + 7) / 8;
            int length = blockSize * channels * bytesPer;
            if (buffer.Length < length) buffer = new byte[length];
            int k = 0;
            for (int i = 0; i < blockSize; i++)
            {
                for (int c = 0; c < channels; c++)
                {
                    long v = block[c][i];
                    for (int b = 0; b < bytesPer; b++) buffer[k++] = (byte)(v >> (8 * b));
                }
            }
            hash.AppendData(buffer, 0, length);
        }

        private void ReadMetadata()
        {
            bool sawStreamInfo = false;
            for (int index = 0; ; index++)
            {
                Need(32, "a metadata block header");
                bool last = Bits(1) == 1;
                int type = (int)Bits(7);
                long length = Bits(24);
                if (type == 127) throw Error($"metadata block {index} has the invalid type 127");
                Need(length * 8, $"metadata block {index} ({length} bytes)");
                if (index == 0 && type != 0) throw Error($"the first metadata block must be STREAMINFO (type 0), found type {type}");
                if (type == 0)
                {
                    if (sawStreamInfo) throw Error("more than one STREAMINFO block");
                    if (length != 34) throw Error($"STREAMINFO is {length} bytes, expected 34");
                    ReadStreamInfo();
                    sawStreamInfo = true;
                }
                else
                {
                    pos += length * 8;
                }
                if (last) break;
            }
        }

        private void ReadStreamInfo()
        {
            int minBlock = (int)Bits(16);
            maxBlockSize = (int)Bits(16);
            Bits(24); // smallest frame in bytes (0 = unknown)
            Bits(24); // largest frame in bytes (0 = unknown)
            sampleRate = (int)Bits(20);
            channels = (int)Bits(3) + 1;
            bitsPerSample = (int)Bits(5) + 1;
            totalSamples = ((long)Bits(4) << 32) | Bits(32);
            md5 = new byte[16];
            for (int i = 0; i < 16; i++) md5[i] = (byte)Bits(8);
            if (sampleRate == 0) throw Error("STREAMINFO gives a sample rate of 0 Hz");
            if (bitsPerSample < 4) throw Error($"STREAMINFO gives {bitsPerSample} bits per sample; FLAC allows 4 to 32");
            if (maxBlockSize < 16 && !(maxBlockSize == minBlock && maxBlockSize > 0))
            {
                // Only a stream of one short block may declare a maximum below 16; otherwise the header is corrupt.
                throw Error($"STREAMINFO gives a largest block of {maxBlockSize} samples; FLAC allows 16 to 65535");
            }
            if (minBlock > maxBlockSize) throw Error($"STREAMINFO gives a smallest block ({minBlock}) larger than the largest ({maxBlockSize})");
        }

        // ---- frames

        private static readonly int[] RateCodes = { 0, 88200, 176400, 192000, 8000, 16000, 22050, 24000, 32000, 44100, 48000, 96000 };
        private static readonly int[] SizeCodes = { 0, 8, 12, -1, 16, 20, 24, 32 };

        /// <summary>Decodes one frame into <paramref name="block"/> and returns its block size.</summary>
        private int ReadFrame(long[][] block, int frameIndex)
        {
            long start = pos;
            string where = $"frame {frameIndex}";
            Need(32, where + "'s header");
            Bits(14); // the sync code, matched by the caller
            if (Bits(1) != 0) throw Error($"{where}: the reserved bit after the sync code is set; the file is corrupt");
            if (Bits(1) == 1) seen?.Add("variable-blocking"); // fixed or variable: both are decoded alike
            int sizeCode = (int)Bits(4);
            seen?.Add($"block-size-code-{sizeCode}");
            int rateCode = (int)Bits(4);
            int channelCode = (int)Bits(4);
            int bitsCode = (int)Bits(3);
            if (Bits(1) != 0) throw Error($"{where}: the reserved header bit is set; the file is corrupt");
            ReadCodedNumber(where);
            int blockSize = sizeCode switch
            {
                0 => throw Error($"{where}: reserved block size code 0; the file is corrupt"),
                1 => 192,
                >= 2 and <= 5 => 576 << (sizeCode - 2),
                6 => -1,
                7 => -2,
                _ => 256 << (sizeCode - 8),
            };
            Need(40, where + "'s header");
            if (blockSize == -1) blockSize = (int)Bits(8) + 1;
            else if (blockSize == -2) blockSize = (int)Bits(16) + 1;
            int rate = rateCode switch
            {
                0 => sampleRate,
                12 => (int)Bits(8) * 1000,
                13 => (int)Bits(16),
                14 => (int)Bits(16) * 10,
                15 => throw Error($"{where}: invalid sample rate code 15; the file is corrupt"),
                _ => RateCodes[rateCode],
            };
            int bits = bitsCode == 0 ? bitsPerSample : SizeCodes[bitsCode];
            if (bits < 0) throw Error($"{where}: reserved sample size code 3; the file is corrupt");
            long headerEnd = pos;
            int crc8 = (int)Bits(8);
            int computed = Crc8(data.AsSpan((int)(start / 8), (int)((headerEnd - start) / 8)));
            if (checksums && crc8 != computed) throw Error($"{where} at byte {start / 8}: header CRC-8 mismatch (0x{crc8:x2} stored, 0x{computed:x2} computed); the file is corrupt");

            if (rate != sampleRate) throw Error($"{where}: sample rate {rate} Hz differs from STREAMINFO's {sampleRate} Hz");
            if (bits != bitsPerSample) throw Error($"{where}: {bits} bits per sample differ from STREAMINFO's {bitsPerSample}");
            if (blockSize > block[0].Length)
            {
                if (maxBlockSize != 0 && blockSize > maxBlockSize)
                    throw Error($"{where}: a block of {blockSize} samples exceeds STREAMINFO's largest block ({maxBlockSize})");
                for (int c = 0; c < channels; c++) block[c] = new long[blockSize];
            }
            int frameChannels = channelCode switch
            {
                <= 7 => channelCode + 1,
                8 or 9 or 10 => 2,
                _ => throw Error($"{where}: reserved channel assignment {channelCode}; the file is corrupt"),
            };
            seen?.Add(channelCode switch { 8 => "left-side", 9 => "right-side", 10 => "mid-side", _ => "independent" });
            if (frameChannels != channels) throw Error($"{where}: {frameChannels} channels differ from STREAMINFO's {channels}");

            for (int c = 0; c < channels; c++)
            {
                // The side channel of a decorrelated pair carries one bit more.
                bool side = (channelCode == 8 && c == 1) || (channelCode == 9 && c == 0) || (channelCode == 10 && c == 1);
                ReadSubframe(block[c], blockSize, bits + (side ? 1 : 0), $"{where}, channel {c}");
            }
            AlignToByte();
            Need(16, where + "'s CRC-16");
            long frameEnd = pos;
            int crc16 = (int)Bits(16);
            int computed16 = Crc16(data.AsSpan((int)(start / 8), (int)((frameEnd - start) / 8)));
            if (checksums && crc16 != computed16) throw Error($"{where} at byte {start / 8}: frame CRC-16 mismatch (0x{crc16:x4} stored, 0x{computed16:x4} computed); the file is corrupt");

            var a = block[0];
            switch (channelCode)
            {
                case 8: // left, side: right = left - side
                {
                    var s = block[1];
                    for (int i = 0; i < blockSize; i++) s[i] = a[i] - s[i];
                    break;
                }
                case 9: // side, right: left = side + right
                {
                    var r = block[1];
                    for (int i = 0; i < blockSize; i++) a[i] += r[i];
                    break;
                }
                case 10: // mid, side
                {
                    var s = block[1];
                    for (int i = 0; i < blockSize; i++)
                    {
                        long side = s[i];
                        long mid = (a[i] << 1) | (side & 1);
                        a[i] = (mid + side) >> 1;
                        s[i] = (mid - side) >> 1;
                    }
                    break;
                }
            }
            return blockSize;
        }

        /// <summary>The frame or sample number, in FLAC's extended UTF-8 coding (1 to 7 bytes).</summary>
        private void ReadCodedNumber(string where)
        {
            Need(8, where + "'s header");
            uint first = Bits(8);
            int more = first switch
            {
                < 0x80 => 0,
                >= 0xC0 and < 0xE0 => 1,
                >= 0xE0 and < 0xF0 => 2,
                >= 0xF0 and < 0xF8 => 3,
                >= 0xF8 and < 0xFC => 4,
                >= 0xFC and < 0xFE => 5,
                0xFE => 6,
                _ => -1,
            };
            if (more < 0) throw Error($"{where}: invalid coded frame number (first byte 0x{first:x2}); the file is corrupt");
            Need(8L * more, where + "'s header");
            for (int i = 0; i < more; i++)
            {
                if ((Bits(8) & 0xC0) != 0x80) throw Error($"{where}: invalid coded frame number; the file is corrupt");
            }
        }

        // ---- subframes

        private void ReadSubframe(long[] x, int n, int bits, string where)
        {
            Need(8, where);
            if (Bits(1) != 0) throw Error($"{where}: subframe padding bit is set; the file is corrupt");
            int type = (int)Bits(6);
            int wasted = 0;
            if (Bits(1) == 1)
            {
                wasted = (int)Math.Min(Unary(where) + 1, 64);
                if (wasted >= bits) throw Error($"{where}: {wasted} wasted bits leave none of the {bits} bits per sample; the file is corrupt");
                seen?.Add("wasted-bits");
            }
            int b = bits - wasted;
            if (type == 0)
            {
                seen?.Add("constant");
                Need(b, where);
                long v = Signed(b);
                Array.Fill(x, v, 0, n);
            }
            else if (type == 1)
            {
                seen?.Add("verbatim");
                Need((long)n * b, where + "'s verbatim samples");
                for (int i = 0; i < n; i++) x[i] = Signed(b);
            }
            else if (type >= 8 && type <= 12)
            {
                int order = type - 8;
                seen?.Add($"fixed-{order}");
                if (order > n) throw Error($"{where}: fixed predictor order {order} exceeds the block of {n} samples");
                Need((long)order * b, where + "'s warm-up samples");
                for (int i = 0; i < order; i++) x[i] = Signed(b);
                ReadResidual(x, n, order, where);
                RestoreFixed(x, n, order);
            }
            else if (type >= 32)
            {
                int order = type - 31;
                seen?.Add("lpc");
                if (order > n) throw Error($"{where}: LPC order {order} exceeds the block of {n} samples");
                Need((long)order * b + 9, where + "'s warm-up samples");
                for (int i = 0; i < order; i++) x[i] = Signed(b);
                int precision = (int)Bits(4) + 1;
                if (precision == 16) throw Error($"{where}: invalid LPC coefficient precision code 15; the file is corrupt");
                int shift = (int)Signed(5);
                if (shift < 0) throw Error($"{where}: negative LPC shift {shift}; the file is corrupt");
                Need((long)order * precision, where + "'s LPC coefficients");
                Span<long> coefs = stackalloc long[order];
                for (int i = 0; i < order; i++) coefs[i] = Signed(precision);
                ReadResidual(x, n, order, where);
                RestoreLpc(x, n, coefs, shift);
            }
            else
            {
                throw Error($"{where}: reserved subframe type {type}; the file is corrupt");
            }
            if (wasted > 0)
            {
                for (int i = 0; i < n; i++) x[i] <<= wasted;
            }
        }

        private void ReadResidual(long[] x, int n, int order, string where)
        {
            Need(6, where + "'s residual");
            int method = (int)Bits(2);
            if (method > 1) throw Error($"{where}: reserved residual coding method {method}; the file is corrupt");
            int paramBits = method == 0 ? 4 : 5;
            seen?.Add(method == 0 ? "rice" : "rice2");
            int escape = method == 0 ? 15 : 31;
            int partitionOrder = (int)Bits(4);
            int partitions = 1 << partitionOrder;
            if ((n & (partitions - 1)) != 0 || (n >> partitionOrder) < order)
                throw Error($"{where}: residual partition order {partitionOrder} does not fit a block of {n} samples with predictor order {order}; the file is corrupt");
            int perPartition = n >> partitionOrder;
            int i = order;
            for (int p = 0; p < partitions; p++)
            {
                int count = p == 0 ? perPartition - order : perPartition;
                Need(paramBits, where + "'s residual");
                int k = (int)Bits(paramBits);
                if (k == escape)
                {
                    seen?.Add("escape");
                    Need(5, where + "'s residual");
                    int raw = (int)Bits(5);
                    Need((long)count * raw, where + "'s escaped residual");
                    for (int j = 0; j < count; j++) x[i++] = Signed(raw);
                    continue;
                }
                Need((long)count * (k + 1), where + "'s residual");
                int end = i + count;
                for (; i < end; i++)
                {
                    if (pos >= limitBits) throw Truncated(where + "'s residual");
                    ulong w = Peek64();
                    int lz = BitOperations.LeadingZeroCount(w);
                    ulong u;
                    if (lz + 1 + k <= 56)
                    {
                        u = ((ulong)lz << k) | (k == 0 ? 0 : (w << (lz + 1)) >> (64 - k));
                        pos += lz + 1 + k;
                    }
                    else
                    {
                        long q = Unary(where + "'s residual");
                        Need(k, where + "'s residual");
                        u = ((ulong)q << k) | Bits(k);
                    }
                    x[i] = (long)(u >> 1) ^ -(long)(u & 1);
                }
                if (pos > limitBits) throw Truncated(where + "'s residual");
            }
        }

        private static void RestoreFixed(long[] x, int n, int order)
        {
            switch (order)
            {
                case 1:
                    for (int i = 1; i < n; i++) x[i] += x[i - 1];
                    break;
                case 2:
                    for (int i = 2; i < n; i++) x[i] += 2 * x[i - 1] - x[i - 2];
                    break;
                case 3:
                    for (int i = 3; i < n; i++) x[i] += 3 * (x[i - 1] - x[i - 2]) + x[i - 3];
                    break;
                case 4:
                    for (int i = 4; i < n; i++) x[i] += 4 * (x[i - 1] + x[i - 3]) - 6 * x[i - 2] - x[i - 4];
                    break;
            }
        }

        private static void RestoreLpc(long[] x, int n, ReadOnlySpan<long> coefs, int shift)
        {
            int order = coefs.Length;
            for (int i = order; i < n; i++)
            {
                long sum = 0;
                for (int j = 0; j < order; j++) sum += coefs[j] * x[i - 1 - j];
                x[i] += sum >> shift;
            }
        }

        // ---- checksums

        private static readonly uint[] Crc8Table = MsbFirstCrc.Table(8, 0x07);
        private static readonly uint[] Crc16Table = MsbFirstCrc.Table(16, 0x8005);

        private static int Crc8(ReadOnlySpan<byte> bytes)
        {
            int c = 0;
            foreach (byte b in bytes) c = (int)Crc8Table[c ^ b];
            return c;
        }

        private static int Crc16(ReadOnlySpan<byte> bytes)
        {
            int c = 0;
            foreach (byte b in bytes) c = ((c << 8) ^ (int)Crc16Table[(c >> 8) ^ b]) & 0xFFFF;
            return c;
        }
    }
}

/// <summary>Lookup tables of the MSB-first (not reflected) CRCs that FLAC (CRC-8, CRC-16) and Ogg (CRC-32) use.</summary>
internal static class MsbFirstCrc
{
    /// <summary>The table for a CRC of <paramref name="width"/> bits (8 to 32) with <paramref name="polynomial"/>.</summary>
    public static uint[] Table(int width, uint polynomial)
    {
        uint top = 1u << (width - 1);
        uint mask = width == 32 ? uint.MaxValue : (1u << width) - 1;
        var t = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            uint c = i << (width - 8);
            for (int b = 0; b < 8; b++) c = ((c & top) != 0 ? (c << 1) ^ polynomial : c << 1) & mask;
            t[i] = c;
        }
        return t;
    }
}
