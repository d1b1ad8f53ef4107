using System;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;

namespace DpHubert.IO;

public static partial class Npy
{
    /// <summary>
    /// The shape of a complete float32 <c>.npy</c> file, read from its header alone: null when the file is missing, is
    /// not a little-endian C-order float32 <c>.npy</c>, or its length differs from header plus shape × 4 bytes (a file
    /// cut short or with bytes appended).
    /// </summary>
    /// <param name="path">The file.</param>
    public static long[]? TryReadFloat32Shape(string path)
    {
        try
        {
            using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 4096);
            Span<byte> prefix = stackalloc byte[12];
            if (fs.ReadAtLeast(prefix, 12, throwOnEndOfStream: false) < 10 || !prefix[..6].SequenceEqual(Magic))
                return null;
            int major = prefix[6];
            long headerLen = major == 1 ? BitConverter.ToUInt16(prefix[8..10]) : major is 2 or 3 ? BitConverter.ToUInt32(prefix[8..12]) : -1;
            long offset = major == 1 ? 10 : 12;
            if (headerLen < 0 || headerLen > 1 << 20 || offset + headerLen > fs.Length)
                return null;
            var headerBytes = new byte[headerLen];
            fs.Position = offset;
            fs.ReadExactly(headerBytes);
            string header = Encoding.ASCII.GetString(headerBytes);
            if (DescrRegex().Match(header).Groups[1].Value != "<f4" || !header.Contains("'fortran_order': False", StringComparison.Ordinal))
                return null;
            var shapeMatch = ShapeRegex().Match(header);
            if (!shapeMatch.Success)
                return null;
            var dims = shapeMatch.Groups[1].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var shape = new long[dims.Length];
            for (int i = 0; i < dims.Length; i++)
                if (!long.TryParse(dims[i], NumberStyles.None, CultureInfo.InvariantCulture, out shape[i]))
                    return null;
            long count = shape.Aggregate(1L, (a, b) => checked(a * b));
            return fs.Length == offset + headerLen + checked(count * sizeof(float)) ? shape : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or OverflowException)
        {
            return null;
        }
    }
}
