using System;
using System.Runtime.InteropServices;
using System.Threading;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DpHubert;

/// <summary>Which library computes the float32 linear layers on the CPU.</summary>
public enum LinearBackend
{
    /// <summary>libtorch's default: its BLAS (MKL in the official builds), which on AMD CPUs runs its AVX2 code path.</summary>
    Blas,

    /// <summary>libtorch's oneDNN matrix multiplication, which picks its code path by the CPU's instruction sets
    /// (AVX-512 on any vendor that has it). Checked by <see cref="KernelCheck"/> like every other kernel.</summary>
    OneDnn,
}

/// <summary>
/// Routes the models' float32 linear layers to <see cref="LinearBackend.OneDnn"/> when asked (process-wide, like
/// libtorch's own oneDNN switch): <see cref="EnvironmentVariable"/> <c>onednn</c> or <see cref="Backend"/>. TorchSharp
/// has no binding for it, so a two-line TorchScript function calls <c>mkldnn_linear</c>. Other dtypes, devices and
/// passes that record gradients always use <see cref="Linear"/>'s own forward, and so does everything once oneDNN is
/// turned off (<see cref="KernelCheck"/>'s last resort).
/// </summary>
public static class LinearKernels
{
    /// <summary>The environment variable read once per process: <c>blas</c> (default) or <c>onednn</c>.</summary>
    public const string EnvironmentVariable = "DPHUBERT_LINEAR";

    private static readonly Lazy<LinearBackend> fromEnvironment = new(() => Parse(Environment.GetEnvironmentVariable(EnvironmentVariable)));
    private static readonly Lazy<jit.CompilationUnit?> script = new(Compile, LazyThreadSafetyMode.ExecutionAndPublication);
    private static int overridden = -1;

    /// <summary>The backend float32 CPU linear layers use now.</summary>
    /// <exception cref="ArgumentException">(Reading) <see cref="EnvironmentVariable"/> has a value other than blas/onednn.</exception>
    public static LinearBackend Backend
    {
        get
        {
            int o = Volatile.Read(ref overridden);
            return o >= 0 ? (LinearBackend)o : fromEnvironment.Value;
        }
        set
        {
            if (!Enum.IsDefined(value)) throw new ArgumentOutOfRangeException(nameof(value), value, "Unknown linear backend.");
            Volatile.Write(ref overridden, (int)value);
        }
    }

    /// <summary>Reads a value of <see cref="EnvironmentVariable"/>: <see cref="LinearBackend.Blas"/> when empty.</summary>
    /// <param name="value">The variable's value.</param>
    /// <exception cref="ArgumentException">Anything but blas or onednn (any case).</exception>
    internal static LinearBackend Parse(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        null or "" or "blas" => LinearBackend.Blas,
        "onednn" => LinearBackend.OneDnn,
        _ => throw new ArgumentException($"{EnvironmentVariable}={value} is not a valid setting: use 'blas' or 'onednn'."),
    };

    /// <summary>Whether a linear layer of this dtype and device goes through oneDNN now: the backend asks for it, oneDNN
    /// is on and this libtorch runs the script. The kernel check reports its path by the same rule.</summary>
    internal static bool RoutesToOneDnn(ScalarType dtype, DeviceType device) => Backend == LinearBackend.OneDnn
        && dtype == ScalarType.Float32 && device == DeviceType.CPU && OneDnn.Enabled && script.Value is not null;

    /// <summary>Whether <paramref name="x"/> would go through oneDNN now.</summary>
    internal static bool UsesOneDnn(Tensor x) => RoutesToOneDnn(x.dtype, x.device_type) && !(is_grad_enabled() && x.requires_grad);

    /// <summary><paramref name="layer"/> applied to <paramref name="x"/> on the current backend.</summary>
    /// <param name="layer">The layer.</param>
    /// <param name="x">[..., in_features].</param>
    internal static Tensor Apply(Linear layer, Tensor x) =>
        UsesOneDnn(x) && !(is_grad_enabled() && layer.weight!.requires_grad) ? OneDnnLinear(x, layer.weight!, layer.bias) : layer.call(x);

    /// <summary><c>x Wᵀ + b</c> through oneDNN, for any leading dimensions of <paramref name="x"/>.</summary>
    internal static Tensor OneDnnLinear(Tensor x, Tensor weight, Tensor? bias)
    {
        var shape = x.shape; // a fresh array: it becomes the output's shape
        using var rows = x.reshape(-1, shape[^1]);
        shape[^1] = weight.size(0);
        using var y = bias is null
            ? (Tensor)script.Value!.invoke("linear_no_bias", rows, weight)
            : (Tensor)script.Value!.invoke("linear", rows, weight, bias);
        return y.view(shape);
    }

    // Null, with one warning, where this libtorch cannot run it (a build without oneDNN): the layers stay on BLAS.
    private static jit.CompilationUnit? Compile()
    {
        try
        {
            return jit.compile("""
                def linear(x: Tensor, w: Tensor, b: Tensor) -> Tensor:
                    return torch.to_dense(torch.mkldnn_linear(torch.to_mkldnn(x.contiguous()), w, b))

                def linear_no_bias(x: Tensor, w: Tensor) -> Tensor:
                    return torch.to_dense(torch.mkldnn_linear(torch.to_mkldnn(x.contiguous()), w))

                """);
        }
        catch (ExternalException e)
        {
            Console.Error.WriteLine($"warning: {EnvironmentVariable}=onednn ignored: this libtorch cannot run mkldnn_linear ({e.Message.Split('\n')[0]}).");
            return null;
        }
    }
}
