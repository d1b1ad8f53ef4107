using System;
using System.Collections;
using System.Collections.Generic;

namespace DpHubert.PyTorch;

/// <summary>
/// An insertion-ordered Python mapping read from (or to be written to) a checkpoint: <c>dict</c>,
/// <c>collections.OrderedDict</c>, an omegaconf <c>DictConfig</c> or an <c>argparse.Namespace</c>.
/// Keys are usually strings but may be any pickled scalar (long, double, bool, tuple as object?[] ...).
/// </summary>
public sealed class PyDict : IEnumerable<KeyValuePair<object, object?>>
{
    /// <summary>The Python type of a plain dict.</summary>
    public const string Dict = "builtins.dict";

    /// <summary>Instance attributes pickled with a dict subclass (e.g. a state_dict's <c>_metadata</c>), or null.</summary>
    public PyDict? Attributes { get; set; }

    /// <summary>The Python type of an OrderedDict (what <c>state_dict()</c> returns).</summary>
    public const string OrderedDict = "collections.OrderedDict";

    private readonly Dictionary<object, int> _index = new(KeyComparer.Instance);
    private readonly List<KeyValuePair<object, object?>> _items = new();

    /// <summary>Creates an empty mapping of the given Python type.</summary>
    public PyDict(string pythonType = Dict)
    {
        PythonType = pythonType;
    }

    /// <summary>
    /// Where the mapping came from: "builtins.dict", "collections.OrderedDict", "collections.defaultdict",
    /// "omegaconf.DictConfig" or "argparse.Namespace". The writer emits an OrderedDict for
    /// "collections.OrderedDict" and a plain dict otherwise.
    /// </summary>
    public string PythonType { get; set; }

    /// <summary>Number of entries.</summary>
    public int Count => _items.Count;

    /// <summary>The keys in insertion order.</summary>
    public IEnumerable<object> Keys
    {
        get
        {
            foreach (var kv in _items)
                yield return kv.Key;
        }
    }

    /// <summary>The values in insertion order.</summary>
    public IEnumerable<object?> Values
    {
        get
        {
            foreach (var kv in _items)
                yield return kv.Value;
        }
    }

    /// <summary>Gets or sets the value under a string key; a missing key throws <see cref="KeyNotFoundException"/>.</summary>
    public object? this[string key]
    {
        get => this[(object)key];
        set => this[(object)key] = value;
    }

    /// <summary>Gets or sets the value under any key; setting an existing key keeps its position, as in Python.</summary>
    public object? this[object key]
    {
        get => _index.TryGetValue(key, out var i)
            ? _items[i].Value
            : throw new KeyNotFoundException($"Key '{key}' is not in the {PythonType}.");
        set
        {
            if (_index.TryGetValue(key, out var i))
                _items[i] = new KeyValuePair<object, object?>(_items[i].Key, value);
            else
            {
                _index[key] = _items.Count;
                _items.Add(new KeyValuePair<object, object?>(key, value));
            }
        }
    }

    /// <summary>Whether the key is present.</summary>
    public bool ContainsKey(object key) => _index.ContainsKey(key);

    /// <summary>Looks a key up without throwing.</summary>
    public bool TryGetValue(object key, out object? value)
    {
        if (_index.TryGetValue(key, out var i))
        {
            value = _items[i].Value;
            return true;
        }
        value = null;
        return false;
    }

    /// <summary>The dict under <paramref name="key"/>, or null when the key is missing or holds something else.</summary>
    public PyDict? DictAt(object key) => TryGetValue(key, out var value) ? value as PyDict : null;

    /// <summary>Adds or replaces an entry (same as the indexer's setter).</summary>
    public void Add(object key, object? value) => this[key] = value;

    /// <summary>Enumerates the entries in insertion order.</summary>
    public IEnumerator<KeyValuePair<object, object?>> GetEnumerator() => _items.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>The value at a position in insertion order.</summary>
    internal object? GetValueAt(int index) => _items[index].Value;

    /// <summary>Replaces the value at a position (used while converting a freshly read graph in place).</summary>
    internal void SetValueAt(int index, object? value) =>
        _items[index] = new KeyValuePair<object, object?>(_items[index].Key, value);

    /// <summary>Python-like key equality: 1 == 1.0 == True is not modelled; tuples compare by content.</summary>
    private sealed class KeyComparer : IEqualityComparer<object>
    {
        public static readonly KeyComparer Instance = new();

        public new bool Equals(object? x, object? y)
        {
            if (x is object?[] a && y is object?[] b)
            {
                if (a.Length != b.Length)
                    return false;
                for (var i = 0; i < a.Length; i++)
                    if (!(a[i] is null ? b[i] is null : b[i] is not null && Equals(a[i], b[i])))
                        return false;
                return true;
            }
            return object.Equals(x, y);
        }

        public int GetHashCode(object obj)
        {
            if (obj is object?[] a)
            {
                var h = new HashCode();
                foreach (var e in a)
                    h.Add(e is null ? 0 : GetHashCode(e));
                return h.ToHashCode();
            }
            return obj.GetHashCode();
        }
    }
}
