using System;
using System.IO;

namespace DpHubert.Audio;

/// <summary>A whole compressed file in memory, followed by <see cref="Padding"/> zero bytes so that bit readers may
/// peek a few bytes past the end without a bounds check. Compressed audio is small next to the floats it decodes to.</summary>
/// <param name="Buffer">The bytes; only the first <paramref name="Length"/> are the file's.</param>
/// <param name="Length">The file's size.</param>
internal sealed record AudioBytes(byte[] Buffer, int Length)
{
    /// <summary>Zero bytes after the data.</summary>
    public const int Padding = 16;

    /// <summary>The file's bytes.</summary>
    public ReadOnlySpan<byte> Span => Buffer.AsSpan(0, Length);

    /// <summary>A read-only stream over the file's bytes.</summary>
    public MemoryStream OpenStream(int offset = 0) => new(Buffer, offset, Length - offset, writable: false);

    public static AudioBytes ReadFile(string path, int padding = Padding)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        return ReadStream(stream, path, "audio", padding);
    }

    /// <summary>Reads the stream to its end (it need not be seekable).</summary>
    public static AudioBytes ReadStream(Stream stream, string? name, string kind, int padding = Padding)
    {
        long known = stream.CanSeek ? Math.Max(0, stream.Length - stream.Position) : -1;
        int max = Array.MaxLength - padding;
        if (known > max) throw TooLarge(name, kind, known, max);
        var buffer = new byte[(known >= 0 ? known : 1 << 16) + padding];
        int length = 0;
        while (true)
        {
            if (length == buffer.Length - padding)
            {
                int extra = stream.ReadByte(); // full: either the end, or a stream longer than it said
                if (extra < 0) break;
                if (length >= max) throw TooLarge(name, kind, length + 1L, max);
                Array.Resize(ref buffer, (int)Math.Min(max, Math.Max(2L * length, 4096)) + padding);
                buffer[length++] = (byte)extra;
                continue;
            }
            int got = stream.Read(buffer, length, buffer.Length - padding - length);
            if (got == 0) break;
            length += got;
        }
        Array.Clear(buffer, length, buffer.Length - length);
        return new AudioBytes(buffer, length);
    }

    private static AudioFormatException TooLarge(string? name, string kind, long size, int max) =>
        new($"Cannot read {kind} {(name is null ? "stream" : $"'{name}'")}: {size} bytes or more is larger than one array can hold ({max} bytes)", name);
}
