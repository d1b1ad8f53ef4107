using static TorchSharp.torch;

namespace DpHubert.Modules;

/// <summary>The activation functions the modules share.</summary>
internal static class Activations
{
    /// <summary>Exact GELU, in place when <paramref name="owned"/> (the caller's own intermediate) and no autograd graph
    /// needs its input (same kernel, same numbers). An owned input's wrapper is freed (in place, the result is a second
    /// wrapper of the same memory), so callers need no dispose scope.</summary>
    public static Tensor Gelu(Tensor x, bool owned)
    {
        if (!owned) return nn.functional.gelu(x);
        var y = Scopes.NoGrad ? x.gelu_() : nn.functional.gelu(x);
        if (!ReferenceEquals(y, x)) x.Dispose();
        return y;
    }
}
