using System;
using TorchSharp;
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

    /// <summary>True inside <see cref="Scope"/> on this thread: modules allocate their random-initialized
    /// weights with <c>empty</c> (contents undefined) and leave them to the caller to fill.</summary>
    public static bool Active => depth > 0;

    /// <summary>Skips random initialization on this thread until the returned scope is disposed.</summary>
    public static IDisposable Scope()
    {
        depth++;
        return new Exit();
    }

    /// <summary><c>nn.Linear(in, out, bias)</c>, with uninitialized weights inside <see cref="Scope"/>.</summary>
    public static Linear Linear(long inFeatures, long outFeatures, bool hasBias = true)
    {
        if (!Active)
            return nn.Linear(inFeatures, outFeatures, hasBias);
        // TorchSharp's Linear always initializes; on the meta device that costs nothing, then real storage replaces it.
        var linear = nn.Linear(inFeatures, outFeatures, hasBias, device: META);
        linear.weight = new Parameter(empty(outFeatures, inFeatures));
        if (hasBias)
            linear.bias = new Parameter(empty(outFeatures));
        return linear;
    }

    private sealed class Exit : IDisposable
    {
        private bool done;

        public void Dispose()
        {
            if (done) return;
            done = true;
            depth--;
        }
    }
}
