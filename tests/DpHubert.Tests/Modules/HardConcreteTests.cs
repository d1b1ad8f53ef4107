using System;
using System.Linq;
using DpHubert.Modules;
using FluentAssertions;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace DpHubert.Tests.Modules;

/// <summary>HardConcrete against hand-computed values of the original's formulas and, in training mode, statistically.</summary>
public class HardConcreteTests
{
    private static HardConcrete WithLogAlpha(params float[] logAlpha)
    {
        var hc = new HardConcrete(logAlpha.Length);
        using (no_grad()) hc.LogAlpha.copy_(tensor(logAlpha));
        hc.eval();
        return hc;
    }

    [Fact]
    public void Eval_mask_matches_the_original_vectors()
    {
        using var a = WithLogAlpha(-3, -1, 0, 1, 3, 5);
        a.L0Norm().item<float>().Should().BeApproximately(4.59419584f, 1e-6f);
        a.forward().data<float>().ToArray().Should().Equal(
            new[] { 0.0f, 0.23147522f, 0.5f, 0.76852483f, 0.97340298f, 0.99752742f }, (x, y) => Math.Abs(x - y) < 1e-6);

        using var b = WithLogAlpha(-2.5f, -2, 4, 4);
        b.L0Norm().item<float>().Should().BeApproximately(2.68235898f, 1e-6f);
        b.forward().data<float>().ToArray().Should().Equal(
            new[] { 0.0f, 0.08317269f, 0.99183744f, 0.99183744f }, (x, y) => Math.Abs(x - y) < 1e-6);
    }

    [Fact]
    public void Constants_and_init_follow_the_original()
    {
        using var hc = new HardConcrete(20000, initMean: 0.01, initStd: 0.01);
        hc.Bias.Should().BeApproximately(1.598596848532247, 1e-12);
        hc.LimitL.Should().Be(-0.1);
        hc.LimitR.Should().Be(1.1);
        hc.LogAlpha.mean().item<float>().Should().BeApproximately(4.59511985f, 1e-3f);
        hc.LogAlpha.std().item<float>().Should().BeApproximately(0.01f, 1e-3f);
        using var half = new HardConcrete(20000, initMean: 0.5);
        half.LogAlpha.mean().item<float>().Should().BeApproximately(0f, 1e-3f);
        hc.ToString().Should().Be("HardConcrete(20000)");
    }

    [Fact]
    public void Eval_mask_follows_log_alpha_changes()
    {
        using var hc = WithLogAlpha(5, 5, 5, 5);
        hc.forward().data<float>().ToArray().Should().OnlyContain(v => v > 0.99f);
        using (no_grad()) hc.LogAlpha.fill_(-5);
        hc.forward().data<float>().ToArray().Should().OnlyContain(v => v == 0f, "a stale cached mask would keep the old values");
    }

    [Theory]
    [InlineData(-1.0)]
    [InlineData(0.0)]
    [InlineData(2.0)]
    public void Training_samples_match_the_analytic_distribution(double logAlpha)
    {
        const int n = 200_000;
        using var hc = new HardConcrete(n);
        using (no_grad()) hc.LogAlpha.fill_(logAlpha);
        hc.train();
        using var mask = hc.forward();
        var values = mask.data<float>().ToArray();
        values.Should().OnlyContain(v => v >= 0f && v <= 1f);
        // s = sigmoid((logit(u) + log_alpha) / beta) is logistic; P(mask = 0) = P(s < 0.1/1.2), P(mask = 1) = P(s > 1.1/1.2).
        double beta = 2.0 / 3.0;
        double Cdf(double s) => 1.0 / (1.0 + Math.Exp(-(beta * Math.Log(s / (1 - s)) - logAlpha)));
        double pZero = Cdf(0.1 / 1.2), pOne = 1 - Cdf(1.1 / 1.2);
        // P(mask > 0) = sigmoid(log_alpha - beta * ln(0.1 / 1.1)) = sigmoid(log_alpha + bias): the l0_norm term.
        double pNonZero = 1.0 / (1.0 + Math.Exp(-(logAlpha + hc.Bias)));
        double tol = 4 * Math.Sqrt(0.25 / n);
        values.Count(v => v == 0f).Should().BeCloseTo((int)(pZero * n), (uint)(tol * n) + 1);
        values.Count(v => v == 1f).Should().BeCloseTo((int)(pOne * n), (uint)(tol * n) + 1);
        ((double)values.Count(v => v > 0f) / n).Should().BeApproximately(pNonZero, tol);
        (1 - pZero).Should().BeApproximately(pNonZero, 1e-9, "the analytic zero probability and l0_norm agree");
    }

    [Fact]
    public void Gradients_reach_log_alpha_in_training_and_through_l0_norm()
    {
        using var hc = new HardConcrete(16);
        hc.train();
        using var mask = hc.forward();
        using var loss = (mask * arange(16, dtype: float32)).sum() + hc.L0Norm();
        loss.backward();
        hc.LogAlpha.grad.Should().NotBeNull();
        hc.LogAlpha.grad!.abs().sum().item<float>().Should().BeGreaterThan(0f);
    }

    [Fact]
    public void Reset_parameters_redraws_log_alpha()
    {
        using var hc = new HardConcrete(1000, initMean: 0.01);
        using (no_grad()) hc.LogAlpha.zero_();
        hc.ResetParameters();
        hc.LogAlpha.mean().item<float>().Should().BeApproximately(4.59511985f, 5e-3f);
    }
}
