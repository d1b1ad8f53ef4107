using System;
using static TorchSharp.torch;

namespace DpHubert.PyTorch;

/// <summary>
/// One file format's names for tensor dtypes, read and written from one table: a dtype is written under its first
/// name; later names of a dtype, and the read-only rows, are only recognised when read.
/// </summary>
internal sealed class DTypeNames
{
    private readonly (string Name, ScalarType DType)[] _written;
    private readonly (string Name, ScalarType DType)[] _readOnly;
    private readonly string _unwritable;

    private DTypeNames(string unwritable, (string, ScalarType)[] written, params (string, ScalarType)[] readOnly)
    {
        _unwritable = unwritable;
        _written = written;
        _readOnly = readOnly;
    }

    /// <summary>safetensors header dtypes (<c>F32</c>, <c>BF16</c> ...).</summary>
    public static DTypeNames SafeTensors { get; } = new("has no safetensors name", new[]
    {
        ("F32", ScalarType.Float32), ("F16", ScalarType.Float16), ("BF16", ScalarType.BFloat16), ("F64", ScalarType.Float64),
        ("I64", ScalarType.Int64), ("I32", ScalarType.Int32), ("I16", ScalarType.Int16), ("I8", ScalarType.Int8),
        ("U8", ScalarType.Byte), ("BOOL", ScalarType.Bool),
    });

    /// <summary>torch's typed storage classes as torch.save pickles them (<c>FloatStorage</c> ...); complex and
    /// untyped storages are read, never written.</summary>
    public static DTypeNames TorchStorage { get; } = new("cannot be written to a torch checkpoint", new[]
    {
        ("FloatStorage", ScalarType.Float32), ("DoubleStorage", ScalarType.Float64), ("HalfStorage", ScalarType.Float16),
        ("BFloat16Storage", ScalarType.BFloat16), ("LongStorage", ScalarType.Int64), ("IntStorage", ScalarType.Int32),
        ("ShortStorage", ScalarType.Int16), ("CharStorage", ScalarType.Int8), ("ByteStorage", ScalarType.Byte),
        ("BoolStorage", ScalarType.Bool),
    }, ("ComplexFloatStorage", ScalarType.ComplexFloat32), ("ComplexDoubleStorage", ScalarType.ComplexFloat64),
        ("UntypedStorage", ScalarType.Byte));

    /// <summary>torch dtype attributes (<c>torch.float32</c>, alias <c>torch.float</c> ...), for dtypes pickled as values.</summary>
    public static DTypeNames Torch { get; } = new("has no torch name", new[]
    {
        ("float32", ScalarType.Float32), ("float", ScalarType.Float32), ("float64", ScalarType.Float64), ("double", ScalarType.Float64),
        ("float16", ScalarType.Float16), ("half", ScalarType.Float16), ("bfloat16", ScalarType.BFloat16),
        ("int64", ScalarType.Int64), ("long", ScalarType.Int64), ("int32", ScalarType.Int32), ("int", ScalarType.Int32),
        ("int16", ScalarType.Int16), ("short", ScalarType.Int16), ("int8", ScalarType.Int8), ("uint8", ScalarType.Byte),
        ("bool", ScalarType.Bool),
    });

    /// <summary>The dtype <paramref name="name"/> stands for; false for a name the table lacks.</summary>
    public bool TryParse(string name, out ScalarType dtype)
    {
        foreach (var (n, d) in _written)
            if (n == name) { dtype = d; return true; }
        foreach (var (n, d) in _readOnly)
            if (n == name) { dtype = d; return true; }
        dtype = default;
        return false;
    }

    /// <summary>The name <paramref name="dtype"/> is written under, or null when the format has none.</summary>
    public string? NameOrNull(ScalarType dtype)
    {
        foreach (var (n, d) in _written)
            if (d == dtype) return n;
        return null;
    }

    /// <summary>The name <paramref name="dtype"/> is written under.</summary>
    /// <exception cref="NotSupportedException">The format cannot store <paramref name="dtype"/>.</exception>
    public string NameOf(ScalarType dtype) => NameOrNull(dtype) ?? throw new NotSupportedException($"dtype {dtype} {_unwritable}");
}
