using static TorchSharp.torch;

namespace DpHubert.Modules;

/// <summary>
/// Layer normalization over the last dimension (<c>nn.LayerNorm(C)</c>, eps 1e-5, affine), or, with
/// <c>channelsFirst</c>, over the channel dimension of a [batch, channels, time] input (DPHuBERT's
/// <c>components.LayerNorm</c>, which transposes around <c>F.layer_norm</c>). Keys: <c>weight</c>, <c>bias</c>.
/// </summary>
/// <remarks>Not TorchSharp's <c>nn.LayerNorm</c>: the normalized size is read from <c>weight</c>, so pruning the parameters
/// in place keeps it working. The module is named <c>LayerNorm</c>, the original's class name.</remarks>
public sealed class PrunableLayerNorm : nn.Module<Tensor, Tensor>
{
    private Parameter weight;
    private Parameter bias;

    /// <summary>Creates a LayerNorm of <paramref name="size"/> features, weight 1 and bias 0.</summary>
    /// <param name="size">Normalized size.</param>
    /// <param name="channelsFirst">Normalize dim 1 of a [batch, channels, time] input instead of the last dim.</param>
    /// <param name="eps">Variance epsilon (torch default 1e-5).</param>
    public PrunableLayerNorm(long size, bool channelsFirst = false, double eps = 1e-5) : base("LayerNorm")
    {
        ChannelsFirst = channelsFirst;
        Eps = eps;
        weight = nn.Parameter(ones(size));
        bias = nn.Parameter(zeros(size));
        RegisterComponents();
    }

    /// <summary>Whether the input is [batch, channels, time].</summary>
    public bool ChannelsFirst { get; }

    /// <summary>Variance epsilon.</summary>
    public double Eps { get; }

    /// <summary>Scale, [size].</summary>
    public Parameter Weight { get => weight; set { weight = value; ConditionallyRegisterParameter(nameof(weight), value); } }

    /// <summary>Shift, [size].</summary>
    public Parameter Bias { get => bias; set { bias = value; ConditionallyRegisterParameter(nameof(bias), value); } }

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        if (!ChannelsFirst) return nn.functional.layer_norm(x, NormalizedShape, weight, bias, Eps);
        using var t = x.transpose(-2, -1);
        using var y = nn.functional.layer_norm(t, NormalizedShape, weight, bias, Eps);
        return y.transpose(-2, -1);
    }

    private long[]? normalizedShape;

    /// <summary>[size], kept between passes (no managed garbage per call); renewed when pruning changed the size.</summary>
    internal long[] NormalizedShape
    {
        get
        {
            long size = weight.size(0);
            if (normalizedShape is not { } s || s[0] != size) normalizedShape = s = new[] { size };
            return s;
        }
    }
}

/// <summary>
/// <c>nn.GroupNorm(C, C, affine=True)</c>: every channel of a [batch, channels, time] input normalized over time
/// (eps 1e-5). Keys: <c>weight</c>, <c>bias</c>. The group count follows <c>weight</c>, so in-place pruning works.
/// </summary>
public sealed class PerChannelGroupNorm : nn.Module<Tensor, Tensor>
{
    private Parameter weight;
    private Parameter bias;

    /// <summary>Creates the norm for <paramref name="channels"/> channels.</summary>
    /// <param name="channels">Channels (= groups).</param>
    /// <param name="eps">Variance epsilon.</param>
    public PerChannelGroupNorm(long channels, double eps = 1e-5) : base("GroupNorm")
    {
        Eps = eps;
        weight = nn.Parameter(ones(channels));
        bias = nn.Parameter(zeros(channels));
        RegisterComponents();
    }

    /// <summary>Variance epsilon.</summary>
    public double Eps { get; }

    /// <summary>Scale, [channels].</summary>
    public Parameter Weight { get => weight; set { weight = value; ConditionallyRegisterParameter(nameof(weight), value); } }

    /// <summary>Shift, [channels].</summary>
    public Parameter Bias { get => bias; set { bias = value; ConditionallyRegisterParameter(nameof(bias), value); } }

    /// <inheritdoc/>
    public override Tensor forward(Tensor x) => nn.functional.group_norm(x, weight.size(0), weight, bias, Eps);
}
