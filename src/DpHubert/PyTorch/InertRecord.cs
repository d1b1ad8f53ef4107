using System;
using System.Collections.Generic;

namespace DpHubert.PyTorch;

/// <summary>
/// An object of a class outside the reader's allow-list, kept as a record of what the pickle said and never
/// executed: fairseq's label <c>Dictionary</c> in <c>task_state</c>, trainer or logging state and the like.
/// </summary>
/// <remarks>
/// The rule that makes this safe and honest: such an object is only ever created the way pickle creates a plain
/// instance (NEWOBJ, or protocol 0/1's <c>copyreg._reconstructor</c>), never by calling the class, and only if
/// no tensor is reachable from it: weights always go through the allow-listed tensor rebuilders inside plain
/// containers. The loaders never read a record's contents; the load report lists where each one was.
/// </remarks>
public sealed class InertRecord
{
    internal InertRecord(string typeName, bool isTypeReference)
    {
        TypeName = typeName;
        IsTypeReference = isTypeReference;
    }

    /// <summary>The fully qualified Python class, e.g. <c>fairseq.data.dictionary.Dictionary</c>.</summary>
    public string TypeName { get; }

    /// <summary>True when the pickle only named the class (a type used as a value), without an instance.</summary>
    public bool IsTypeReference { get; }

    /// <summary>The arguments pickle passed to <c>cls.__new__</c> (usually none), as plain values.</summary>
    public IReadOnlyList<object?> Arguments { get; internal set; } = Array.Empty<object?>();

    /// <summary>The instance state set by BUILD (usually a <see cref="PyDict"/> of its attributes), or null.</summary>
    public object? State { get; internal set; }

    /// <summary>Items of a dict subclass (a <see cref="PyDict"/>) or list subclass (a list), or null.</summary>
    public object? Items { get; internal set; }

    /// <inheritdoc />
    public override string ToString() => IsTypeReference ? $"<class {TypeName}>" : $"<{TypeName} object (inert record)>";
}
