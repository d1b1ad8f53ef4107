using static TorchSharp.torch;

namespace DpHubert.Modules;

/// <summary>The activation functions the modules share.</summary>
internal static class Activations
{
    /// <summary>Exact GELU, in place when <paramref name="owned"/> (the caller's own intermediate) and no autograd graph
    /// needs its input (same kernel, same numbers).</summary>
    public static Tensor Gelu(Tensor x, bool owned) => owned && Scopes.NoGrad ? x.gelu_() : nn.functional.gelu(x);
}
