using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using DpHubert.PyTorch;

namespace DpHubert.Checkpoints;

/// <summary>An insertion-ordered map from state_dict key to tensor that owns (and disposes) its tensors.</summary>
public sealed class StateDict : IReadOnlyDictionary<string, Tensor>, IDisposable
{
    private readonly List<KeyValuePair<string, Tensor>> _items = new();
    private readonly Dictionary<string, int> _index = new(StringComparer.Ordinal);

    /// <summary>Creates an empty state_dict.</summary>
    public StateDict()
    {
    }

    /// <summary>Creates a state_dict from pairs (later duplicates replace earlier ones).</summary>
    /// <param name="items">Key/tensor pairs; the tensors become owned by this instance.</param>
    public StateDict(IEnumerable<KeyValuePair<string, Tensor>> items)
    {
        foreach (var kv in items) this[kv.Key] = kv.Value;
    }

    /// <summary>A pickled mapping of names to tensors (a read <see cref="PyDict"/>) as a state_dict; the tensors stay
    /// owned by whoever owned the pickle's. Anything else throws naming <paramref name="what"/> or the entry.</summary>
    internal static StateDict FromPickled(object? value, string path, string what)
    {
        if (value is not PyDict dict)
            throw new PyValue(value).Unexpected("a mapping of names to tensors", path, what);
        var sd = new StateDict();
        foreach (var (key, entry) in dict)
        {
            if (key is not string name)
                throw new CheckpointFormatException($"'{what}' has a non-string key {key}", path, what);
            sd[name] = entry as Tensor ?? throw new PyValue(entry).Unexpected("a tensor", path, name);
        }
        return sd;
    }

    /// <inheritdoc/>
    public Tensor this[string key]
    {
        get => _items[_index[key]].Value;
        set
        {
            if (_index.TryGetValue(key, out int i)) _items[i] = new(key, value);
            else
            {
                _index[key] = _items.Count;
                _items.Add(new(key, value));
            }
        }
    }

    /// <inheritdoc/>
    public IEnumerable<string> Keys => _items.Select(kv => kv.Key);

    /// <inheritdoc/>
    public IEnumerable<Tensor> Values => _items.Select(kv => kv.Value);

    /// <inheritdoc/>
    public int Count => _items.Count;

    /// <inheritdoc/>
    public bool ContainsKey(string key) => _index.ContainsKey(key);

    /// <inheritdoc/>
    public bool TryGetValue(string key, out Tensor value)
    {
        if (_index.TryGetValue(key, out int i))
        {
            value = _items[i].Value;
            return true;
        }
        value = null!;
        return false;
    }

    /// <summary>Removes a key and returns its tensor (now owned by the caller), or null.</summary>
    /// <param name="key">Key.</param>
    public Tensor? Remove(string key)
    {
        if (!_index.TryGetValue(key, out int i)) return null;
        var t = _items[i].Value;
        _items.RemoveAt(i);
        _index.Clear();
        for (int j = 0; j < _items.Count; j++) _index[_items[j].Key] = j;
        return t;
    }

    /// <inheritdoc/>
    public IEnumerator<KeyValuePair<string, Tensor>> GetEnumerator() => _items.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Disposes every tensor.</summary>
    public void Dispose()
    {
        foreach (var kv in _items) kv.Value.Dispose();
        _items.Clear();
        _index.Clear();
    }
}
