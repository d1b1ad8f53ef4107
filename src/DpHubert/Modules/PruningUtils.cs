using System;
using Linear = TorchSharp.Modules.Linear;
using static TorchSharp.torch;

namespace DpHubert.Modules;

/// <summary>Which side of a layer to slice.</summary>
public enum PruneDimension
{
    /// <summary>Input features / channels (weight axis 1). The bias is kept.</summary>
    Input,

    /// <summary>Output features / channels (weight axis 0). The bias is sliced too.</summary>
    Output,
}

/// <summary>
/// In-place structured pruning of single layers: keep the entries of <c>index</c> along one axis.
/// Mirrors DPHuBERT <c>wav2vec2/pruning_utils.py</c>.
/// </summary>
public static class PruningUtils
{
    /// <summary>Keeps the rows (output) or columns (input) of a linear layer's weight listed in <paramref name="index"/>.</summary>
    /// <param name="layer">The layer, changed in place.</param>
    /// <param name="index">int64 indices to keep.</param>
    /// <param name="dim">Which side to prune.</param>
    public static void PruneLinearLayer(Linear layer, Tensor index, PruneDimension dim)
    {
        ArgumentNullException.ThrowIfNull(layer);
        long axis = dim == PruneDimension.Input ? 1 : 0;
        layer.weight = Slice(layer.weight!, axis, index);
        if (axis == 0 && layer.bias is not null) layer.bias = Slice(layer.bias, 0, index);
    }

    /// <summary>Keeps the output (axis 0) or input (axis 1) channels of a Conv1d weight listed in <paramref name="index"/>.</summary>
    /// <param name="layer">The convolution, changed in place.</param>
    /// <param name="index">int64 indices to keep.</param>
    /// <param name="dim">Which side to prune.</param>
    public static void PruneConv1dLayer(PrunableConv1d layer, Tensor index, PruneDimension dim)
    {
        ArgumentNullException.ThrowIfNull(layer);
        long axis = dim == PruneDimension.Input ? 1 : 0;
        layer.Weight = Slice(layer.Weight, axis, index);
        if (axis == 0 && layer.Bias is not null) layer.Bias = Slice(layer.Bias, 0, index);
    }

    /// <summary>Keeps the channels of a LayerNorm listed in <paramref name="index"/>.</summary>
    /// <param name="norm">The norm, changed in place.</param>
    /// <param name="index">int64 indices to keep.</param>
    public static void PruneLayerNorm(PrunableLayerNorm norm, Tensor index)
    {
        ArgumentNullException.ThrowIfNull(norm);
        norm.Weight = Slice(norm.Weight, 0, index);
        norm.Bias = Slice(norm.Bias, 0, index);
    }

    /// <summary>Keeps the channels (= groups) of a per-channel GroupNorm listed in <paramref name="index"/>.</summary>
    /// <param name="norm">The norm, changed in place.</param>
    /// <param name="index">int64 indices to keep.</param>
    public static void PruneGroupNorm(PerChannelGroupNorm norm, Tensor index)
    {
        ArgumentNullException.ThrowIfNull(norm);
        norm.Weight = Slice(norm.Weight, 0, index);
        norm.Bias = Slice(norm.Bias, 0, index);
    }

    /// <summary>Prunes whichever norm module <paramref name="norm"/> is.</summary>
    internal static void PruneNorm(nn.Module<Tensor, Tensor> norm, Tensor index)
    {
        switch (norm)
        {
            case PrunableLayerNorm ln: PruneLayerNorm(ln, index); break;
            case PerChannelGroupNorm gn: PruneGroupNorm(gn, index); break;
            default: throw new ArgumentException($"Cannot prune a {norm.GetType().Name}", nameof(norm));
        }
    }

    /// <summary>Disposes a child module, clears its field and unregisters it, so it leaves the state_dict.</summary>
    internal static void RemoveModule<T>(nn.Module owner, ref T? field, string name) where T : nn.Module
    {
        field?.Dispose();
        field = null;
        owner.register_module(name, null!);
    }

    private static Parameter Slice(Tensor t, long axis, Tensor index)
    {
        using var _ = no_grad();
        using var idx = index.to(ScalarType.Int64, t.device);
        bool grad = t.requires_grad;
        // The new parameter belongs to the module, not to any dispose scope the caller has open.
        var p = new Parameter(t.index_select(axis, idx).clone().detach(), requires_grad: grad);
        p.DetachFromDisposeScope();
        return p;
    }
}
