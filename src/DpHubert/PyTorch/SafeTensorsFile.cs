using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;

namespace DpHubert.PyTorch;

/// <summary>
/// The tensors of a safetensors file in file order, plus its <c>__metadata__</c>. Owns the tensors:
/// disposing it disposes them (use <see cref="Detach"/> to keep one).
/// </summary>
public sealed class SafeTensorsFile : IReadOnlyDictionary<string, Tensor>, IDisposable
{
    private readonly List<KeyValuePair<string, Tensor>> _ordered;
    private readonly Dictionary<string, Tensor> _byName;

    internal SafeTensorsFile(List<KeyValuePair<string, Tensor>> tensors, Dictionary<string, string> metadata)
    {
        _ordered = tensors;
        _byName = tensors.ToDictionary(kv => kv.Key, kv => kv.Value);
        Metadata = metadata;
    }

    /// <summary>The header's <c>__metadata__</c> string map (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Number of tensors.</summary>
    public int Count => _ordered.Count;

    /// <summary>Tensor names in file (header) order.</summary>
    public IEnumerable<string> Keys => _ordered.Select(kv => kv.Key);

    /// <summary>Tensors in file order.</summary>
    public IEnumerable<Tensor> Values => _ordered.Select(kv => kv.Value);

    /// <summary>The tensor with this name.</summary>
    public Tensor this[string key] => _byName[key];

    /// <summary>Whether a tensor with this name exists.</summary>
    public bool ContainsKey(string key) => _byName.ContainsKey(key);

    /// <summary>Looks a tensor up without throwing.</summary>
    public bool TryGetValue(string key, out Tensor value) => _byName.TryGetValue(key, out value!);

    /// <summary>
    /// Removes a tensor from this file's ownership and returns it; the caller then disposes it.
    /// </summary>
    public Tensor Detach(string key)
    {
        var t = _byName[key];
        _byName.Remove(key);
        _ordered.RemoveAll(kv => kv.Key == key);
        return t;
    }

    /// <summary>Enumerates (name, tensor) pairs in file order.</summary>
    public IEnumerator<KeyValuePair<string, Tensor>> GetEnumerator() => _ordered.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Disposes every tensor still owned.</summary>
    public void Dispose()
    {
        foreach (var kv in _ordered)
            kv.Value.Dispose();
        _ordered.Clear();
        _byName.Clear();
    }
}
