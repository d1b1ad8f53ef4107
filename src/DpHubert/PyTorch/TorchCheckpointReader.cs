using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Numerics;
using System.Text;
using static TorchSharp.torch;

namespace DpHubert.PyTorch;

/// <summary>
/// Our own, not TorchSharp's <c>torch.load</c> or PyBridge's: checkpoints carry configs (omegaconf, argparse), legacy pre-1.6 files and foreign classes, and every global must pass an allow-list, never run.
/// Reads files written by <c>torch.save</c> (the zip format of PyTorch ≥ 1.6 and the legacy format older
/// fairseq checkpoints use) without Python and without running any code from the file.
/// </summary>
/// <remarks>
/// Values come back as a <see cref="TorchCheckpointData"/> owning every tensor, whose <see cref="PyValue"/> tree holds: dict / OrderedDict / defaultdict / omegaconf DictConfig / argparse.Namespace →
/// <see cref="PyDict"/>; list / set / omegaconf ListConfig → <c>List&lt;object?&gt;</c>; tuple and torch.Size →
/// <c>object?[]</c>; int → <see cref="long"/> (<see cref="BigInteger"/> beyond 64 bits); float → <see cref="double"/>;
/// bool; str → <see cref="string"/>; None → null; bytes → <c>byte[]</c>; torch dtypes and types used as values →
/// their qualified name as a string; tensors and parameters → contiguous CPU <see cref="Tensor"/>s owned by the
/// caller (a tensor spanning a whole storage may share memory with another that does, as after torch.load).
/// Calling a global outside a weights_only-style allow-list raises <see cref="UnsafePickleException"/>; an object of
/// such a class that pickle merely instantiates (fairseq's label <c>Dictionary</c>, trainer state) becomes an
/// <see cref="InertRecord"/>, unless a tensor is reachable from it, which is refused too.
/// </remarks>
public static class TorchCheckpointReader
{
    private static readonly BigInteger LegacyMagic = BigInteger.Parse("119547037146038801333356");
    private const long LegacyProtocolVersion = 1001;

    /// <summary>Loads a checkpoint file. Format errors throw <see cref="CheckpointFormatException"/>.</summary>
    /// <returns>The value tree and the tensors it owns: dispose it (or take its tensors).</returns>
    public static TorchCheckpointData Load(string path)
    {
        using var stream = Open(path);
        return Load(stream, path, () => Open(path));
    }

    private static FileStream Open(string path) => new(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);

    /// <summary>
    /// Loads a checkpoint from a stream; <paramref name="displayName"/> names it in error messages. A stream
    /// that cannot seek is first copied into memory (the zip format needs random access).
    /// </summary>
    /// <returns>The value tree and the tensors it owns: dispose it (or take its tensors).</returns>
    public static TorchCheckpointData Load(Stream s, string displayName) => Load(s, displayName, null);

    /// <summary><see cref="Load(Stream, string)"/>; <paramref name="reopen"/> opens the same file again, so that a zip
    /// checkpoint's storages can be read by two threads (null: one).</summary>
    private static TorchCheckpointData Load(Stream s, string displayName, Func<Stream>? reopen)
    {
        ArgumentNullException.ThrowIfNull(s);
        if (!s.CanSeek)
        {
            var copy = new MemoryStream();
            s.CopyTo(copy);
            copy.Position = 0;
            using (copy)
                return Load(copy, displayName, null);
        }

        var start = s.Position;
        Span<byte> head = stackalloc byte[4];
        var n = s.ReadAtLeast(head, 4, throwOnEndOfStream: false);
        s.Position = start;
        if (n == 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4)
        {
            try
            {
                return LoadZip(s, displayName, s.Position == 0 ? reopen : null);
            }
            catch (InvalidDataException e)
            {
                // ZipArchive reads parts of its directory lazily, so a corrupt archive can fail past the checks in LoadZip.
                throw new CheckpointFormatException($"corrupt zip archive: {e.Message}", displayName, null, e);
            }
            catch (Exception e) when (IsMalformedPickle(e))
            {
                throw new CheckpointFormatException($"malformed pickle: {e.Message}", displayName, null, e);
            }
        }
        if (n >= 2 && head[0] == 0x80)
        {
            try
            {
                return LoadLegacy(s, displayName);
            }
            catch (Exception e) when (IsMalformedPickle(e))
            {
                throw new CheckpointFormatException($"malformed pickle: {e.Message}", displayName, null, e);
            }
        }
        throw new CheckpointFormatException("not a torch checkpoint (neither a zip archive nor a pickle)", displayName);
    }

    /// <summary>What a corrupt pickle stream makes .NET parsing throw (found by the fuzz tests): a bad number in a text
    /// opcode, a value of the wrong type where a structure is expected, an index past a list.</summary>
    private static bool IsMalformedPickle(Exception e) => e is FormatException or OverflowException or InvalidCastException
        or IndexOutOfRangeException or ArgumentException or EndOfStreamException or KeyNotFoundException or InvalidDataException
        or InvalidOperationException;

    private static TorchCheckpointData LoadZip(Stream s, string file, Func<Stream>? reopen)
    {
        ZipArchive zip;
        try
        {
            zip = new ZipArchive(s, ZipArchiveMode.Read, leaveOpen: true);
        }
        catch (InvalidDataException e)
        {
            throw new CheckpointFormatException($"corrupt zip archive: {e.Message}", file, null, e);
        }
        using (zip)
        {
            // torch names records "<archive>/..."; the archive folder is whatever the writer chose.
            var pkl = zip.Entries.FirstOrDefault(e => e.FullName.EndsWith("data.pkl", StringComparison.Ordinal)
                                                      && e.FullName.Count(c => c == '/') == 1)
                      ?? throw new CheckpointFormatException("zip archive has no <archive>/data.pkl record; not a torch checkpoint", file);
            var prefix = pkl.FullName[..^"data.pkl".Length];

            var swap = false;
            var byteOrder = zip.GetEntry(prefix + "byteorder");
            if (byteOrder is not null)
            {
                var order = Encoding.ASCII.GetString(ReadEntry(byteOrder, file)).Trim();
                swap = order switch
                {
                    "little" => !BitConverter.IsLittleEndian,
                    "big" => BitConverter.IsLittleEndian,
                    _ => throw new CheckpointFormatException($"unknown byteorder '{order}'", file, byteOrder.FullName),
                };
            }

            var storages = new Dictionary<string, StorageRef>();
            object? PersistentLoad(object? pid) => ParseStoragePid(pid, file, legacy: false, storages);

            object? graph;
            using (var pklStream = new MemoryStream(ReadEntry(pkl, file)))
                graph = new Unpickler(pklStream, file, PersistentLoad).Load();

            Tensor ReadStorage(ZipArchive archive, StorageRef root)
            {
                var name = prefix + "data/" + root.RootKey;
                var entry = archive.GetEntry(name)
                            ?? throw new CheckpointFormatException("missing storage record", file, name);
                var expected = checked(root.Numel * TensorData.ElementSize(root.DType));
                if (entry.Length != expected)
                    throw new CheckpointFormatException(
                        $"truncated storage: expected {expected} bytes, found {entry.Length}", file, name);
                try
                {
                    using var data = entry.Open();
                    return TensorData.ReadStorage(data, root.DType, root.Numel, swap, file, name);
                }
                catch (InvalidDataException e)
                {
                    throw new CheckpointFormatException($"corrupt zip record: {e.Message}", file, name, e);
                }
            }

            // Every storage the pickle referenced, read before the tree is built (on two threads where that pays).
            using var reads = StorageReads.Run(storages.Values.Where(r => r.Key == r.RootKey).ToList(), zip, reopen, ReadStorage);
            return new GraphConverter(file, reads.Take, storages).Convert(graph, reads.Readers);
        }
    }

    private static byte[] ReadEntry(ZipArchiveEntry entry, string file)
    {
        try
        {
            using var stream = entry.Open();
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            return buffer.ToArray();
        }
        catch (InvalidDataException e)
        {
            throw new CheckpointFormatException($"corrupt zip record: {e.Message}", file, entry.FullName, e);
        }
    }

    /// <summary>
    /// Persistent ids are ('storage', storage_type, key, location, numel) and, in the legacy format, a sixth
    /// element view_metadata = (view_key, offset, view_size) or None.
    /// </summary>
    private static StorageRef ParseStoragePid(object? pid, string file, bool legacy, Dictionary<string, StorageRef> storages)
    {
        if (pid is object?[] { Length: >= 5 } t && t[0] is "storage")
        {
            if (t[1] is not PyGlobal { Module: "torch" } type || !DTypeNames.TorchStorage.TryParse(type.Name, out var dtype))
                throw new CheckpointFormatException($"unknown storage type {t[1]}", file);
            var key = t[2] switch
            {
                string str => str,
                long l => l.ToString(System.Globalization.CultureInfo.InvariantCulture),
                _ => throw new CheckpointFormatException("storage key is not a string", file),
            };
            if (t[4] is not long numel || numel < 0)
                throw new CheckpointFormatException("storage size is not a non-negative integer", file, key);
            if (storages.TryGetValue(key, out var known))
            {
                if (known.DType != dtype || known.Numel != numel)
                    throw new CheckpointFormatException("storage is referenced with different dtypes or sizes", file, key);
            }
            else
                storages[key] = new StorageRef(key, dtype, numel, key, 0);

            if (legacy && t.Length >= 6 && t[5] is object?[] { Length: 3 } view)
            {
                if (view[0] is not string viewKey || view[1] is not long viewOffset || view[2] is not long viewSize
                    || viewOffset < 0 || viewSize < 0 || viewOffset + viewSize > numel)
                    throw new CheckpointFormatException("bad storage view metadata", file, key);
                return new StorageRef(viewKey, dtype, viewSize, key, viewOffset);
            }
            return storages[key];
        }
        if (pid is object?[] { Length: > 0 } m && m[0] is "module")
            throw new UnsafePickleException("torch.nn.Module source (a pickled whole model)", file);
        if (pid is string)
            throw new CheckpointFormatException($"unsupported persistent id '{pid}'", file);
        throw new CheckpointFormatException("unsupported persistent id", file);
    }

    private static TorchCheckpointData LoadLegacy(Stream s, string file)
    {
        static object? NoPersistent(object? pid) => throw new InvalidOperationException("unexpected persistent id");

        var magic = new Unpickler(s, file, NoPersistent).Load();
        if (!(magic is BigInteger m && m == LegacyMagic))
            throw new CheckpointFormatException("pickle is not a torch checkpoint (legacy magic number missing)", file);
        var protocol = new Unpickler(s, file, NoPersistent).Load();
        if (protocol is not LegacyProtocolVersion)
            throw new CheckpointFormatException($"unsupported legacy torch protocol version {protocol}", file);
        var sysInfo = new Unpickler(s, file, NoPersistent).Load() as PyDict
                      ?? throw new CheckpointFormatException("legacy sys_info record is missing", file);
        var littleEndian = !sysInfo.TryGetValue("little_endian", out var le) || le is not false;
        var swap = littleEndian != BitConverter.IsLittleEndian;

        var storages = new Dictionary<string, StorageRef>();
        var graph = new Unpickler(s, file, pid => ParseStoragePid(pid, file, legacy: true, storages)).Load();
        var keys = new Unpickler(s, file, NoPersistent).Load() as List<object?>
                   ?? throw new CheckpointFormatException("legacy storage key list is missing", file);

        // Storage bytes follow the pickles, in key-list order: an int64 element count, then the elements.
        var loaded = new Dictionary<string, Tensor>();
        try
        {
            Span<byte> countBytes = stackalloc byte[8];
            foreach (var k in keys)
            {
                var key = k as string ?? throw new CheckpointFormatException("legacy storage key is not a string", file);
                if (!storages.TryGetValue(key, out var storage))
                    throw new CheckpointFormatException("storage listed but never referenced", file, key);
                if (s.ReadAtLeast(countBytes, 8, throwOnEndOfStream: false) < 8)
                    throw new CheckpointFormatException("truncated storage: missing its element count", file, key);
                if (swap)
                    countBytes.Reverse();
                var count = BitConverter.ToInt64(countBytes);
                if (count != storage.Numel)
                    throw new CheckpointFormatException(
                        $"storage holds {count} elements but the pickle expects {storage.Numel}", file, key);
                loaded[key] = TensorData.ReadStorage(s, storage.DType, storage.Numel, swap, file, key);
            }

            Tensor LoadStorage(StorageRef root)
            {
                if (!loaded.Remove(root.RootKey, out var t))
                    throw new CheckpointFormatException("missing storage record", file, root.RootKey);
                return t;
            }

            return new GraphConverter(file, LoadStorage, storages).Convert(graph);
        }
        finally
        {
            foreach (var t in loaded.Values)
                t.Dispose();
        }
    }

    /// <summary>
    /// Turns the unpickler's raw graph into the public value model: materialises tensors and flattens omegaconf
    /// and Namespace objects. Plain containers are converted in place; shared references stay shared.
    /// </summary>
    private sealed class GraphConverter
    {
        private readonly string _file;
        private readonly Func<StorageRef, Tensor> _loadStorage;
        private readonly Dictionary<string, StorageRef> _storages;
        private readonly Dictionary<string, Tensor> _roots = new();
        private readonly Dictionary<object, object?> _done = new(ReferenceEqualityComparer.Instance);
        private readonly List<Tensor> _created = new();
        private int _depth;

        // Deeper nesting than any real checkpoint; guards the recursive walk against crafted pickles.
        private const int MaxDepth = 2000;

        public GraphConverter(string file, Func<StorageRef, Tensor> loadStorage, Dictionary<string, StorageRef> storages)
        {
            _file = file;
            _loadStorage = loadStorage;
            _storages = storages;
        }

        public TorchCheckpointData Convert(object? graph, int readers = 1)
        {
            var ok = false;
            try
            {
                var result = new TorchCheckpointData(_file, Visit(graph), _created) { StorageReaders = readers };
                ok = true;
                return result;
            }
            finally
            {
                foreach (var root in _roots.Values)
                    root.Dispose();
                if (!ok)
                    foreach (var t in _created)
                        t.Dispose();
            }
        }

        private object? Visit(object? value)
        {
            switch (value)
            {
                case null or string or long or double or bool or byte[] or BigInteger:
                    return value;
                case PyGlobal g:
                    return g.FullName;
                case NumpyDType dt:
                    return dt.Descr;
                case PyTypeExpr te:
                    return te.Text;
                case ForeignGlobal fg:
                    return new InertRecord(fg.FullName, isTypeReference: true);
            }
            if (_done.TryGetValue(value, out var converted))
                return converted;
            if (++_depth > MaxDepth)
                throw new CheckpointFormatException($"values nested more than {MaxDepth} deep", _file);
            try
            {
                return VisitContainer(value);
            }
            finally
            {
                _depth--;
            }
        }

        private object? VisitContainer(object value)
        {
            switch (value)
            {
                case PyDict dict:
                    _done[dict] = dict;
                    for (var i = 0; i < dict.Count; i++)
                        dict.SetValueAt(i, Visit(dict.GetValueAt(i)));
                    return dict;
                case List<object?> list:
                    _done[list] = list;
                    for (var i = 0; i < list.Count; i++)
                        list[i] = Visit(list[i]);
                    return list;
                case object?[] tuple:
                    _done[tuple] = tuple;
                    for (var i = 0; i < tuple.Length; i++)
                        tuple[i] = Visit(tuple[i]);
                    return tuple;
                case PendingTensor p:
                {
                    var t = Materialize(p);
                    _done[p] = t;
                    return t;
                }
                case StorageRef storage:
                {
                    // A bare storage: return it as a 1-D tensor.
                    var t = Materialize(new PendingTensor(storage, 0, new[] { storage.Numel }, new[] { 1L }, null));
                    _done[storage] = t;
                    return t;
                }
                case PyObject obj:
                    return VisitObject(obj);
                case PendingRecord record:
                    return VisitRecord(record);
                default:
                    return value;
            }
        }

        private object? VisitObject(PyObject obj)
        {
            // __setstate__ state may come as (dict_state, slot_state).
            var state = obj.State is object?[] { Length: 2 } pair && pair[0] is PyDict ds ? ds : obj.State as PyDict;
            switch (obj.Type.FullName)
            {
                case "omegaconf.dictconfig.DictConfig":
                {
                    var content = state is not null && state.TryGetValue("_content", out var c) ? c : null;
                    if (content is not PyDict items)
                        return Remember(obj, Visit(content)); // None, "???" or an interpolation string
                    var result = new PyDict("omegaconf.DictConfig");
                    _done[obj] = result;
                    foreach (var kv in items)
                        result[kv.Key] = Visit(kv.Value);
                    return result;
                }
                case "omegaconf.listconfig.ListConfig":
                {
                    var content = state is not null && state.TryGetValue("_content", out var c) ? c : null;
                    if (content is not List<object?> items)
                        return Remember(obj, Visit(content));
                    var result = new List<object?>(items.Count);
                    _done[obj] = result;
                    foreach (var item in items)
                        result.Add(Visit(item));
                    return result;
                }
                case "omegaconf.base.Metadata" or "omegaconf.base.ContainerMetadata":
                    return Remember(obj, null);
                case "argparse.Namespace":
                {
                    var result = new PyDict("argparse.Namespace");
                    _done[obj] = result;
                    if (state is not null)
                        foreach (var kv in state)
                            result[kv.Key] = Visit(kv.Value);
                    return result;
                }
                default:
                    if (obj.Type.Module == "omegaconf.nodes")
                        return Remember(obj, state is not null && state.TryGetValue("_val", out var v) ? Visit(v) : null);
                    throw new UnsafePickleException(obj.Type.FullName, _file);
            }
        }

        /// <summary>An object of a class outside the allow-list: refused if it holds a tensor, else an inert record.</summary>
        private InertRecord VisitRecord(PendingRecord record)
        {
            InertRecords.EnsureNoTensor(record, _file);
            var result = new InertRecord(record.TypeName, isTypeReference: false);
            _done[record] = result;
            result.Arguments = Array.ConvertAll(record.Args, Visit);
            result.State = Visit(record.State ?? record.Kwargs);
            result.Items = Visit((object?)record.DictItems ?? record.ListItems);
            return result;
        }

        private object? Remember(object key, object? value)
        {
            _done[key] = value;
            return value;
        }

        private Tensor Materialize(PendingTensor p)
        {
            var storage = p.Storage;
            var key = storage.Key;
            if (p.DType is { } dt && dt != storage.DType)
                throw new CheckpointFormatException($"tensor dtype {dt} differs from its storage's {storage.DType}", _file, key);
            TensorData.ValidateView(p.Size, p.Stride, p.Offset, storage.Numel, _file, key);

            if (!_roots.TryGetValue(storage.RootKey, out var root))
            {
                var rootRef = _storages.TryGetValue(storage.RootKey, out var r) ? r : storage;
                root = _loadStorage(rootRef);
                _roots[storage.RootKey] = root;
            }
            var offset = storage.RootOffset + p.Offset;
            Tensor result;
            if (offset == 0 && IsContiguous(p.Size, p.Stride) && TensorData.Numel(p.Size, _file, key) == root.shape[0])
            {
                // The common case (one tensor per storage): no copy, just a shaped alias of the storage.
                result = root.view(p.Size);
            }
            else
            {
                using var view = root.as_strided(p.Size, p.Stride, offset);
                result = empty(p.Size, root.dtype);
                result.copy_(view);
            }
            _created.Add(result);
            return result;
        }

        private static bool IsContiguous(long[] size, long[] stride)
        {
            long expected = 1;
            for (var i = size.Length - 1; i >= 0; i--)
            {
                if (size[i] != 1 && stride[i] != expected)
                    return false;
                expected *= size[i];
            }
            return true;
        }
    }
}
