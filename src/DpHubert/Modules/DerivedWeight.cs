using System;
using System.Runtime.InteropServices;
using System.Threading;
using TorchSharp;
using static TorchSharp.torch;

namespace DpHubert.Modules;

/// <summary>
/// A tensor computed from parameters the same way on every pass (the positional convolution's weight norm, a
/// convolution's tap-order rows), kept between passes while provably nothing it was computed from changed: the same
/// parameter objects (<c>to(dtype / device)</c>, pruning and assignment make new ones), the same dtype and device, and the
/// same libtorch version counters (every in-place write bumps them: <c>load_state_dict</c>'s <c>copy_</c>, optimizer
/// steps, <c>mul_</c>). Used only while autograd is off, so a pass that records gradients always computes it afresh, and
/// never for parameters created inside <c>inference_mode</c> (they have no version counter).
/// </summary>
/// <remarks>Thread-safe: streams on many threads share one model. <see cref="Get"/> returns a new reference to the
/// value (the caller disposes it), so a recomputation on another thread never frees a tensor still in use.</remarks>
internal sealed class DerivedWeight : IDisposable
{
    private readonly object gate = new();
    private Tensor? value;
    private Parameter? first, second;
    private long version = -1;
    private ScalarType dtype;

    /// <summary>The value for <paramref name="a"/> (and <paramref name="b"/>) in <paramref name="type"/>: the kept one
    /// when still valid, else computed by <paramref name="compute"/> (and kept when autograd is off).</summary>
    /// <param name="a">The first parameter it is computed from.</param>
    /// <param name="b">The second, or null.</param>
    /// <param name="type">The dtype the caller wants it in (part of the key: a bf16 pass and a float32 block share a model).</param>
    /// <param name="compute">Computes it from (<paramref name="a"/>, <paramref name="b"/>, <paramref name="type"/>); its
    /// result is owned by this cache or the caller. A static lambda, so a pass allocates no delegate.</param>
    /// <returns>A tensor the caller disposes.</returns>
    public Tensor Get(Parameter a, Parameter? b, ScalarType type, Func<Parameter, Parameter?, ScalarType, Tensor> compute)
    {
        if (is_grad_enabled() || !Versions.Available) return compute(a, b, type);
        lock (gate)
        {
            long now = Versions.Of(a, b);
            // Parameters made inside inference_mode keep no version counter: nothing proves them unchanged, so compute.
            if (now < 0) return compute(a, b, type);
            if (value is null || !ReferenceEquals(first, a) || !ReferenceEquals(second, b) || version != now || dtype != type
                || value.device_type != a.device_type || value.device_index != a.device_index)
            {
                var fresh = compute(a, b, type).DetachFromDisposeScope();
                value?.Dispose();
                (value, first, second, version, dtype) = (fresh, a, b, now, type);
            }
            return value.alias();
        }
    }

    /// <summary>Frees the kept value (the next <see cref="Get"/> computes it again).</summary>
    public void Dispose()
    {
        lock (gate)
        {
            value?.Dispose();
            (value, first, second, version) = (null, null, null, -1);
        }
    }

    /// <summary>libtorch's per-tensor version counters, read through TorchScript (TorchSharp 0.107 has no binding).</summary>
    private static class Versions
    {
        private static readonly Lazy<jit.CompilationUnit?> script = new(Compile, LazyThreadSafetyMode.ExecutionAndPublication);

        public static bool Available => script.Value is not null;

        public static long Of(Tensor a, Tensor? b)
        {
            using var result = b is null ? (Scalar)script.Value!.invoke("one", a) : (Scalar)script.Value!.invoke("two", a, b);
            return result.ToInt64();
        }

        // Null where this libtorch cannot run it: nothing is kept then, every pass computes its weights as before.
        private static jit.CompilationUnit? Compile()
        {
            try
            {
                return jit.compile("""
                    def one(a: Tensor) -> int:
                        if a.is_inference():
                            return -1
                        return a._version()

                    def two(a: Tensor, b: Tensor) -> int:
                        if a.is_inference() or b.is_inference():
                            return -1
                        return a._version() + b._version()

                    """);
            }
            catch (ExternalException)
            {
                return null;
            }
        }
    }
}
