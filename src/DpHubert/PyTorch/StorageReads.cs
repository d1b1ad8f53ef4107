using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Runtime.ExceptionServices;
using System.Threading;
using static TorchSharp.torch;

namespace DpHubert.PyTorch;

/// <summary>
/// The storages of a zip checkpoint, read before the value tree is built: on two threads when the file can be opened
/// a second time and holds enough bytes to be worth it (filling fresh memory is bound by page faults, which two cores
/// take in parallel), else on the calling thread. Each storage's outcome, its tensor or the exception reading it
/// threw, is kept and handed out by <see cref="Take"/>, so the tree's builder throws exactly the error the one-by-one
/// read would have thrown, at the same storage. Disposing frees every tensor not taken.
/// </summary>
internal sealed class StorageReads : IDisposable
{
    /// <summary>Below this many bytes in all, one thread reads (a second one would cost more than it saves).</summary>
    public const long ParallelMinimumBytes = 32L << 20;

    private readonly Dictionary<string, int> index = new(StringComparer.Ordinal);
    private readonly Tensor?[] tensors;
    private readonly ExceptionDispatchInfo?[] errors;

    private StorageReads(IReadOnlyList<StorageRef> roots)
    {
        tensors = new Tensor?[roots.Count];
        errors = new ExceptionDispatchInfo?[roots.Count];
        for (int i = 0; i < roots.Count; i++) index[roots[i].RootKey] = i;
    }

    /// <summary>How many threads read storages: 2 when the second reader read at least one, else 1.</summary>
    public int Readers { get; private set; } = 1;

    /// <summary>Reads every storage of <paramref name="roots"/>.</summary>
    /// <param name="roots">The storages, one per key.</param>
    /// <param name="zip">The archive the caller opened (read by the calling thread only).</param>
    /// <param name="reopen">Opens the same file again for a second reader, or null (a stream given by a caller).</param>
    /// <param name="read">Reads one storage from an archive: the entry named by the storage, checked against its size.</param>
    public static StorageReads Run(IReadOnlyList<StorageRef> roots, ZipArchive zip, Func<Stream>? reopen,
        Func<ZipArchive, StorageRef, Tensor> read)
    {
        var reads = new StorageReads(roots);
        // Largest first, so that the two threads finish close together.
        var bytes = roots.Select(r => r.Numel * (long)TensorData.ElementSize(r.DType)).ToArray();
        var order = Enumerable.Range(0, roots.Count).OrderByDescending(i => bytes[i]).ToArray();
        long total = bytes.Sum();
        int next = -1;

        int Work(ZipArchive archive)
        {
            int done = 0;
            for (int k; (k = Interlocked.Increment(ref next)) < order.Length; done++)
            {
                int i = order[k];
                try
                {
                    reads.tensors[i] = read(archive, roots[i]);
                }
                catch (Exception e)
                {
                    reads.errors[i] = ExceptionDispatchInfo.Capture(e);
                }
            }
            return done;
        }

        Thread? helper = null;
        if (reopen is not null && total >= ParallelMinimumBytes && roots.Count > 1 && Environment.ProcessorCount > 1)
        {
            // What the second archive must list to be the same file, taken here: the first is this thread's alone.
            var records = zip.Entries.Select(e => (e.FullName, e.Length, e.Crc32)).ToArray();
            helper = new Thread(() => { if (SecondReader(records, reopen, Work) > 0) reads.Readers = 2; }) { IsBackground = true, Name = "checkpoint reader" };
            helper.Start();
        }
        try
        {
            Work(zip);
        }
        finally
        {
            helper?.Join(); // never return (or free a tensor) while the other thread may still write into one
        }
        return reads;
    }

    /// <summary>The second reader: its own stream and archive over the same file. If the file cannot be opened again
    /// or no longer has the same records, it reads nothing and the first reader takes every storage.</summary>
    /// <returns>How many storages it read.</returns>
    private static int SecondReader((string Name, long Length, uint Crc32)[] records, Func<Stream> reopen, Func<ZipArchive, int> work)
    {
        Stream? stream = null;
        ZipArchive? archive = null;
        try
        {
            stream = reopen();
            archive = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true);
            var entries = archive.Entries;
            bool same = entries.Count == records.Length;
            for (int i = 0; same && i < records.Length; i++)
                same = entries[i].FullName == records[i].Name && entries[i].Length == records[i].Length && entries[i].Crc32 == records[i].Crc32;
            if (!same)
            {
                archive.Dispose();
                stream.Dispose();
                return 0;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            archive?.Dispose();
            stream?.Dispose();
            return 0;
        }
        using (stream)
        using (archive)
            return work(archive);
    }

    /// <summary>The storage's tensor, handed to the caller (who disposes it); or the exception reading it threw.</summary>
    public Tensor Take(StorageRef root)
    {
        int i = index[root.RootKey];
        errors[i]?.Throw();
        var t = tensors[i] ?? throw new InvalidOperationException($"storage {root.RootKey} was taken twice");
        tensors[i] = null;
        return t;
    }

    /// <summary>Frees every tensor not taken.</summary>
    public void Dispose()
    {
        for (int i = 0; i < tensors.Length; i++)
        {
            tensors[i]?.Dispose();
            tensors[i] = null;
        }
    }
}
