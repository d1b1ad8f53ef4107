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

    /// <summary>libtorch's per-tensor version counters, read through its exported operator entry points (TorchSharp 0.107
    /// has no binding; a call allocates nothing managed, which a live stream's blocks need).</summary>
    private static class Versions
    {
        private static readonly Lazy<Api?> api = new(Bind, LazyThreadSafetyMode.ExecutionAndPublication);

        public static bool Available => api.Value is not null;

        /// <summary>The sum of the version counters, or -1 when one of them is an inference tensor (made inside
        /// <c>inference_mode</c>: it keeps no counter, so nothing proves it unchanged).</summary>
        public static long Of(Tensor a, Tensor? b)
        {
            var f = api.Value!;
            if (f.IsInference(a.Handle) || (b is not null && f.IsInference(b.Handle))) return -1;
            return f.Version(a.Handle) + (b is null ? 0 : f.Version(b.Handle));
        }

        // Null where this libtorch does not export them: nothing is kept then, every pass computes its weights as before.
        private static Api? Bind()
        {
            _ = torch.get_num_threads(); // loads libtorch into the process first
            var (library, _) = OneDnn.Exports();
            var (isInference, version) = OperatingSystem.IsWindows() ? Msvc : Itanium;
            if (NativeLibrary.TryLoad(library, typeof(torch).Assembly, null, out var lib)
                && NativeLibrary.TryGetExport(lib, isInference, out var i)
                && NativeLibrary.TryGetExport(lib, version, out var v))
                return new Api(i, v);
            return null;
        }

        /// <summary><c>at::_ops::is_inference::call(const at::Tensor&amp;)</c> and <c>at::_ops::_version::call(const
        /// at::Tensor&amp;)</c> by their Itanium C++ names (a TorchSharp handle is an <c>at::Tensor*</c>).</summary>
        private static readonly (string IsInference, string Version) Itanium =
            ("_ZN2at4_ops12is_inference4callERKNS_6TensorE", "_ZN2at4_ops8_version4callERKNS_6TensorE");

        /// <summary>The same entry points by their MSVC (x64) names.</summary>
        private static readonly (string IsInference, string Version) Msvc =
            ("?call@is_inference@_ops@at@@SA_NAEBVTensor@3@@Z", "?call@_version@_ops@at@@SA_JAEBVTensor@3@@Z");

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        [return: MarshalAs(UnmanagedType.U1)]
        private delegate bool IsInferenceFn(IntPtr tensor);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        private delegate long VersionFn(IntPtr tensor);

        private sealed class Api(IntPtr isInference, IntPtr version)
        {
            public readonly IsInferenceFn IsInference = Marshal.GetDelegateForFunctionPointer<IsInferenceFn>(isInference);
            public readonly VersionFn Version = Marshal.GetDelegateForFunctionPointer<VersionFn>(version);
        }
    }
}
