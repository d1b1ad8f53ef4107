using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;

namespace DpHubert.Tests.Audio;

/// <summary>Builds WAV files byte by byte, including malformed and unusual ones, for the reader tests.</summary>
internal static class WavBytes
{
    public const ushort Pcm = 0x0001;
    public const ushort Float = 0x0003;
    public const ushort Extensible = 0xFFFE;

    /// <summary>A fmt chunk body; for extensible, <paramref name="subFormat"/> is the sub-format tag.</summary>
    public static byte[] Fmt(ushort tag, int channels, int rate, int bits, int? blockAlign = null, ushort subFormat = 0, int validBits = 0)
    {
        int align = blockAlign ?? channels * ((bits + 7) / 8);
        int size = tag == Extensible ? 40 : tag == Pcm ? 16 : 18;
        var b = new byte[size];
        var s = b.AsSpan();
        BinaryPrimitives.WriteUInt16LittleEndian(s, tag);
        BinaryPrimitives.WriteUInt16LittleEndian(s[2..], (ushort)channels);
        BinaryPrimitives.WriteUInt32LittleEndian(s[4..], (uint)rate);
        BinaryPrimitives.WriteUInt32LittleEndian(s[8..], (uint)(rate * align));
        BinaryPrimitives.WriteUInt16LittleEndian(s[12..], (ushort)align);
        BinaryPrimitives.WriteUInt16LittleEndian(s[14..], (ushort)bits);
        if (size >= 18)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(s[16..], (ushort)(size - 18)); // cbSize
        }
        if (tag == Extensible)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(s[18..], (ushort)(validBits == 0 ? bits : validBits));
            BinaryPrimitives.WriteUInt32LittleEndian(s[20..], 0);
            BinaryPrimitives.WriteUInt16LittleEndian(s[24..], subFormat);
            new byte[] { 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71 }.CopyTo(s[26..]);
        }
        return b;
    }

    /// <summary>A chunk: id, size (the body length unless <paramref name="declaredSize"/>), body, pad byte if odd.</summary>
    public static byte[] Chunk(string id, byte[] body, uint? declaredSize = null, bool pad = true)
    {
        var ms = new MemoryStream();
        ms.Write(Encoding.ASCII.GetBytes(id));
        Span<byte> size = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(size, declaredSize ?? (uint)body.Length);
        ms.Write(size);
        ms.Write(body);
        if (pad && body.Length % 2 == 1)
        {
            ms.WriteByte(0);
        }
        return ms.ToArray();
    }

    public static byte[] Riff(uint? riffSize, params byte[][] chunks)
    {
        var body = chunks.SelectMany(c => c).ToArray();
        var ms = new MemoryStream();
        ms.Write("RIFF"u8);
        Span<byte> size = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(size, riffSize ?? (uint)(4 + body.Length));
        ms.Write(size);
        ms.Write("WAVE"u8);
        ms.Write(body);
        return ms.ToArray();
    }

    public static byte[] Riff(params byte[][] chunks) => Riff(null, chunks);

    /// <summary>A complete, well-formed file.</summary>
    public static byte[] Wav(byte[] fmt, byte[] data) => Riff(Chunk("fmt ", fmt), Chunk("data", data));

    /// <summary>Little-endian signed integers in <paramref name="bytes"/>-byte containers (8-bit: unsigned, offset 128).</summary>
    public static byte[] Ints(IReadOnlyList<int> values, int bytes)
    {
        var b = new byte[values.Count * bytes];
        for (int i = 0; i < values.Count; i++)
        {
            int v = bytes == 1 ? values[i] + 128 : values[i];
            for (int k = 0; k < bytes; k++)
            {
                b[i * bytes + k] = (byte)(v >> (8 * k));
            }
        }
        return b;
    }

    public static byte[] Floats(IReadOnlyList<float> values)
    {
        var b = new byte[values.Count * 4];
        for (int i = 0; i < values.Count; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(4 * i), values[i]);
        }
        return b;
    }

    public static byte[] Doubles(IReadOnlyList<double> values)
    {
        var b = new byte[values.Count * 8];
        for (int i = 0; i < values.Count; i++)
        {
            BinaryPrimitives.WriteDoubleLittleEndian(b.AsSpan(8 * i), values[i]);
        }
        return b;
    }
}

/// <summary>A read-only stream that cannot seek or report its length, like a pipe or HTTP body.</summary>
internal sealed class NonSeekableStream(byte[] bytes) : Stream
{
    private readonly MemoryStream _inner = new(bytes);
    /// <summary>Bytes handed out so far.</summary>
    public long Consumed => _inner.Position;
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    // Hand out at most 7 bytes per call to exercise partial reads.
    public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, Math.Min(count, 7));
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}

/// <summary>Minimal .npy reader for the committed fixtures (little-endian f4, f8, i2; C order).</summary>
internal static partial class Npy
{
    public static string Fixture(params string[] parts) =>
        Path.Combine(new[] { AppContext.BaseDirectory, "Fixtures", "audio" }.Concat(parts).ToArray());

    public static (float[] Data, long[] Shape) ReadFloat32(string path)
    {
        var (descr, shape, body) = Parse(path);
        return descr switch
        {
            "<f4" => (Enumerable.Range(0, body.Length / 4).Select(i => BinaryPrimitives.ReadSingleLittleEndian(body.AsSpan(4 * i))).ToArray(), shape),
            "<i2" => (Enumerable.Range(0, body.Length / 2).Select(i => BinaryPrimitives.ReadInt16LittleEndian(body.AsSpan(2 * i)) / 32768f).ToArray(), shape),
            _ => throw new InvalidDataException($"{path}: dtype {descr} is not float32/int16"),
        };
    }

    public static (double[] Data, long[] Shape) ReadFloat64(string path)
    {
        var (descr, shape, body) = Parse(path);
        if (descr != "<f8")
        {
            throw new InvalidDataException($"{path}: dtype {descr} is not float64");
        }
        return (Enumerable.Range(0, body.Length / 8).Select(i => BinaryPrimitives.ReadDoubleLittleEndian(body.AsSpan(8 * i))).ToArray(), shape);
    }

    private static (string Descr, long[] Shape, byte[] Body) Parse(string path)
    {
        var bytes = File.ReadAllBytes(path);
        if (bytes[0] != 0x93 || Encoding.ASCII.GetString(bytes, 1, 5) != "NUMPY")
        {
            throw new InvalidDataException($"{path} is not a .npy file");
        }
        int headerLength = bytes[6] == 1 ? BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8)) : (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8));
        int headerStart = bytes[6] == 1 ? 10 : 12;
        string header = Encoding.ASCII.GetString(bytes, headerStart, headerLength);
        if (header.Contains("'fortran_order': True", StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{path}: Fortran order is not supported");
        }
        string descr = DescrRegex().Match(header).Groups[1].Value;
        string shapeText = ShapeRegex().Match(header).Groups[1].Value;
        long[] shape = shapeText.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(long.Parse).ToArray();
        return (descr, shape, bytes[(headerStart + headerLength)..]);
    }

    [GeneratedRegex(@"'descr':\s*'([^']+)'")]
    private static partial Regex DescrRegex();

    [GeneratedRegex(@"'shape':\s*\(([^)]*)\)")]
    private static partial Regex ShapeRegex();
}
