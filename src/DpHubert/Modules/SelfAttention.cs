using System;
using System.Collections.Generic;
using System.Linq;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DpHubert.Modules;

/// <summary>
/// Multi-head self-attention with an explicit head width and optional HardConcrete masks over heads and over the
/// whole block. Keys: <c>k_proj</c>, <c>v_proj</c>, <c>q_proj</c>, <c>out_proj</c> (weight, bias),
/// <c>hard_concrete_for_heads.log_alpha</c>, <c>hard_concrete_for_layer.log_alpha</c>.
/// </summary>
/// <remarks>
/// Mirrors DPHuBERT <c>components.SelfAttention</c>: q is scaled by <c>head_dim^-0.5</c> before <c>q k^T</c>, the
/// additive mask is added, the row max subtracted (overflow guard), then softmax and dropout. Head h owns rows
/// <c>h*head_dim .. h*head_dim+head_dim-1</c> of the projections. The position-bias argument is ignored here and
/// returned as null, so both attention kinds share one signature.
/// </remarks>
public class SelfAttention : nn.Module<Tensor, Tensor?, Tensor?, (Tensor Output, Tensor? PositionBias)>
{
    private readonly Dropout dropout;
    private readonly Linear k_proj;
    private readonly Linear v_proj;
    private readonly Linear q_proj;
    private readonly Linear out_proj;
    private HardConcrete? hard_concrete_for_heads;
    private HardConcrete? hard_concrete_for_layer;

    /// <summary>Creates the block.</summary>
    /// <param name="embedDim">E.</param>
    /// <param name="numHeads">Kept heads H (projections are E to H * headDim).</param>
    /// <param name="headDim">Width of one head.</param>
    /// <param name="dropout">Attention-probability dropout (training only).</param>
    /// <param name="pruneHeads">Add a HardConcrete over heads.</param>
    /// <param name="pruneLayer">Add a HardConcrete over the whole block.</param>
    /// <param name="bias">Whether the projections have biases.</param>
    public SelfAttention(int embedDim, int numHeads, int headDim, double dropout = 0.0, bool pruneHeads = false,
        bool pruneLayer = false, bool bias = true) : this(nameof(SelfAttention), embedDim, numHeads, headDim, dropout,
        pruneHeads, pruneLayer, bias)
    {
        RegisterComponents();
    }

    /// <summary>For subclasses, which call <c>RegisterComponents()</c> themselves.</summary>
    /// <param name="name">Module name.</param>
    /// <param name="embedDim">E.</param>
    /// <param name="numHeads">H.</param>
    /// <param name="headDim">Head width.</param>
    /// <param name="dropout">Dropout.</param>
    /// <param name="pruneHeads">Head mask.</param>
    /// <param name="pruneLayer">Layer mask.</param>
    /// <param name="bias">Projection biases.</param>
    protected SelfAttention(string name, int embedDim, int numHeads, int headDim, double dropout, bool pruneHeads,
        bool pruneLayer, bool bias) : base(name)
    {
        if (numHeads <= 0) throw new ArgumentOutOfRangeException(nameof(numHeads), numHeads, "An attention block needs at least one head.");
        EmbedDim = embedDim;
        NumHeads = numHeads;
        HeadDim = headDim;
        Scaling = Math.Pow(headDim, -0.5);
        this.dropout = nn.Dropout(dropout);
        k_proj = DeferredInit.Linear(embedDim, numHeads * headDim, hasBias: bias);
        v_proj = DeferredInit.Linear(embedDim, numHeads * headDim, hasBias: bias);
        q_proj = DeferredInit.Linear(embedDim, numHeads * headDim, hasBias: bias);
        out_proj = DeferredInit.Linear(numHeads * headDim, embedDim, hasBias: bias);
        hard_concrete_for_heads = pruneHeads ? new HardConcrete(numHeads, initMean: 0.01) : null;
        hard_concrete_for_layer = pruneLayer ? new HardConcrete(1, initMean: 0.01) : null;
    }

    /// <summary>E.</summary>
    public int EmbedDim { get; }

    /// <summary>Heads H at construction (not updated by <see cref="Prune"/>, as in the original).</summary>
    public int NumHeads { get; }

    /// <summary>Width of one head.</summary>
    public int HeadDim { get; }

    /// <summary><c>head_dim^-0.5</c>.</summary>
    public double Scaling { get; }

    /// <summary>Head mask, or null.</summary>
    public HardConcrete? HardConcreteForHeads => hard_concrete_for_heads;

    /// <summary>Block mask, or null.</summary>
    public HardConcrete? HardConcreteForLayer => hard_concrete_for_layer;

    /// <summary>Runs attention.</summary>
    /// <param name="x">[batch, frames, E].</param>
    /// <param name="attentionMask">Additive mask broadcastable to [batch, heads, frames, frames], or null.</param>
    /// <param name="positionBias">Ignored (WavLM only).</param>
    /// <returns>[batch, frames, E] and null.</returns>
    public override (Tensor Output, Tensor? PositionBias) forward(Tensor x, Tensor? attentionMask, Tensor? positionBias)
        => (Attend(x, attentionMask), null);

    /// <summary>The attention computation shared with <see cref="WavLMSelfAttention"/>.</summary>
    /// <param name="x">[batch, frames, E].</param>
    /// <param name="attentionMask">Additive mask or null.</param>
    protected Tensor Attend(Tensor x, Tensor? attentionMask)
    {
        if (x.ndim != 3 || x.size(2) != EmbedDim)
            throw new ArgumentException($"The expected input shape is (batch, sequence, embed_dim=={EmbedDim}). Found {Shapes.Format(x)}.", nameof(x));
        // Every intermediate is freed as soon as used (no dispose scope: its set of owned tensors is garbage per pass).
        var heads = HeadShape();
        using var q = Heads(q_proj, x, heads);   // B, H, L, Hd
        using var k = Heads(k_proj, x, heads);   // B, H, L, Hd
        using var v = Heads(v_proj, x, heads);   // B, H, L, Hd
        Tensor output;
        if (!training && !is_grad_enabled())
        {
            // Fused attention (same numbers within rounding): never holds the [B, H, L, L] weights, so a layer's memory
            // grows linearly with the length. Its default scale is head_dim^-0.5, as here.
            output = nn.functional.scaled_dot_product_attention(q, k, v, attentionMask);   // B, H, L, Hd
        }
        else
        {
            // Autograd and dropout: the original's explicit computation.
            Tensor weights;
            using (var scaled = q.Times(Scaling))
            using (var keys = k.transpose(-2, -1))
                weights = CatchingOps.MatMul(scaled, keys); // B, H, L, L (matmul would abort on a libtorch error)
            if (attentionMask is not null) weights = Scopes.Replace(weights, weights.Plus(attentionMask), null);
            // The original's overflow guard: subtract the row max before the softmax (changes nothing mathematically).
            var (max, at) = weights.max(-1, keepdim: true);
            using (max)
            using (at)
                weights = Scopes.Replace(weights, weights.Minus(max), null);
            weights = Scopes.Replace(weights, weights.softmax(-1), null);
            weights = Scopes.Replace(weights, dropout.call(weights), null);
            using (weights) output = CatchingOps.MatMul(weights, v);   // B, H, L, Hd
        }
        output = Scopes.Replace(output, HardConcrete.Apply(hard_concrete_for_heads, output, HeadMaskShape), null);
        Tensor flat;
        using (var perHead = output)
        using (var rows = perHead.transpose(2, 1))
            flat = rows.flatten(2);                                   // B, L, H * Hd
        Tensor projected;
        using (flat) projected = LinearKernels.Apply(out_proj, flat);
        return Scopes.Replace(projected, HardConcrete.Apply(hard_concrete_for_layer, projected), null);
    }

    // One projection split into heads: [B, L, E] to [B, H, L, Hd] (a view of the projection's output).
    private static Tensor Heads(Linear projection, Tensor x, long[] heads)
    {
        using var y = LinearKernels.Apply(projection, x);
        if (Scopes.NoGrad) return HeadView(y, heads[0], heads[1]);
        using var split = y.unflatten(2, heads);
        return split.transpose(2, 1);
    }

    [ThreadStatic] private static long[]? headSize, headStride;

    // unflatten(2, [H, Hd]).transpose(2, 1) of [B, L, H * Hd] as one view with the same sizes and strides
    // (one libtorch call and wrapper instead of two per projection; without autograd only). The arrays are reused per
    // thread: as_strided copies them before it returns.
    private static Tensor HeadView(Tensor y, long h, long hd)
    {
        var size = headSize ??= new long[4];
        var stride = headStride ??= new long[4];
        long inner = y.stride(2);
        (size[0], size[1], size[2], size[3]) = (y.size(0), h, y.size(1), hd);
        (stride[0], stride[1], stride[2], stride[3]) = (y.stride(0), hd * inner, y.stride(1), inner);
        return y.as_strided(size, stride, y.storage_offset());
    }

    /// <summary>Pruning-aware size: <c>(E+1) h hd 3 + (h hd + 1) E</c>, times the block mask's L0 norm if any.</summary>
    public Tensor GetNumParams()
    {
        var heads = hard_concrete_for_heads is not null
            ? hard_concrete_for_heads.L0Norm().to(ScalarType.Float64) : tensor((double)CurrentHeads, float64);
        var n = heads.Times((long)EmbedDim + 1).Times((long)HeadDim).Times(3L).Plus(heads.Times((long)HeadDim).Plus(1L).Times((long)EmbedDim));
        return HardConcrete.ScaleByL0(hard_concrete_for_layer, n);
    }

    // One gate per head, broadcast over [B, H, L, Hd].
    private static readonly long[] HeadMaskShape = { -1, 1, 1 };

    /// <summary>Heads the projections currently hold.</summary>
    public int CurrentHeads => (int)(q_proj.weight!.size(0) / HeadDim);

    private long[]? headShape;

    // [H, Hd] for unflattening the projections, kept between passes (a new array per pass is managed garbage per block
    // when streaming); renewed when pruning changed the head count.
    private long[] HeadShape()
    {
        long h = q_proj.weight!.size(0) / HeadDim;
        if (headShape is not { } s || s[0] != h) headShape = s = new[] { h, HeadDim };
        return s;
    }

    /// <summary>
    /// Applies the masks in place (eval mode): folds the block mask into <c>out_proj</c>, keeps the non-zero heads of
    /// q/k/v and the matching <c>out_proj</c> columns (scaled by the soft head mask), and removes the masks.
    /// </summary>
    /// <returns>Whether the block survives, and the ids of the heads that stay (<see cref="HeadIds"/> of the kept
    /// heads; all of them when only the block mask was applied, none when every head was pruned).</returns>
    public (bool UseAttention, IReadOnlyList<int> KeptHeads) Prune()
    {
        using var _ = no_grad();
        bool useAttention = true;
        var before = HeadIds;
        var kept = new List<int>();
        for (int i = 0; i < CurrentHeads; i++) kept.Add(i);
        if (hard_concrete_for_layer is not null)
        {
            using var m = hard_concrete_for_layer.PruningMask();
            out_proj.weight!.mul_(m);
            out_proj.bias?.mul_(m);
            if (m.item<float>() == 0f) useAttention = false;
            PruningUtils.RemoveModule(this, ref hard_concrete_for_layer, nameof(hard_concrete_for_layer));
        }
        if (hard_concrete_for_heads is not null)
        {
            using var hm = hard_concrete_for_heads.PruningMask();
            using var nz = hm.nonzero().squeeze(-1);
            kept = new List<int>();
            foreach (long i in nz.data<long>()) kept.Add((int)i);
            if (kept.Count == 0) useAttention = false;
            else
            {
                using var fullMask = hm.repeat_interleave(HeadDim);
                using var fullIndex = fullMask.nonzero().squeeze(-1);
                PruningUtils.PruneLinearLayer(k_proj, fullIndex, PruneDimension.Output);
                PruningUtils.PruneLinearLayer(v_proj, fullIndex, PruneDimension.Output);
                PruningUtils.PruneLinearLayer(q_proj, fullIndex, PruneDimension.Output);
                out_proj.weight!.mul_(fullMask);
                PruningUtils.PruneLinearLayer(out_proj, fullIndex, PruneDimension.Input);
                OnHeadsKept(kept);
            }
            PruningUtils.RemoveModule(this, ref hard_concrete_for_heads, nameof(hard_concrete_for_heads));
        }
        return (useAttention, kept.Select(i => before[i]).ToArray());
    }

    /// <summary>Identifiers of the heads the projections hold, in order: 0..H-1 here, the remaining head indices for WavLM.</summary>
    public virtual IReadOnlyList<int> HeadIds => Enumerable.Range(0, CurrentHeads).ToArray();

    /// <summary>Called after head pruning with the kept positions (into <see cref="HeadIds"/>).</summary>
    /// <param name="kept">Kept head positions.</param>
    protected virtual void OnHeadsKept(IReadOnlyList<int> kept)
    {
    }
}
