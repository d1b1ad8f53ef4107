using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DpHubert.Modules;

/// <summary>
/// LayerNorm over the conv channels, then a linear projection to the transformer width, then dropout.
/// Keys: <c>layer_norm.*</c>, <c>projection.*</c>. Mirrors DPHuBERT <c>components.FeatureProjection</c>.
/// </summary>
public sealed class FeatureProjection : nn.Module<Tensor, Tensor>
{
    private readonly PrunableLayerNorm layer_norm;
    private readonly Linear projection;
    private readonly Dropout dropout;

    /// <summary>Creates the projection.</summary>
    /// <param name="inFeatures">Conv channels C.</param>
    /// <param name="outFeatures">Transformer width E.</param>
    /// <param name="dropout">Dropout probability (training only).</param>
    public FeatureProjection(int inFeatures, int outFeatures, double dropout) : base(nameof(FeatureProjection))
    {
        layer_norm = new PrunableLayerNorm(inFeatures);
        projection = DeferredInit.Linear(inFeatures, outFeatures);
        this.dropout = nn.Dropout(dropout);
        RegisterComponents();
    }

    /// <summary>The LayerNorm over conv channels.</summary>
    public PrunableLayerNorm Norm => layer_norm;

    /// <summary>The projection C to E.</summary>
    public Linear Projection => projection;

    /// <summary>[batch, frames, C] to [batch, frames, E].</summary>
    /// <param name="x">Conv features.</param>
    public override Tensor forward(Tensor x)
    {
        Tensor y;
        using (var normed = layer_norm.call(x)) y = LinearKernels.Apply(projection, normed);
        return training ? Scopes.Replace(y, dropout.call(y), null) : y; // eval dropout is the identity; skipping it saves a wrapper per pass
    }

    /// <summary><c>2 C + (C + 1) E</c>, with C possibly an expectation.</summary>
    /// <param name="inFeatures">C.</param>
    public Tensor GetNumParams(Tensor inFeatures) => inFeatures.Times(2L).Plus(inFeatures.Plus(1L).Times(projection.weight!.shape[0]));

    /// <summary>Keeps the input channels in <paramref name="index"/> (after conv pruning).</summary>
    /// <param name="index">Kept channels of the last conv layer.</param>
    public void Prune(Tensor index)
    {
        PruningUtils.PruneLayerNorm(layer_norm, index);
        PruningUtils.PruneLinearLayer(projection, index, PruneDimension.Input);
    }
}
