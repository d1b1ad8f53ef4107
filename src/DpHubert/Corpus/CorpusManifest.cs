using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace DpHubert.Corpus;

/// <summary>One feature file of a corpus run, as one line of a <see cref="CorpusManifest"/>.</summary>
/// <param name="Input">The audio file, relative to the input folder, '/'-separated.</param>
/// <param name="Output">The feature file, relative to the output folder, '/'-separated.</param>
/// <param name="Frames">Number of frames.</param>
/// <param name="Dim">Feature dimension.</param>
/// <param name="Seconds">Audio duration: samples after resampling to 16 kHz, divided by 16000.</param>
/// <param name="Shape">The array's shape as stored in the file.</param>
/// <param name="Bytes">The feature file's size.</param>
/// <param name="Sha256">SHA-256 of the feature file, lowercase hex.</param>
public sealed record ManifestEntry(string Input, string Output, long Frames, long Dim, double Seconds, long[] Shape, long Bytes, string Sha256)
{
    /// <summary>The entry as one line of JSON (no newline): input, output, frames, dim, seconds, shape, bytes, sha256.</summary>
    public string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("input", Input);
            w.WriteString("output", Output);
            w.WriteNumber("frames", Frames);
            w.WriteNumber("dim", Dim);
            w.WriteNumber("seconds", Seconds);
            w.WriteStartArray("shape");
            foreach (var d in Shape) w.WriteNumberValue(d);
            w.WriteEndArray();
            w.WriteNumber("bytes", Bytes);
            w.WriteString("sha256", Sha256);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Parses one manifest line; null when it is not a complete entry (a torn or foreign line).</summary>
    public static ManifestEntry? TryParse(string line)
    {
        try
        {
            using var doc = JsonDocument.Parse(line);
            var o = doc.RootElement;
            if (o.ValueKind != JsonValueKind.Object) return null;
            var shape = o.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray();
            var sha = o.GetProperty("sha256").GetString();
            if (sha is not { Length: 64 }) return null;
            return new ManifestEntry(
                o.GetProperty("input").GetString() ?? throw new FormatException(),
                o.GetProperty("output").GetString() ?? throw new FormatException(),
                o.GetProperty("frames").GetInt64(), o.GetProperty("dim").GetInt64(), o.GetProperty("seconds").GetDouble(),
                shape, o.GetProperty("bytes").GetInt64(), sha);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            return null;
        }
    }

    /// <summary>Whether the file at <paramref name="outputPath"/> is the one this entry describes (same size and SHA-256).</summary>
    public bool Matches(string outputPath)
    {
        var info = new FileInfo(outputPath);
        return info.Exists && info.Length == Bytes && string.Equals(CorpusManifest.Sha256Of(outputPath), Sha256, StringComparison.Ordinal);
    }
}

/// <summary>
/// A JSON Lines manifest of a corpus run, one <see cref="ManifestEntry"/> per line. The file is held open with an
/// exclusive lock for the run (a second run on the same manifest fails to open it); every line is appended and
/// flushed only after its feature file is in place, so a killed run leaves at most a torn last line, which the next
/// <see cref="Open"/> drops.
/// </summary>
public sealed class CorpusManifest : IDisposable
{
    private readonly FileStream stream;

    private CorpusManifest(string path, FileStream stream, List<ManifestEntry> entries, int unreadable)
    {
        Path = path;
        this.stream = stream;
        Entries = entries;
        UnreadableLines = unreadable;
    }

    /// <summary>The manifest file.</summary>
    public string Path { get; }

    /// <summary>The entries read at <see cref="Open"/>, in file order (duplicates and stale lines included).</summary>
    public IReadOnlyList<ManifestEntry> Entries { get; }

    /// <summary>Lines read at <see cref="Open"/> that were not complete entries (a torn last line, foreign text).</summary>
    public int UnreadableLines { get; }

    /// <summary>Opens (or creates) the manifest, locks it and reads its entries.</summary>
    /// <exception cref="IOException">It cannot be opened, or another process holds it; the message names the file.</exception>
    public static CorpusManifest Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var full = System.IO.Path.GetFullPath(path);
        var dir = System.IO.Path.GetDirectoryName(full);
        if (dir is not null) Directory.CreateDirectory(dir);
        FileStream fs;
        try
        {
            fs = new FileStream(full, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1 << 14);
        }
        catch (IOException e)
        {
            throw new IOException($"manifest '{path}' cannot be opened (is another run writing it? each shard needs its own manifest): {e.Message}", e);
        }
        try
        {
            var bytes = new byte[fs.Length];
            fs.ReadExactly(bytes);
            var entries = new List<ManifestEntry>();
            int unreadable = 0;
            int start = 0;
            while (start < bytes.Length)
            {
                int end = Array.IndexOf(bytes, (byte)'\n', start);
                if (end < 0)
                {
                    unreadable++; // a line without its newline was cut by a kill
                    break;
                }
                var line = Encoding.UTF8.GetString(bytes, start, end - start).Trim();
                start = end + 1;
                if (line.Length == 0) continue;
                if (ManifestEntry.TryParse(line) is { } e) entries.Add(e);
                else unreadable++;
            }
            return new CorpusManifest(path, fs, entries, unreadable);
        }
        catch
        {
            fs.Dispose();
            throw;
        }
    }

    /// <summary>Replaces the file's content with <paramref name="entries"/>, one line each.</summary>
    public void Rewrite(IEnumerable<ManifestEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var text = new StringBuilder();
        foreach (var e in entries) text.Append(e.ToJson()).Append('\n');
        stream.SetLength(0);
        stream.Position = 0;
        stream.Write(Encoding.UTF8.GetBytes(text.ToString()));
        stream.Flush(flushToDisk: true);
    }

    /// <summary>Appends one line and flushes it to the operating system (it survives the process being killed).</summary>
    public void Append(ManifestEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        stream.Seek(0, SeekOrigin.End);
        var line = Encoding.UTF8.GetBytes(entry.ToJson() + "\n");
        stream.Write(line); // one write: a kill leaves the line whole or absent (at worst torn, which Open drops)
        stream.Flush(flushToDisk: false);
    }

    /// <summary>Describes a written feature file: its size and SHA-256 from the file itself.</summary>
    public static ManifestEntry Describe(string input, string output, string outputPath, long frames, long dim, long[] shape, double seconds)
    {
        var info = new FileInfo(outputPath);
        return new ManifestEntry(input, output, frames, dim, Math.Round(seconds, 6), shape, info.Length, Sha256Of(outputPath));
    }

    /// <summary>SHA-256 of a file, lowercase hex.</summary>
    public static string Sha256Of(string path)
    {
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return Convert.ToHexString(SHA256.HashData(fs)).ToLowerInvariant();
    }

    /// <inheritdoc/>
    public void Dispose() => stream.Dispose();
}
