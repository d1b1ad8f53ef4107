using System;
using System.Buffers.Binary;
using System.Globalization;
using System.IO;
using System.Security.Cryptography;
using System.Text;

namespace DpHubert.Corpus;

/// <summary>
/// One shard K of N over a corpus folder. An input belongs to shard
/// <c>uint64_be(sha256(utf8(relative path with '/' separators))[0..8]) mod N</c>, so the assignment depends only on
/// the input's own relative path: it is the same on every machine and run, does not move when other files are added
/// or removed, and the N shards together hold every input exactly once.
/// </summary>
/// <remarks>The same rule in Python: <c>int.from_bytes(hashlib.sha256(rel.encode()).digest()[:8], "big") % n</c>.
/// The path is hashed as the file system spells it (no Unicode normalization, case kept).</remarks>
public readonly record struct ShardSpec
{
    /// <summary>Creates shard <paramref name="index"/> of <paramref name="count"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">count &lt; 1, or index outside [0, count).</exception>
    public ShardSpec(int index, int count)
    {
        if (count < 1)
            throw new ArgumentOutOfRangeException(nameof(count), count, $"the shard count must be at least 1, got {count}.");
        if (index < 0 || index >= count)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"the shard index must be in 0..{count - 1} for {count} shard(s), got {index}.");
        Index = index;
        Count = count;
    }

    /// <summary>The shard's index K, 0 ≤ K &lt; N.</summary>
    public int Index { get; }

    /// <summary>The number of shards N.</summary>
    public int Count { get; }

    /// <summary>Every input: shard 0 of 1.</summary>
    public static ShardSpec All { get; } = new(0, 1);

    /// <summary>Parses <c>K/N</c> (decimal integers, 0 ≤ K &lt; N).</summary>
    /// <exception cref="FormatException">Not of the form K/N, or K or N out of range; the message quotes the text.</exception>
    public static ShardSpec Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parts = text.Split('/');
        if (parts.Length != 2
            || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int k)
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int n))
            throw new FormatException($"shard '{text}' is not of the form K/N with whole numbers 0 <= K < N (for example 0/4).");
        if (n < 1)
            throw new FormatException($"shard '{text}': the shard count N must be at least 1.");
        if (k >= n)
            throw new FormatException($"shard '{text}': the shard index K must be below N ({n} shards are numbered 0 to {n - 1}).");
        return new ShardSpec(k, n);
    }

    /// <summary>The 64-bit hash the assignment uses: the first 8 bytes of SHA-256 of the UTF-8 path, big-endian.</summary>
    /// <param name="relativePath">The input's path relative to the corpus root, '/'-separated.</param>
    public static ulong Hash(string relativePath)
    {
        ArgumentNullException.ThrowIfNull(relativePath);
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(relativePath), digest);
        return BinaryPrimitives.ReadUInt64BigEndian(digest);
    }

    /// <summary>The shard index of <paramref name="relativePath"/> among <paramref name="count"/> shards.</summary>
    public static int Of(string relativePath, int count)
    {
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), count, "the shard count must be at least 1.");
        return (int)(Hash(relativePath) % (ulong)count);
    }

    /// <summary>Whether the input at <paramref name="relativePath"/> ('/'-separated) belongs to this shard.</summary>
    public bool Contains(string relativePath) => Count <= 1 || Of(relativePath, Count) == Index;

    /// <summary><paramref name="path"/> relative to <paramref name="root"/> with '/' separators, the key that
    /// <see cref="Contains"/> hashes.</summary>
    public static string RelativeKey(string root, string path) =>
        Path.GetRelativePath(Path.GetFullPath(root), Path.GetFullPath(path)).Replace(Path.DirectorySeparatorChar, '/');

    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Index}/{Count}");
}
