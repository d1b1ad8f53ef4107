using System;
using static TorchSharp.torch;

namespace DpHubert.Modules;

/// <summary>
/// A HardConcrete distribution over <c>n_in</c> gates: the learnable L0 mask DPHuBERT prunes with.
/// Its only parameter is <c>log_alpha</c> [n_in].
/// </summary>
/// <remarks>
/// Mirrors DPHuBERT <c>wav2vec2/hardconcrete.py</c> (which comes from asappresearch/flop). In training mode
/// <see cref="forward"/> samples a stretched, clamped concrete mask; in eval mode it returns a deterministic
/// <em>soft</em> mask: <c>sigmoid(0.8 log_alpha / beta)</c> with the <c>round(n - l0_norm)</c> smallest entries
/// set to zero. Unlike the original, the eval mask is recomputed on every call rather than cached, so it can
/// never go stale after <c>log_alpha</c> changes (e.g. a state_dict load).
/// </remarks>
public sealed class HardConcrete : nn.Module
{
    private readonly Parameter log_alpha;

    /// <summary>Creates the gates and initializes <c>log_alpha</c> (see <see cref="ResetParameters"/>).</summary>
    /// <param name="nIn">Number of gates.</param>
    /// <param name="initMean">Initial expected keep probability (0.01 for most masks, 0.5 for FFN units).</param>
    /// <param name="initStd">Standard deviation of the initial <c>log_alpha</c>.</param>
    /// <param name="temperature">beta, 2/3 by default.</param>
    /// <param name="stretch">Interval stretch; the samples live in (-stretch, 1 + stretch) before clamping.</param>
    /// <param name="eps">Keeps uniform samples away from 0 and 1.</param>
    public HardConcrete(int nIn, double initMean = 0.5, double initStd = 0.01, double temperature = 2.0 / 3.0,
        double stretch = 0.1, double eps = 1e-6) : base(nameof(HardConcrete))
    {
        if (nIn <= 0) throw new ArgumentOutOfRangeException(nameof(nIn), nIn, "A HardConcrete needs at least one gate.");
        NIn = nIn;
        LimitL = -stretch;
        LimitR = 1.0 + stretch;
        Beta = temperature;
        Bias = -Beta * Math.Log(-LimitL / LimitR);
        Eps = eps;
        InitMean = initMean;
        InitStd = initStd;
        log_alpha = nn.Parameter(zeros(nIn));
        ResetParameters();
        RegisterComponents();
    }

    /// <summary>Number of gates.</summary>
    public int NIn { get; }

    /// <summary>Left end of the stretched interval (-0.1).</summary>
    public double LimitL { get; }

    /// <summary>Right end of the stretched interval (1.1).</summary>
    public double LimitR { get; }

    /// <summary>Temperature beta.</summary>
    public double Beta { get; }

    /// <summary><c>-beta * ln(-limit_l / limit_r)</c> = 1.5986 with the defaults; shifts <c>log_alpha</c> in <see cref="L0Norm"/>.</summary>
    public double Bias { get; }

    /// <summary>Epsilon of the uniform samples.</summary>
    public double Eps { get; }

    /// <summary>Initial keep probability.</summary>
    public double InitMean { get; }

    /// <summary>Initial standard deviation.</summary>
    public double InitStd { get; }

    /// <summary>The gate logits, [n_in].</summary>
    public Parameter LogAlpha => log_alpha;

    /// <summary>Draws <c>log_alpha ~ Normal(ln(1 - init_mean) - ln(init_mean), init_std)</c>.</summary>
    public void ResetParameters()
    {
        double mean = Math.Log(1 - InitMean) - Math.Log(InitMean);
        using var _ = no_grad();
        log_alpha.normal_(mean, InitStd);
    }

    /// <summary>Expected number of non-zero gates, <c>sum(sigmoid(log_alpha + bias))</c>: a differentiable scalar.</summary>
    public Tensor L0Norm() => log_alpha.Plus(Bias).sigmoid().sum();

    /// <summary>The mask [n_in]: a sample in training mode, the deterministic soft mask in eval mode.</summary>
    public Tensor forward()
    {
        if (training)
        {
            using var scope = NewDisposeScope();
            var u = empty(NIn, dtype: log_alpha.dtype, device: log_alpha.device).uniform_(Eps, 1 - Eps);
            var s = (u / u.SubtractedFrom(1.0)).log().Plus(log_alpha).DividedBy(Beta);
            s = s.sigmoid().Times(LimitR - LimitL).Plus(LimitL);
            return s.Clamp(0.0, 1.0).MoveToOuterDisposeScope();
        }
        using (var scope = NewDisposeScope())
        {
            double expectedNumZeros = NIn - L0Norm().to(ScalarType.Float64).item<double>();
            // Python's round() rounds halves to even, as Math.Round does by default.
            int numZeros = (int)Math.Round(expectedNumZeros);
            var softMask = log_alpha.DividedBy(Beta).Times(0.8).sigmoid();
            if (numZeros > 0)
            {
                var (_, idx) = softMask.topk(numZeros, largest: false);
                softMask = softMask.IndexFill(0, idx, 0.0);
            }
            return softMask.MoveToOuterDisposeScope();
        }
    }

    /// <summary>The eval-mode mask that <c>Prune()</c> folds into the weights; refuses training mode, as the original asserts.</summary>
    internal Tensor PruningMask() => !training ? forward()
        : throw new InvalidOperationException("Prune() needs eval mode: call eval() first.");

    /// <summary><paramref name="x"/> times the current mask of <paramref name="gate"/> (shaped by
    /// <paramref name="maskShape"/> when given); <paramref name="x"/> itself when the block is not pruned.</summary>
    internal static Tensor Apply(HardConcrete? gate, Tensor x, long[]? maskShape = null)
    {
        if (gate is null) return x;
        using var mask = gate.forward();
        if (maskShape is null) return x * mask;
        using var shaped = mask.view(maskShape);
        return x * shaped;
    }

    /// <summary>A float64 parameter count times the expected L0 norm of <paramref name="gate"/>; unchanged without one.</summary>
    internal static Tensor ScaleByL0(HardConcrete? gate, Tensor count) =>
        gate is null ? count : count * gate.L0Norm().to(ScalarType.Float64);

    /// <inheritdoc/>
    public override string ToString() => $"HardConcrete({NIn})";
}
