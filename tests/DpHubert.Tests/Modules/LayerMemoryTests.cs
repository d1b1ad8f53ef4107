using System;
using System.Collections.Generic;
using System.Linq;
using DpHubert.Config;
using DpHubert.Modules;
using FluentAssertions;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DpHubert.Tests.Modules;

/// <summary>A forward pass holds one layer's intermediates at a time: the number of live tensors when layer k starts
/// must not grow with k (a dispose scope around the whole pass would keep every layer's, +30 per HuBERT layer).</summary>
public class LayerMemoryTests(ITestOutputHelper output)
{
    // Small models with uniform layers (so every layer makes the same intermediates), 6 layers to see growth.
    private static Wav2Vec2Config Small(ExtractorMode mode, bool layerNormFirst) => Wav2Vec2Config.HubertBase with
    {
        ExtractorMode = mode,
        NormalizeWaveform = mode == ExtractorMode.LayerNorm,
        ExtractorConvLayerConfig = Wav2Vec2Config.DefaultConvLayers.Select(c => c with { OutChannels = 32 }).ToArray(),
        EncoderEmbedDim = 64,
        EncoderLayers = EncoderLayerConfig.Standard(numHeads: 4, ffIntermFeatures: 128).Repeat(6),
        EncoderHeadDim = 16,
        EncoderPosConvKernel = 16,
        EncoderLayerNormFirst = layerNormFirst,
        EncoderLayerDrop = 0,
    };

    public static TheoryData<string> Models => new() { "hubert", "wavlm", "masked" };

    private static Wav2Vec2Model Build(string name)
    {
        manual_seed(1);
        var config = name switch
        {
            "hubert" => Small(ExtractorMode.GroupNorm, false),
            "wavlm" => Small(ExtractorMode.LayerNorm, true) with
            {
                Kind = ModelKind.WavLM, EncoderHeadDim = null,
                EncoderLayers = Enumerable.Range(0, 6).Select(i => EncoderLayerConfig.WavLM(4, i % 2 == 0 ? new[] { 0, 1, 2, 3 } : new[] { 0, 2 }, 128)).ToArray(),
                EncoderNumBuckets = 32, EncoderMaxDistance = 64,
            },
            // HardConcrete masks on heads, units, blocks and conv channels (a model being pruned, in eval mode).
            "masked" => Small(ExtractorMode.GroupNorm, false) with
            {
                ExtractorPruneConvChannels = true, EncoderPruneAttentionHeads = true, EncoderPruneAttentionLayer = true,
                EncoderPruneFeedForwardIntermediate = true, EncoderPruneFeedForwardLayer = true,
            },
            _ => throw new ArgumentException(name),
        };
        return ModelFactory.Build(config);
    }

    private static long Live() => DisposeScopeManager.Statistics.ThreadTotalLiveCount;

    // The weights kept between passes (weight norm, tap-order convolution rows) are made by the first pass without
    // autograd and live as long as the model: one pass first, so the counts below see only what a pass itself holds.
    private static void WarmUp(Wav2Vec2Model model, Tensor wave)
    {
        using var mode = inference_mode();
        var (y, len) = model.forward(wave, null);
        y.Dispose();
        len?.Dispose();
    }

    /// <summary>Live tensors when each encoder layer and each conv block starts, during <paramref name="run"/>.</summary>
    private static (List<long> Layers, List<long> Convs) Trace(Wav2Vec2Model model, Action run)
    {
        var layers = new List<long>();
        var convs = new List<long>();
        var hooks = new List<Action>();
        foreach (var l in model.Encoder.Transformer.Layers)
            hooks.Add(l.register_forward_pre_hook((_, _, _, _) => { layers.Add(Live()); return null; }).remove);
        foreach (var c in model.FeatureExtractor.ConvLayers)
            hooks.Add(c.register_forward_pre_hook((_, _, _) => { convs.Add(Live()); return null; }).remove);
        try
        {
            run();
        }
        finally
        {
            foreach (var remove in hooks) remove();
        }
        return (layers, convs);
    }

    private static void ShouldBeFlat(IReadOnlyList<long> counts, string what, int fromIndex = 0, long perStep = 0)
    {
        for (int k = fromIndex + 1; k < counts.Count; k++)
            (counts[k] - counts[k - 1]).Should().Be(perStep,
                $"{what}: live tensors at step {k} ({counts[k]}) against step {k - 1} ({counts[k - 1]}) must not grow with depth " +
                $"(all: {string.Join(", ", counts)})");
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void Forward_holds_one_layer_of_intermediates(string name)
    {
        using var model = Build(name);
        using var wave = randn(2, 8000) * 0.1;
        using var lengths = tensor(new long[] { 8000, 5000 });
        WarmUp(model, wave);
        foreach (var (label, lens, semantics) in new[] { ("no lengths", (Tensor?)null, BatchSemantics.Original),
                     ("lengths", lengths, BatchSemantics.Original), ("lengths per item", lengths, BatchSemantics.PerItem) })
        {
            using var mode = inference_mode();
            long before = Live();
            var (layers, convs) = Trace(model, () =>
            {
                var (y, len) = model.forward(wave, lens, semantics);
                y.Dispose();
                len?.Dispose();
            });
            output.WriteLine($"{name} {label}: layers {string.Join(", ", layers.Select(c => c - before))}; conv blocks {string.Join(", ", convs.Select(c => c - before))}");
            layers.Should().HaveCount(6);
            // WavLM's layer 0 creates the relative position bias that every later layer reads: flat from layer 1 on.
            ShouldBeFlat(layers, $"{name} {label} encoder layers", fromIndex: name == "wavlm" ? 1 : 0);
            // Per-item group norm runs the conv blocks once per row; each pass over the blocks must be flat.
            // Block 0 gets the caller's lengths, kept beside the new ones from block 1 on: at most +1, then flat.
            foreach (var pass in convs.Chunk(7))
            {
                (pass[1] - pass[0]).Should().BeInRange(0, 1, $"{name} {label} conv blocks: {string.Join(", ", pass)}");
                ShouldBeFlat(pass, $"{name} {label} conv blocks", fromIndex: 1);
            }
            Live().Should().Be(before, "nothing but the results outlives the pass");
        }
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void ExtractFeatures_keeps_only_the_layer_outputs(string name)
    {
        using var model = Build(name);
        using var wave = randn(1, 8000) * 0.1;
        WarmUp(model, wave);
        using var mode = inference_mode();
        long before = Live();
        LayerFeatures? features = null;
        var (layers, _) = Trace(model, () => features = model.ExtractFeatures(wave));
        output.WriteLine($"{name}: layers {string.Join(", ", layers.Select(c => c - before))}");
        // Each layer adds exactly its output (which the caller receives), nothing else.
        ShouldBeFlat(layers, $"{name} extract_features", fromIndex: name == "wavlm" ? 1 : 0, perStep: 1);
        foreach (var t in features!.Layers) t.Dispose();
        Live().Should().Be(before);
    }

    [Theory]
    [InlineData("hubert")]
    [InlineData("wavlm")]
    public void Training_mode_with_autograd_still_backpropagates_through_every_layer(string name)
    {
        // Freeing the handles of intermediates leaves what autograd saved alone: gradients reach every layer.
        using var model = Build(name);
        model.train();
        using var wave = randn(2, 8000) * 0.1;
        using var scope = NewDisposeScope();
        var (y, _) = model.forward(wave, tensor(new long[] { 8000, 6000 }));
        y.pow(2).mean().backward();
        var checkedKeys = model.named_parameters().Where(p => p.name.EndsWith("q_proj.weight") || p.name.EndsWith("intermediate_dense.weight")
            || p.name.EndsWith("conv.weight") || p.name.Contains("gru_rel_pos")).ToList();
        checkedKeys.Count.Should().BeGreaterThan(12);
        foreach (var (key, p) in checkedKeys)
        {
            p.grad.Should().NotBeNull(key);
            p.grad!.abs().sum().item<float>().Should().BeGreaterThan(0f, key);
        }
    }
}
