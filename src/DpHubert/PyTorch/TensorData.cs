using System;
using System.IO;
using TorchSharp;
using static TorchSharp.torch;

namespace DpHubert.PyTorch;

/// <summary>Element sizes and chunked byte transfer between streams and CPU tensors (dtype names: <see cref="DTypeNames"/>).</summary>
internal static class TensorData
{
    // Copy in chunks: Tensor.bytes is an int-length span, and chunking keeps managed buffers small.
    private const long ChunkBytes = 64L << 20;

    public static int ElementSize(ScalarType dtype) => dtype switch
    {
        ScalarType.Float32 or ScalarType.Int32 => 4,
        ScalarType.Float64 or ScalarType.Int64 or ScalarType.ComplexFloat32 => 8,
        ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Int16 => 2,
        ScalarType.Int8 or ScalarType.Byte or ScalarType.Bool => 1,
        ScalarType.ComplexFloat64 => 16,
        _ => throw new NotSupportedException($"dtype {dtype} is not supported in checkpoints"),
    };

    /// <summary>
    /// Allocates a 1-D CPU tensor of <paramref name="numel"/> elements and fills it with exactly
    /// bytes from <paramref name="source"/>; throws a format error naming
    /// expected vs found bytes if the stream ends early.
    /// </summary>
    public static Tensor ReadStorage(Stream source, ScalarType dtype, long numel, bool swapBytes, string file, string key)
    {
        var elementSize = ElementSize(dtype);
        long expected;
        try
        {
            expected = checked(numel * elementSize);
        }
        catch (OverflowException)
        {
            throw new CheckpointFormatException($"storage of {numel} elements overflows", file, key);
        }
        // Never allocate more than the stream can still deliver (a corrupt size must not exhaust memory).
        if (source.CanSeek && source.Length - source.Position < expected)
            throw new CheckpointFormatException(
                $"truncated storage: expected {expected} bytes, found {Math.Max(0, source.Length - source.Position)}", file, key);
        var storage = empty(new[] { numel }, dtype);
        try
        {
            // Fresh memory filled at once: mapped in one call rather than a page fault per 4 KB as the read reaches it.
            if (expected > 0) NativeHeap.Prefault(DataPointer(storage), expected);
            var chunkElements = Math.Max(1, ChunkBytes / elementSize);
            long done = 0;
            for (long start = 0; start < numel; start += chunkElements)
            {
                var count = Math.Min(chunkElements, numel - start);
                using var slice = storage.narrow(0, start, count);
                var span = slice.bytes;
                var read = source.ReadAtLeast(span, span.Length, throwOnEndOfStream: false);
                done += read;
                if (read < span.Length)
                    throw new CheckpointFormatException(
                        $"truncated storage: expected {expected} bytes, found {done}", file, key);
                if (swapBytes && elementSize > 1)
                    SwapBytes(span, elementSize);
            }
            return storage;
        }
        catch
        {
            storage.Dispose();
            throw;
        }
    }

    /// <summary>Writes a tensor's elements (row-major, little-endian) to a stream.</summary>
    public static void WriteTensor(Stream destination, Tensor tensor)
    {
        using var scope = NewDisposeScope();
        var flat = tensor.device_type == DeviceType.CPU ? tensor.contiguous().reshape(-1) : tensor.cpu().contiguous().reshape(-1);
        var elementSize = ElementSize(flat.dtype);
        var numel = flat.shape[0];
        var chunkElements = Math.Max(1, ChunkBytes / elementSize);
        for (long start = 0; start < numel; start += chunkElements)
        {
            var count = Math.Min(chunkElements, numel - start);
            using var slice = flat.narrow(0, start, count);
            destination.Write(slice.bytes);
        }
    }

    /// <summary>The address of a CPU tensor's first element, for any dtype.</summary>
    internal static IntPtr DataPointer(Tensor t) =>
        System.Runtime.CompilerServices.Unsafe.ByteOffset(ref System.Runtime.CompilerServices.Unsafe.NullRef<byte>(),
            ref System.Runtime.InteropServices.MemoryMarshal.GetReference(t.bytes));

    private static void SwapBytes(Span<byte> data, int elementSize)
    {
        for (var i = 0; i + elementSize <= data.Length; i += elementSize)
            data.Slice(i, elementSize).Reverse();
    }

    /// <summary>
    /// Checks that a strided view (size, stride, offset) stays inside a storage of <paramref name="storageNumel"/>
    /// elements, so that as_strided never reads outside native memory.
    /// </summary>
    public static void ValidateView(long[] size, long[] stride, long offset, long storageNumel, string file, string key)
    {
        if (size.Length != stride.Length)
            throw new CheckpointFormatException($"tensor has {size.Length} sizes but {stride.Length} strides", file, key);
        if (offset < 0)
            throw new CheckpointFormatException($"negative storage offset {offset}", file, key);
        try
        {
            long last = offset;
            var empty = false;
            for (var i = 0; i < size.Length; i++)
            {
                if (size[i] < 0 || stride[i] < 0)
                    throw new CheckpointFormatException(
                        $"invalid size {size[i]} / stride {stride[i]} in dimension {i}", file, key);
                if (size[i] == 0)
                    empty = true;
                else
                    last = checked(last + checked((size[i] - 1) * stride[i]));
            }
            if (!empty && last >= storageNumel)
                throw new CheckpointFormatException(
                    $"tensor view reaches element {last} but its storage holds {storageNumel} elements", file, key);
        }
        catch (OverflowException)
        {
            throw new CheckpointFormatException("tensor size/stride overflow", file, key);
        }
    }

    public static long Numel(long[] shape, string file, string key)
    {
        try
        {
            long n = 1;
            foreach (var d in shape)
            {
                if (d < 0)
                    throw new CheckpointFormatException($"negative dimension {d}", file, key);
                n = checked(n * d);
            }
            return n;
        }
        catch (OverflowException)
        {
            throw new CheckpointFormatException("tensor shape overflows", file, key);
        }
    }
}
