using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DpHubert.Modules;

/// <summary>
/// The position-wise feed-forward block: Linear E to F, exact GELU, dropout, Linear F to E, dropout, with optional
/// HardConcrete masks over the F units and over the whole block. Keys: <c>intermediate_dense.*</c>,
/// <c>output_dense.*</c>, <c>hard_concrete_for_intermediate.log_alpha</c>, <c>hard_concrete_for_layer.log_alpha</c>.
/// </summary>
/// <remarks>Mirrors DPHuBERT <c>components.FeedForward</c>.</remarks>
public sealed class FeedForward : nn.Module<Tensor, Tensor>
{
    private readonly Linear intermediate_dense;
    private readonly Dropout intermediate_dropout;
    private readonly Linear output_dense;
    private readonly Dropout output_dropout;
    private HardConcrete? hard_concrete_for_intermediate;
    private HardConcrete? hard_concrete_for_layer;

    /// <summary>Creates the block.</summary>
    /// <param name="ioFeatures">E.</param>
    /// <param name="intermediateFeatures">F.</param>
    /// <param name="intermediateDropout">Dropout after the GELU.</param>
    /// <param name="outputDropout">Dropout after the output projection.</param>
    /// <param name="pruneIntermediate">HardConcrete over the F units (initial keep probability 0.5).</param>
    /// <param name="pruneLayer">HardConcrete over the block.</param>
    public FeedForward(int ioFeatures, int intermediateFeatures, double intermediateDropout, double outputDropout,
        bool pruneIntermediate = false, bool pruneLayer = false) : base(nameof(FeedForward))
    {
        IoFeatures = ioFeatures;
        intermediate_dense = DeferredInit.Linear(ioFeatures, intermediateFeatures);
        intermediate_dropout = nn.Dropout(intermediateDropout);
        output_dense = DeferredInit.Linear(intermediateFeatures, ioFeatures);
        output_dropout = nn.Dropout(outputDropout);
        hard_concrete_for_intermediate = pruneIntermediate ? new HardConcrete(intermediateFeatures, initMean: 0.5) : null;
        hard_concrete_for_layer = pruneLayer ? new HardConcrete(1, initMean: 0.01) : null;
        RegisterComponents();
    }

    /// <summary>E.</summary>
    public int IoFeatures { get; }

    /// <summary>Current F.</summary>
    public int IntermediateFeatures => (int)intermediate_dense.weight!.shape[0];

    /// <summary>Unit mask, or null.</summary>
    public HardConcrete? HardConcreteForIntermediate => hard_concrete_for_intermediate;

    /// <summary>Block mask, or null.</summary>
    public HardConcrete? HardConcreteForLayer => hard_concrete_for_layer;

    /// <summary>[batch, frames, E] to [batch, frames, E].</summary>
    /// <param name="x">Input.</param>
    public override Tensor forward(Tensor x)
    {
        // Each intermediate freed as soon as used (no dispose scope needed); the input is the caller's.
        var h = LinearKernels.Apply(intermediate_dense, x);
        h = Activations.Gelu(h, owned: true);
        if (training) h = Scopes.Replace(h, intermediate_dropout.call(h), null);
        h = Scopes.Replace(h, HardConcrete.Apply(hard_concrete_for_intermediate, h), null);
        Tensor y;
        using (h) y = LinearKernels.Apply(output_dense, h);
        if (training) y = Scopes.Replace(y, output_dropout.call(y), null);
        return Scopes.Replace(y, HardConcrete.Apply(hard_concrete_for_layer, y), null);
    }

    /// <summary>Pruning-aware size <c>(E+1) F + (F+1) E</c>, times the block mask's L0 norm if any.</summary>
    public Tensor GetNumParams()
    {
        var f = hard_concrete_for_intermediate is not null
            ? hard_concrete_for_intermediate.L0Norm().to(ScalarType.Float64) : tensor((double)IntermediateFeatures, float64);
        var n = f.Times((long)IoFeatures + 1).Plus(f.Plus(1L).Times((long)IoFeatures));
        return HardConcrete.ScaleByL0(hard_concrete_for_layer, n);
    }

    /// <summary>
    /// Applies the masks in place (eval mode): folds the block mask into <c>output_dense</c>, keeps the non-zero units
    /// (scaling <c>output_dense</c> columns by the soft mask) and removes the masks.
    /// </summary>
    /// <returns>Whether the block survives and its new width.</returns>
    public (bool UseFeedForward, int IntermediateFeatures) Prune()
    {
        using var _ = no_grad();
        bool use = true;
        int features = IntermediateFeatures;
        if (hard_concrete_for_layer is not null)
        {
            using var m = hard_concrete_for_layer.PruningMask();
            output_dense.weight!.mul_(m);
            output_dense.bias!.mul_(m);
            if (m.item<float>() == 0f) use = false;
            PruningUtils.RemoveModule(this, ref hard_concrete_for_layer, nameof(hard_concrete_for_layer));
        }
        if (hard_concrete_for_intermediate is not null)
        {
            using var im = hard_concrete_for_intermediate.PruningMask();
            using var index = im.nonzero().squeeze(-1);
            features = (int)index.shape[0];
            if (features == 0) use = false;
            else
            {
                PruningUtils.PruneLinearLayer(intermediate_dense, index, PruneDimension.Output);
                output_dense.weight!.mul_(im);
                PruningUtils.PruneLinearLayer(output_dense, index, PruneDimension.Input);
            }
            PruningUtils.RemoveModule(this, ref hard_concrete_for_intermediate, nameof(hard_concrete_for_intermediate));
        }
        return (use, features);
    }
}
