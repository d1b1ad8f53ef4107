using System;
using static TorchSharp.torch;
using Linear = TorchSharp.Modules.Linear;

namespace DpHubert.Modules;

/// <summary>
/// Lets a model be built with its large weights allocated but not randomly initialized, for when a checkpoint
/// overwrites every one of them at once: random initialization of HuBERT Base costs about a second of CPU and
/// touches every page, which a checkpoint load then throws away. Per thread, like TorchSharp's dispose scopes.
/// </summary>
internal static class DeferredInit
{
    [ThreadStatic]
    private static int depth;

    [ThreadStatic]
    private static ScalarType dtype;

    /// <summary>True inside <see cref="Scope"/> on this thread: modules allocate their random-initialized
    /// weights with <c>empty</c> (contents undefined) and leave them to the caller to fill.</summary>
    public static bool Active => depth > 0;

    /// <summary>Skips random initialization on this thread until the returned scope is disposed; the weights are
    /// allocated in <paramref name="weightDType"/> (the dtype the checkpoint's tensors will arrive in, so loading
    /// them converts nothing).</summary>
    public static IDisposable Scope(ScalarType weightDType = ScalarType.Float32)
    {
        depth++;
        var outer = dtype;
        dtype = weightDType;
        return new Exit(outer);
    }

    /// <summary>A weight of <paramref name="shape"/>: float32 outside <see cref="Scope"/>, the scope's dtype inside.</summary>
    public static Tensor Empty(params long[] shape) => empty(shape, dtype: Active ? dtype : ScalarType.Float32);

    /// <summary><c>nn.Linear(in, out, bias)</c>, with uninitialized weights inside <see cref="Scope"/>.</summary>
    public static Linear Linear(long inFeatures, long outFeatures, bool hasBias = true)
    {
        if (!Active)
            return nn.Linear(inFeatures, outFeatures, hasBias);
        // TorchSharp's Linear always initializes; on the meta device that costs nothing, then real storage replaces it.
        var linear = nn.Linear(inFeatures, outFeatures, hasBias, device: META);
        linear.weight = new Parameter(Empty(outFeatures, inFeatures));
        if (hasBias)
            linear.bias = new Parameter(Empty(outFeatures));
        return linear;
    }

    private sealed class Exit(ScalarType outer) : IDisposable
    {
        private bool done;

        public void Dispose()
        {
            if (done) return;
            done = true;
            depth--;
            dtype = outer;
        }
    }
}
