using TorchSharp;
using static TorchSharp.torch;

namespace DpHubert;

/// <summary>Frees intermediates as soon as their last use is done, so a forward pass holds one layer's worth of them
/// (a dispose scope around a whole pass would keep every layer's until it ends).</summary>
internal static class Scopes
{
    /// <summary>No autograd graph will read the intermediates: they may be changed in place.</summary>
    public static bool NoGrad => !is_grad_enabled();

    /// <summary>Moves those of <paramref name="results"/> that <paramref name="scope"/> owns to its enclosing scope;
    /// a result made before the step (an input passed through) stays where it is.</summary>
    public static void Keep(DisposeScope scope, params Tensor?[] results)
    {
        foreach (var r in results)
            if (r is not null && scope.Contains(r)) scope.MoveToOuter(r);
    }

    /// <summary>Frees <paramref name="previous"/> now that <paramref name="next"/> replaces it, unless it is the
    /// caller's <paramref name="input"/> (not ours to free) or the same tensor; returns <paramref name="next"/>.</summary>
    public static Tensor Replace(Tensor previous, Tensor next, Tensor? input)
    {
        if (!ReferenceEquals(previous, input) && !ReferenceEquals(previous, next)) previous.Dispose();
        return next;
    }
}
