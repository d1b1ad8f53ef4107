using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;

namespace DpHubert.Config;

/// <summary>
/// An immutable list that compares element by element, so that a record holding one (a config's conv stack, its
/// layers, a layer's kept heads) has value equality; a <see cref="List{T}"/> member would compare by reference.
/// </summary>
/// <typeparam name="T">The element type; its own <see cref="object.Equals(object)"/> decides equality.</typeparam>
public sealed class EquatableArray<T> : IReadOnlyList<T>, IEquatable<EquatableArray<T>>
{
    private readonly T[] _items;

    /// <summary>The empty list.</summary>
    public static EquatableArray<T> Empty { get; } = new(Array.Empty<T>());

    /// <summary>A copy of <paramref name="items"/>.</summary>
    /// <param name="items">The elements, in order.</param>
    public EquatableArray(IEnumerable<T> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        _items = items.ToArray();
    }

    /// <inheritdoc/>
    public T this[int index] => _items[index];

    /// <inheritdoc/>
    public int Count => _items.Length;

    /// <inheritdoc/>
    public IEnumerator<T> GetEnumerator() => ((IEnumerable<T>)_items).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => _items.GetEnumerator();

    /// <summary>Same length and equal elements in the same order.</summary>
    public bool Equals(EquatableArray<T>? other) =>
        other is not null && (ReferenceEquals(this, other) || _items.AsSpan().SequenceEqual(other._items, EqualityComparer<T>.Default));

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as EquatableArray<T>);

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(_items.Length);
        foreach (var item in _items) hash.Add(item);
        return hash.ToHashCode();
    }

    /// <summary>The elements as <c>[a, b, c]</c>.</summary>
    public override string ToString() => "[" + string.Join(", ", _items) + "]";

    /// <summary>Element-wise equality.</summary>
    public static bool operator ==(EquatableArray<T>? a, EquatableArray<T>? b) => a is null ? b is null : a.Equals(b);

    /// <summary>Element-wise inequality.</summary>
    public static bool operator !=(EquatableArray<T>? a, EquatableArray<T>? b) => !(a == b);

    /// <summary>A copy of an array.</summary>
    public static implicit operator EquatableArray<T>(T[] items) => new(items);

    /// <summary>A copy of a list.</summary>
    public static implicit operator EquatableArray<T>(List<T> items) => new(items);
}

/// <summary>Builds <see cref="EquatableArray{T}"/>s.</summary>
public static class EquatableArray
{
    /// <summary>A copy of <paramref name="items"/> (the same instance when it already is one).</summary>
    public static EquatableArray<T> From<T>(IEnumerable<T> items) => items as EquatableArray<T> ?? new EquatableArray<T>(items);

    /// <summary>The given elements.</summary>
    public static EquatableArray<T> Create<T>(params T[] items) => new(items);

    /// <summary>The elements of a sequence, copied (LINQ-style).</summary>
    public static EquatableArray<T> ToEquatableArray<T>(this IEnumerable<T> items) => From(items);
}
