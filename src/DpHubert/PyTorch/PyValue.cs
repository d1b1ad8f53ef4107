using System;
using System.Collections.Generic;
using System.Numerics;
using TorchSharp;

namespace DpHubert.PyTorch;

/// <summary>
/// One value of a read pickle with its <see cref="Kind"/>: the typed view over the plain value
/// (<see cref="Value"/>) that <see cref="TorchCheckpointReader"/> builds, with accessors that refuse any other kind
/// by a <see cref="CheckpointFormatException"/> saying what was expected and what was found.
/// </summary>
public readonly struct PyValue
{
    /// <summary>Wraps a plain value of one of the <see cref="PyValueKind"/>s.</summary>
    /// <exception cref="ArgumentException">A value no pickle reads into.</exception>
    public PyValue(object? value)
    {
        Kind = KindOf(value) ?? throw new ArgumentException($"{value!.GetType().Name} is not a value read from a pickle", nameof(value));
        Value = value;
    }

    /// <summary>The plain value (see <see cref="PyValueKind"/> for its .NET type per kind).</summary>
    public object? Value { get; }

    /// <summary>What the value is.</summary>
    public PyValueKind Kind { get; }

    /// <summary>The value as a dict, or null when it is not one.</summary>
    public PyDict? AsDictOrNull => Value as PyDict;

    /// <summary>The value as a tensor, or null when it is not one.</summary>
    public torch.Tensor? AsTensorOrNull => Value as torch.Tensor;

    /// <summary>The value as a dict; otherwise a <see cref="CheckpointFormatException"/> naming <paramref name="what"/>.</summary>
    /// <param name="file">The file, for the error.</param>
    /// <param name="what">The entry's name (null: the file's top level).</param>
    public PyDict ExpectDict(string file, string? what) => Value as PyDict ?? throw Unexpected("a dict", file, what);

    /// <summary>The value as a tensor; otherwise a <see cref="CheckpointFormatException"/> naming <paramref name="what"/>.</summary>
    public torch.Tensor ExpectTensor(string file, string? what) => Value as torch.Tensor ?? throw Unexpected("a tensor", file, what);

    /// <summary>The error for a value of another kind than <paramref name="expected"/>.</summary>
    public CheckpointFormatException Unexpected(string expected, string file, string? what) => what is null
        ? new CheckpointFormatException($"the checkpoint is a {Describe()}, expected {expected}", file)
        : new CheckpointFormatException($"'{what}' is a {Describe()}, expected {expected}", file, what);

    /// <summary>A short description for errors: <c>dict</c>, <c>tensor [2, 3]</c>, <c>None</c>, ...</summary>
    public string Describe() => Kind switch
    {
        PyValueKind.None => "None",
        PyValueKind.Dict => "dict",
        PyValueKind.List => "list",
        PyValueKind.Tuple => "tuple",
        PyValueKind.InertRecord => $"{Value} that the loader does not read",
        PyValueKind.Tensor => $"tensor {Shapes.Format((torch.Tensor)Value!)}",
        PyValueKind.Bool => "bool",
        PyValueKind.Int => "int",
        PyValueKind.Float => "float",
        PyValueKind.String => "str",
        PyValueKind.Bytes => "bytes",
        _ => Kind.ToString(),
    };

    /// <inheritdoc />
    public override string ToString() => Describe();

    /// <summary>The kind of a plain value, or null for a value no pickle reads into.</summary>
    internal static PyValueKind? KindOf(object? value) => value switch
    {
        null => PyValueKind.None,
        bool => PyValueKind.Bool,
        long or BigInteger => PyValueKind.Int,
        double => PyValueKind.Float,
        string => PyValueKind.String,
        byte[] => PyValueKind.Bytes,
        PyDict => PyValueKind.Dict,
        List<object?> => PyValueKind.List,
        object?[] => PyValueKind.Tuple,
        torch.Tensor => PyValueKind.Tensor,
        InertRecord => PyValueKind.InertRecord,
        _ => null,
    };
}
