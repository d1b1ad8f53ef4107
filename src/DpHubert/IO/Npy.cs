using System;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;

namespace DpHubert.IO;

/// <summary>A NumPy array read from a <c>.npy</c> file: its shape and its values as float32 or int64.</summary>
/// <param name="Shape">Dimensions.</param>
/// <param name="Data">Values (floating-point dtypes) in C order, or null for integer arrays.</param>
/// <param name="IntData">Values (integer dtypes) in C order, or null for floating-point arrays.</param>
public sealed record NpyArray(long[] Shape, float[]? Data, long[]? IntData);

/// <summary>Reads and writes NumPy <c>.npy</c> files (version 1.0 / 2.0, little-endian, C order).</summary>
public static partial class Npy
{
    private static readonly byte[] Magic = { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y' };

    /// <summary>Writes a float32 array atomically (a temporary file renamed into place).</summary>
    /// <param name="path">Destination.</param>
    /// <param name="data">Values in C order.</param>
    /// <param name="shape">Dimensions; their product must equal the data length.</param>
    public static void WriteFloat32(string path, ReadOnlySpan<float> data, params long[] shape)
    {
        long count = shape.Aggregate(1L, (a, b) => a * b);
        if (count != data.Length)
            throw new ArgumentException($"Shape {Shapes.Format(shape)} holds {count} values, got {data.Length}.", nameof(shape));
        var bytes = MemoryMarshal.AsBytes(data).ToArray();
        AtomicFile.Write(path, s => Write(s, "<f4", shape, bytes));
    }

    /// <summary>Writes a float32 array to a stream.</summary>
    /// <param name="stream">Destination.</param>
    /// <param name="data">Values.</param>
    /// <param name="shape">Dimensions.</param>
    public static void WriteFloat32(Stream stream, ReadOnlySpan<float> data, params long[] shape) =>
        Write(stream, "<f4", shape, MemoryMarshal.AsBytes(data).ToArray());

    private static void Write(Stream s, string descr, long[] shape, byte[] payload)
    {
        string shapeText = shape.Length == 1 ? $"({shape[0]},)" : "(" + string.Join(", ", shape) + ")";
        string header = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shapeText}, }}";
        int total = Magic.Length + 2 + 2 + header.Length + 1;
        int pad = (64 - total % 64) % 64;
        header = header + new string(' ', pad) + "\n";
        s.Write(Magic);
        s.WriteByte(1);
        s.WriteByte(0);
        var len = BitConverter.GetBytes((ushort)header.Length);
        s.Write(len);
        s.Write(Encoding.ASCII.GetBytes(header));
        s.Write(payload);
    }

    /// <summary>Reads a <c>.npy</c> file of float16/32/64 or int32/64 values.</summary>
    /// <param name="path">The file.</param>
    /// <exception cref="InvalidDataException">Not a supported <c>.npy</c> file; the message names the file.</exception>
    public static NpyArray Read(string path)
    {
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < 10 || !bytes.AsSpan(0, 6).SequenceEqual(Magic))
            throw new InvalidDataException($"{path} is not a .npy file");
        int major = bytes[6];
        int headerLen = major == 1 ? BitConverter.ToUInt16(bytes, 8) : BitConverter.ToInt32(bytes, 8);
        int offset = major == 1 ? 10 : 12;
        string header = Encoding.ASCII.GetString(bytes, offset, headerLen);
        var descr = DescrRegex().Match(header).Groups[1].Value;
        if (header.Contains("'fortran_order': True", StringComparison.Ordinal))
            throw new InvalidDataException($"{path}: Fortran-ordered arrays are not supported");
        var shapeText = ShapeRegex().Match(header).Groups[1].Value;
        var shape = shapeText.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(x => long.Parse(x, CultureInfo.InvariantCulture)).ToArray();
        var payload = bytes.AsSpan(offset + headerLen);
        long count = shape.Aggregate(1L, (a, b) => a * b);
        switch (descr)
        {
            case "<f4": return new NpyArray(shape, MemoryMarshal.Cast<byte, float>(payload)[..(int)count].ToArray(), null);
            case "<f8": return new NpyArray(shape, MemoryMarshal.Cast<byte, double>(payload)[..(int)count].ToArray().Select(x => (float)x).ToArray(), null);
            case "<f2": return new NpyArray(shape, MemoryMarshal.Cast<byte, Half>(payload)[..(int)count].ToArray().Select(x => (float)x).ToArray(), null);
            case "<i8": return new NpyArray(shape, null, MemoryMarshal.Cast<byte, long>(payload)[..(int)count].ToArray());
            case "<i4": return new NpyArray(shape, null, MemoryMarshal.Cast<byte, int>(payload)[..(int)count].ToArray().Select(x => (long)x).ToArray());
            default: throw new InvalidDataException($"{path}: unsupported dtype '{descr}'");
        }
    }

    [GeneratedRegex("'descr':\\s*'([^']+)'")]
    private static partial Regex DescrRegex();

    [GeneratedRegex("'shape':\\s*\\(([^)]*)\\)")]
    private static partial Regex ShapeRegex();
}
