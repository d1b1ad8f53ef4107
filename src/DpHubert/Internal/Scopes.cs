using TorchSharp;
using static TorchSharp.torch;

namespace DpHubert;

/// <summary>Frees intermediates as soon as their last use is done, so a forward pass holds one layer's worth of them
/// (a dispose scope around a whole pass would keep every layer's until it ends).</summary>
internal static class Scopes
{
    /// <summary>No autograd graph will read the intermediates: they may be changed in place.</summary>
    public static bool NoGrad => !is_grad_enabled();

    /// <summary>Moves <paramref name="result"/> to the enclosing scope when <paramref name="scope"/> owns it;
    /// a result made before the step (an input passed through) stays where it is.</summary>
    public static void Keep(DisposeScope scope, Tensor? result)
    {
        if (result is not null && scope.Contains(result)) scope.MoveToOuter(result);
    }

    /// <summary><see cref="Keep(DisposeScope, Tensor?)"/> for each of <paramref name="results"/>.</summary>
    public static void Keep(DisposeScope scope, Tensor?[] results)
    {
        foreach (var r in results) Keep(scope, r);
    }

    /// <summary><see cref="Keep(DisposeScope, Tensor?)"/> for two results (no params array: this runs per layer).</summary>
    public static void Keep(DisposeScope scope, Tensor? first, Tensor? second)
    {
        Keep(scope, first);
        Keep(scope, second);
    }

    /// <summary>Frees <paramref name="previous"/> now that <paramref name="next"/> replaces it, unless it is the
    /// caller's <paramref name="input"/> (not ours to free) or the same tensor; returns <paramref name="next"/>.</summary>
    public static Tensor Replace(Tensor previous, Tensor next, Tensor? input)
    {
        if (!ReferenceEquals(previous, input) && !ReferenceEquals(previous, next)) previous.Dispose();
        return next;
    }
}
