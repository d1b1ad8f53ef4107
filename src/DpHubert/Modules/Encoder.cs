using System.Collections.Generic;
using static TorchSharp.torch;

namespace DpHubert.Modules;

/// <summary>
/// Feature projection, padding mask and transformer. Keys: <c>feature_projection.*</c>, <c>transformer.*</c>.
/// </summary>
/// <remarks>
/// Mirrors DPHuBERT <c>components.Encoder</c>. With lengths, padded frames are zeroed after the projection and masked
/// as keys with an additive -10000 (not -inf, as in the original); padded query rows are still computed.
/// </remarks>
public sealed class Encoder : nn.Module<Tensor, Tensor?, Tensor>
{
    private readonly FeatureProjection feature_projection;
    private readonly Transformer transformer;

    /// <summary>Creates the encoder from built parts.</summary>
    /// <param name="featureProjection">The projection.</param>
    /// <param name="transformer">The transformer.</param>
    public Encoder(FeatureProjection featureProjection, Transformer transformer) : base(nameof(Encoder))
    {
        feature_projection = featureProjection;
        this.transformer = transformer;
        RegisterComponents();
    }

    /// <summary>The projection.</summary>
    public FeatureProjection FeatureProjection => feature_projection;

    /// <summary>The transformer.</summary>
    public Transformer Transformer => transformer;

    // Intermediates are freed as soon as used (no dispose scope, whose set of owned tensors is garbage per pass).
    private (Tensor X, Tensor? Mask) Preprocess(Tensor features, Tensor? lengths)
    {
        var x = feature_projection.call(features);
        if (lengths is null) return (x, null);
        long b = x.size(0), t = x.size(1);
        using var positions = ScalarSafe.Arange(t, device: x.device);
        using var row = positions.unsqueeze(0);
        using var valid = lengths.to(x.device);
        using var column = valid.unsqueeze(1);
        using var pad = row >= column;                                                                  // B, T
        using (var padded = pad.unsqueeze(-1)) x = Scopes.Replace(x, x.MaskedFill(padded, 0.0), null);
        using var heads = pad.unsqueeze(1);
        using var keys = heads.unsqueeze(1);
        using var typed = keys.to(features.dtype);
        using var additive = typed.Times(-10000.0);
        return (x, additive.expand(b, 1, t, t));
    }

    /// <summary>[batch, frames, C] conv features to [batch, frames, E].</summary>
    /// <param name="features">Conv features.</param>
    /// <param name="lengths">Valid frame counts, or null.</param>
    public override Tensor forward(Tensor features, Tensor? lengths)
    {
        var (x, mask) = Preprocess(features, lengths);
        var y = transformer.call(x, mask, null);
        mask?.Dispose();
        return Scopes.Replace(x, y, features);
    }

    /// <summary>The projection output followed by each layer's output (L + 1 tensors, or numLayers + 1).</summary>
    /// <param name="features">Conv features.</param>
    /// <param name="lengths">Valid frame counts, or null.</param>
    /// <param name="numLayers">How many layers, or null for all.</param>
    public IReadOnlyList<Tensor> ExtractFeatures(Tensor features, Tensor? lengths, int? numLayers = null)
    {
        var (x, mask) = Preprocess(features, lengths);
        var list = new List<Tensor> { x };
        list.AddRange(transformer.GetIntermediateOutputs(x, mask, numLayers));
        return list;
    }

    /// <summary>Pruning-aware size of projection and transformer.</summary>
    /// <param name="inFeatures">Conv channels C (possibly an expectation).</param>
    public Tensor GetNumParams(Tensor inFeatures) => feature_projection.GetNumParams(inFeatures).Plus(transformer.GetNumParams());

    /// <summary>Prunes the projection's input channels to the kept conv channels, then the transformer.</summary>
    /// <param name="convOutIndex">Kept channels of the last conv layer.</param>
    public TransformerPruneResult Prune(Tensor convOutIndex)
    {
        feature_projection.Prune(convOutIndex);
        return transformer.Prune();
    }
}
