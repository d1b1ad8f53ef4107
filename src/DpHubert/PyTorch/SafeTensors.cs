using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using static TorchSharp.torch;

namespace DpHubert.PyTorch;

/// <summary>
/// Our own, not PyBridge's: we need the <c>__metadata__</c> header (a config travels there), file order, and a typed error naming the file for a malformed header.
/// Reads and writes the Hugging Face safetensors format: an 8-byte little-endian header length, a JSON header
/// mapping each tensor name to its dtype, shape and data_offsets (relative to the data section), then the data.
/// </summary>
public static class SafeTensors
{
    // The reference implementation refuses headers over 100 MB; so do we, before allocating.
    private const long MaxHeaderBytes = 100_000_000;

    /// <summary>Loads every tensor of a .safetensors file onto the CPU. Malformed files throw <see cref="CheckpointFormatException"/>.</summary>
    public static SafeTensorsFile Load(string path)
    {
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return Load(fs, path);
    }

    /// <summary>Loads a safetensors stream (which must be seekable); <paramref name="displayName"/> names it in errors.</summary>
    public static SafeTensorsFile Load(Stream stream, string displayName)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var file = displayName;
        var length = stream.Length - stream.Position;
        Span<byte> lenBytes = stackalloc byte[8];
        if (stream.ReadAtLeast(lenBytes, 8, throwOnEndOfStream: false) < 8)
            throw new CheckpointFormatException("not a safetensors file: shorter than its 8-byte header length", file);
        var headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lenBytes);
        if (headerLength > MaxHeaderBytes || (long)headerLength > length - 8)
            throw new CheckpointFormatException($"safetensors header length {headerLength} exceeds the file ({length} bytes)", file);
        var headerBytes = new byte[headerLength];
        stream.ReadExactly(headerBytes);
        var dataStart = stream.Position;
        var dataLength = length - 8 - (long)headerLength;

        var entries = ParseHeader(headerBytes, dataLength, file, out var metadata);

        var tensors = new List<KeyValuePair<string, Tensor>>(entries.Count);
        try
        {
            foreach (var e in entries)
            {
                stream.Position = dataStart + e.Begin;
                var numel = TensorData.Numel(e.Shape, file, e.Name);
                using var flat = TensorData.ReadStorage(stream, e.DType, numel, !BitConverter.IsLittleEndian, file, e.Name);
                tensors.Add(new(e.Name, flat.reshape(e.Shape)));
            }
        }
        catch
        {
            foreach (var kv in tensors)
                kv.Value.Dispose();
            throw;
        }
        return new SafeTensorsFile(tensors, metadata);
    }

    /// <summary>
    /// Writes tensors (in the given order, each made contiguous and moved to the CPU) and optional string metadata.
    /// The file appears only once complete.
    /// </summary>
    public static void Save(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var list = tensors.ToList();
        var names = new HashSet<string>();
        using var header = new MemoryStream();
        using (var json = new Utf8JsonWriter(header))
        {
            json.WriteStartObject();
            if (metadata is not null && metadata.Count > 0)
            {
                json.WriteStartObject("__metadata__");
                foreach (var kv in metadata)
                    json.WriteString(kv.Key, kv.Value);
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var (name, t) in list)
            {
                if (name == "__metadata__" || !names.Add(name))
                    throw new ArgumentException($"tensor name '{name}' is reserved or repeated", nameof(tensors));
                var bytes = checked(t.numel() * TensorData.ElementSize(t.dtype));
                json.WriteStartObject(name);
                json.WriteString("dtype", DTypeNames.SafeTensors.NameOf(t.dtype));
                json.WriteStartArray("shape");
                foreach (var d in t.shape)
                    json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + bytes);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += bytes;
            }
            json.WriteEndObject();
        }
        // Pad the header with spaces so the data starts 8-byte aligned, as the reference writer does.
        var pad = (int)((8 - header.Length % 8) % 8);
        for (var i = 0; i < pad; i++)
            header.WriteByte((byte)' ');

        AtomicFile.Write(path, fs =>
        {
            Span<byte> len = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)header.Length);
            fs.Write(len);
            header.WriteTo(fs);
            foreach (var kv in list)
                TensorData.WriteTensor(fs, kv.Value);
        });
    }

    private sealed record Entry(string Name, ScalarType DType, long[] Shape, long Begin, long End);

    private static List<Entry> ParseHeader(byte[] headerBytes, long dataLength, string file, out Dictionary<string, string> metadata)
    {
        metadata = new Dictionary<string, string>();
        var entries = new List<Entry>();
        JsonDocument doc;
        // JsonDocument only transcodes names and strings when read, so invalid UTF-8 would surface later as an
        // InvalidOperationException: refuse it here.
        if (!System.Text.Unicode.Utf8.IsValid(headerBytes))
            throw new CheckpointFormatException("safetensors header is not valid UTF-8 JSON", file);
        try
        {
            doc = JsonDocument.Parse(headerBytes);
        }
        catch (JsonException e)
        {
            throw new CheckpointFormatException($"safetensors header is not valid JSON: {e.Message}", file, null, e);
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new CheckpointFormatException("safetensors header is not a JSON object", file);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                var name = prop.Name;
                // JSON allows a repeated name; a tensor file with two tensors of one name is corrupt, not a choice to make.
                if (!seen.Add(name)) throw new CheckpointFormatException("the header names this entry twice", file, name);
                if (name == "__metadata__")
                {
                    if (prop.Value.ValueKind != JsonValueKind.Object)
                        throw new CheckpointFormatException("__metadata__ is not an object", file, name);
                    foreach (var m in prop.Value.EnumerateObject())
                        metadata[m.Name] = m.Value.ValueKind == JsonValueKind.String
                            ? m.Value.GetString()!
                            : throw new CheckpointFormatException("metadata values must be strings", file, m.Name);
                    continue;
                }
                entries.Add(ParseEntry(name, prop.Value, dataLength, file));
            }
        }

        // Tensors must not share bytes (the format has no views).
        var sorted = entries.Where(e => e.End > e.Begin).OrderBy(e => e.Begin).ToList();
        for (var i = 1; i < sorted.Count; i++)
            if (sorted[i].Begin < sorted[i - 1].End)
                throw new CheckpointFormatException(
                    $"data_offsets [{sorted[i].Begin}, {sorted[i].End}) overlap tensor '{sorted[i - 1].Name}'", file, sorted[i].Name);
        return entries;
    }

    private static Entry ParseEntry(string name, JsonElement value, long dataLength, string file)
    {
        if (value.ValueKind != JsonValueKind.Object
            || !value.TryGetProperty("dtype", out var dtypeEl) || dtypeEl.ValueKind != JsonValueKind.String
            || !value.TryGetProperty("shape", out var shapeEl) || shapeEl.ValueKind != JsonValueKind.Array
            || !value.TryGetProperty("data_offsets", out var offEl) || offEl.ValueKind != JsonValueKind.Array
            || offEl.GetArrayLength() != 2)
            throw new CheckpointFormatException("tensor entry needs dtype, shape and two data_offsets", file, name);
        var dtypeName = dtypeEl.GetString()!;
        if (!DTypeNames.SafeTensors.TryParse(dtypeName, out var dtype))
            throw new CheckpointFormatException($"unsupported safetensors dtype '{dtypeName}'", file, name);
        var shape = new long[shapeEl.GetArrayLength()];
        var i = 0;
        foreach (var d in shapeEl.EnumerateArray())
            shape[i++] = d.ValueKind == JsonValueKind.Number && d.TryGetInt64(out var v) && v >= 0
                ? v
                : throw new CheckpointFormatException("shape entries must be non-negative integers", file, name);
        var offsets = offEl.EnumerateArray().Select(o =>
            o.ValueKind == JsonValueKind.Number && o.TryGetInt64(out var v) && v >= 0
                ? v
                : throw new CheckpointFormatException("data_offsets must be non-negative integers", file, name)).ToArray();
        var (begin, end) = (offsets[0], offsets[1]);
        if (begin > end || end > dataLength)
            throw new CheckpointFormatException(
                $"data_offsets [{begin}, {end}) out of range of the {dataLength}-byte data section", file, name);
        var numel = TensorData.Numel(shape, file, name);
        long expected;
        try
        {
            expected = checked(numel * TensorData.ElementSize(dtype));
        }
        catch (OverflowException)
        {
            throw new CheckpointFormatException("tensor size overflows", file, name);
        }
        if (end - begin != expected)
            throw new CheckpointFormatException(
                $"data_offsets span {end - begin} bytes but dtype {dtypeName} and shape [{string.Join(", ", shape)}] need {expected}", file, name);
        return new Entry(name, dtype, shape, begin, end);
    }
}
