using System;
using System.Collections.Generic;

namespace DpHubert.PyTorch;

/// <summary>
/// What <see cref="TorchCheckpointReader.Load(string)"/> read from one <c>torch.save</c> file: the value tree
/// (<see cref="Root"/>) and every tensor in it, which this object owns: disposing it frees each of them once,
/// wherever they sit in the tree. <see cref="TakeTensors"/> hands them to another owner instead.
/// </summary>
public sealed class TorchCheckpointData : IDisposable
{
    private List<Tensor> _tensors;

    internal TorchCheckpointData(string source, object? root, List<Tensor> tensors)
    {
        Source = source;
        Root = new PyValue(root);
        _tensors = tensors;
    }

    /// <summary>How many threads read the tensors' bytes (2 for a large zip checkpoint read from a file).</summary>
    internal int StorageReaders { get; init; } = 1;

    /// <summary>The file (or display name of the stream) it was read from.</summary>
    public string Source { get; }

    /// <summary>The pickled object: usually a dict (a checkpoint), sometimes a tensor (a saved tensor).</summary>
    public PyValue Root { get; }

    /// <summary>Every tensor of <see cref="Root"/>, each once (a value referenced twice in the pickle is one tensor),
    /// while this object owns them; empty after <see cref="TakeTensors"/> or <see cref="Dispose"/>.</summary>
    public IReadOnlyList<Tensor> Tensors => _tensors;

    /// <summary>Hands every tensor to the caller, who must dispose them; this object no longer frees them.</summary>
    public IReadOnlyList<Tensor> TakeTensors()
    {
        var taken = _tensors;
        _tensors = new List<Tensor>();
        return taken;
    }

    /// <summary>Disposes every tensor still owned.</summary>
    public void Dispose()
    {
        foreach (var t in TakeTensors()) t.Dispose();
    }
}
