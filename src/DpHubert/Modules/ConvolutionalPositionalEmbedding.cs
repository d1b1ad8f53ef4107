using System;
using static TorchSharp.torch;

namespace DpHubert.Modules;

/// <summary>
/// A grouped Conv1d with the legacy weight norm over dim 2: parameters <c>weight_g</c> [1, 1, K],
/// <c>weight_v</c> [E, E/G, K] and <c>bias</c> [E]; the effective weight is
/// <c>g[k] * v[:, :, k] / ||v[:, :, k]||</c> (no epsilon), as <c>nn.utils.weight_norm(conv, dim=2)</c> computes it.
/// </summary>
/// <remarks>TorchSharp has no weight-norm wrapper, so the weight is computed in <see cref="forward"/>.</remarks>
public sealed class WeightNormConv1d : nn.Module<Tensor, Tensor>
{
    private readonly Parameter bias;
    private readonly Parameter weight_g;
    private readonly Parameter weight_v;

    /// <summary>Creates the convolution (<c>v</c> ~ kaiming-uniform as Conv1d does, <c>g = ||v||</c>).</summary>
    /// <param name="channels">E (in = out).</param>
    /// <param name="kernelSize">K.</param>
    /// <param name="groups">G.</param>
    public WeightNormConv1d(int channels, int kernelSize, int groups) : base("Conv1d")
    {
        OneDnn.ApplyEnvironmentOnce(); // before any convolution runs
        KernelSize = kernelSize;
        Padding = kernelSize / 2;
        Groups = groups;
        if (DeferredInit.Active)
        {
            weight_v = nn.Parameter(DeferredInit.Empty(channels, channels / groups, kernelSize));
            bias = nn.Parameter(DeferredInit.Empty(channels));
            weight_g = nn.Parameter(DeferredInit.Empty(1, 1, kernelSize));
            RegisterComponents();
            return;
        }
        using var init = nn.Conv1d(channels, channels, kernelSize, padding: kernelSize / 2, groups: groups);
        weight_v = nn.Parameter(init.weight!.detach().clone());
        bias = nn.Parameter(init.bias!.detach().clone());
        using (no_grad())
            weight_g = nn.Parameter(weight_v.Power(2).sum(new long[] { 0, 1 }, keepdim: true).sqrt());
        RegisterComponents();
    }

    /// <summary>K.</summary>
    public int KernelSize { get; }

    /// <summary>K / 2 on both sides.</summary>
    public int Padding { get; }

    /// <summary>G.</summary>
    public int Groups { get; }

    /// <summary>The effective weight <c>g * v / ||v||</c>, [E, E/G, K].</summary>
    public Tensor ComputeWeight() => Normalized(weight_v, weight_g);

    private static Tensor Normalized(Tensor v, Tensor g)
    {
        using var squares = v.Power(2);
        using var sum = squares.sum(new long[] { 0, 1 }, keepdim: true);
        using var norm = sum.sqrt();
        using var scale = g / norm;
        return v * scale;
    }

    private readonly DerivedWeight effective = new();

    /// <summary>[batch, E, T] to [batch, E, T + 2 * (K / 2) - K + 1].</summary>
    /// <param name="x">Input.</param>
    /// <remarks>Without autograd the effective weight is kept between passes until <c>weight_g</c> or <c>weight_v</c>
    /// change (in place, by assignment or by <c>to()</c>): it is the same on every pass.</remarks>
    public override Tensor forward(Tensor x)
    {
        using var w = effective.Get(weight_v, weight_g, weight_v.dtype, static (v, g, _) => Normalized(v, g!));
        return nn.functional.conv1d(x, w, bias, stride: 1, padding: Padding, groups: Groups);
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing) effective.Dispose();
        base.Dispose(disposing);
    }
}

/// <summary>
/// The convolutional relative positional embedding: weight-normed grouped conv, drop the extra last frame when
/// K is even, GELU. Its output is <em>added</em> to the input by <see cref="Transformer"/>. Keys: <c>conv.*</c>.
/// </summary>
/// <remarks>Mirrors DPHuBERT <c>components.ConvolutionalPositionalEmbedding</c>.</remarks>
public sealed class ConvolutionalPositionalEmbedding : nn.Module<Tensor, Tensor>
{
    private readonly WeightNormConv1d conv;

    /// <summary>Creates the embedding.</summary>
    /// <param name="embedDim">E.</param>
    /// <param name="kernelSize">K (128 in released models).</param>
    /// <param name="groups">G (16 in released models).</param>
    public ConvolutionalPositionalEmbedding(int embedDim, int kernelSize, int groups) : base(nameof(ConvolutionalPositionalEmbedding))
    {
        if (embedDim % groups != 0) throw new ArgumentException($"embed_dim {embedDim} is not divisible by groups {groups}", nameof(groups));
        EmbedDim = embedDim;
        KernelSize = kernelSize;
        NumRemove = kernelSize % 2 == 0 ? 1 : 0;
        conv = new WeightNormConv1d(embedDim, kernelSize, groups);
        RegisterComponents();
    }

    /// <summary>E.</summary>
    public int EmbedDim { get; }

    /// <summary>K.</summary>
    public int KernelSize { get; }

    /// <summary>1 when K is even (the padded conv yields one frame too many), else 0.</summary>
    public int NumRemove { get; }

    /// <summary>[batch, frames, E] to [batch, frames, E].</summary>
    /// <param name="x">Input.</param>
    public override Tensor forward(Tensor x)
    {
        Tensor y;
        using (var t = x.transpose(-2, -1)) y = conv.call(t);
        if (NumRemove > 0) y = Scopes.Replace(y, y.narrow(-1, 0, y.size(-1) - NumRemove), null);
        y = Scopes.Replace(y, nn.functional.gelu(y), null);
        using (y) return y.transpose(-2, -1);
    }

    /// <summary>Number of parameters (<c>weight_g</c> + <c>weight_v</c> + <c>bias</c>).</summary>
    public long NumParameters()
    {
        long n = 0;
        foreach (var p in parameters()) n += p.numel();
        return n;
    }
}
