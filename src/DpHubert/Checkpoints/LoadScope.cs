using System;
using System.Collections.Generic;
using TorchSharp;
using static TorchSharp.torch;

namespace DpHubert.Checkpoints;

/// <summary>
/// The one owner of every tensor a checkpoint load creates (read, renamed, converted, inserted) until the finished
/// <see cref="ModelCheckpoint"/> takes its own: ending the scope frees all the others once, whether the load
/// succeeded (dropped keys, unused entries, replaced half-precision tensors) or failed (everything).
/// A TorchSharp dispose scope does the bookkeeping, so a step's temporaries are covered as well.
/// </summary>
internal sealed class LoadScope : IDisposable
{
    private readonly DisposeScope _scope = NewDisposeScope();

    /// <summary>Hands the checkpoint's tensors to the caller (to its own dispose scope, if it has one) and returns it.</summary>
    public ModelCheckpoint HandOver(ModelCheckpoint checkpoint)
    {
        Keep(checkpoint.StateDict.Values);
        foreach (var group in checkpoint.Extras.Values) Keep(group.Values);
        return checkpoint;
    }

    private void Keep(IEnumerable<Tensor> tensors)
    {
        foreach (var t in tensors)
            if (_scope.Contains(t)) _scope.MoveToOuter(t);
    }

    /// <summary>Frees every tensor not handed over.</summary>
    public void Dispose() => _scope.Dispose();
}
