using System;
using System.Linq;
using DpHubert.Config;
using DpHubert.Modules;
using FluentAssertions;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace DpHubert.Tests.Modules;

/// <summary>The weights kept between passes (the positional convolution's weight norm, each convolution's tap-order rows)
/// are kept, and every way the parameters change makes the next pass use the new ones: in-place writes,
/// <c>load_state_dict</c>, <c>to(dtype)</c>, pruning, autograd, parameters made inside <c>inference_mode</c>.</summary>
public class DerivedWeightTests
{
    // Small models (GroupNorm extractor: fused and folded waveform layer; LayerNorm extractor: per-block GEMMs).
    private static Wav2Vec2Config Small(ExtractorMode mode, bool masks = false) => Wav2Vec2Config.HubertBase with
    {
        ExtractorMode = mode,
        ExtractorConvLayerConfig = Wav2Vec2Config.DefaultConvLayers.Select(c => c with { OutChannels = 24 }).ToArray(),
        EncoderEmbedDim = 32,
        EncoderLayers = EncoderLayerConfig.Standard(numHeads: 2, ffIntermFeatures: 48).Repeat(2),
        EncoderHeadDim = 16,
        EncoderPosConvKernel = 16,
        EncoderPosConvGroups = 4,
        EncoderLayerDrop = 0,
        ExtractorPruneConvChannels = masks,
        EncoderPruneAttentionHeads = masks,
        EncoderPruneFeedForwardIntermediate = masks,
    };

    public static TheoryData<ExtractorMode> Modes => new() { ExtractorMode.GroupNorm, ExtractorMode.LayerNorm };

    private static Wav2Vec2Model Build(Wav2Vec2Config config, int seed)
    {
        manual_seed(seed);
        return ModelFactory.Build(config);
    }

    private static Tensor Run(Wav2Vec2Model model, Tensor wave)
    {
        using var mode = inference_mode();
        return model.forward(wave, null).Output;
    }

    private static bool Same(Tensor a, Tensor b)
    {
        if (!a.shape.SequenceEqual(b.shape) || a.dtype != b.dtype) return false;
        using var eq = a.eq(b);
        using var all = eq.all();
        return all.item<bool>();
    }

    private static void ShouldBeEqual(Tensor actual, Tensor expected, string because) =>
        Same(actual, expected).Should().BeTrue($"{because} (max difference {(actual.to(float64) - expected.to(float64)).abs().max().item<double>()})");

    private static WeightNormConv1d PositionalConv(Wav2Vec2Model model) =>
        (WeightNormConv1d)model.Encoder.Transformer.PosConvEmbed.named_children().Single().module;

    private static long Wrappers() => DisposeScopeManager.Statistics.CreatedOutsideScopeCount + DisposeScopeManager.Statistics.CreatedInScopeCount;

    [Fact]
    public void The_weight_norm_is_computed_once_and_again_after_an_in_place_write()
    {
        manual_seed(3);
        using var conv = new WeightNormConv1d(16, 8, 4);
        using var x = randn(1, 16, 30);
        long first, second;
        Tensor y1;
        using (inference_mode())
        {
            long w0 = Wrappers();
            y1 = conv.call(x);
            first = Wrappers() - w0;
            w0 = Wrappers();
            using var again = conv.call(x);
            second = Wrappers() - w0;
            ShouldBeEqual(again, y1, "the kept weight is the computed one");
        }
        second.Should().BeLessThan(first, "the second pass reuses the weight instead of recomputing the norm");
        var v = conv.named_parameters().Single(p => p.name == "weight_v").parameter;
        var g = conv.named_parameters().Single(p => p.name == "weight_g").parameter;
        foreach (var (p, label) in new[] { (v, "weight_v"), (g, "weight_g") })
        {
            using (no_grad()) p.add_(randn_like(p));
            using var mode = inference_mode();
            using var y2 = conv.call(x);
            using var w = conv.ComputeWeight();
            using var expected = nn.functional.conv1d(x, w, conv.named_parameters().Single(q => q.name == "bias").parameter, padding: conv.Padding, groups: conv.Groups);
            ShouldBeEqual(y2, expected, $"after an in-place write to {label} the new weight is used");
            Same(y2, y1).Should().BeFalse();
        }
        // A write inside inference_mode bumps the version too.
        using (inference_mode())
        {
            v.mul_(randn_like(v));
            using var y3 = conv.call(x);
            using var w = conv.ComputeWeight();
            using var expected = nn.functional.conv1d(x, w, conv.named_parameters().Single(q => q.name == "bias").parameter, padding: conv.Padding, groups: conv.Groups);
            ShouldBeEqual(y3, expected, "a write made inside inference_mode is seen");
        }
        y1.Dispose();
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void After_load_state_dict_the_model_computes_with_the_loaded_weights(ExtractorMode mode)
    {
        var config = Small(mode);
        using var a = Build(config, 1);
        using var b = Build(config, 2);
        using var wave = randn(1, 6000) * 0.1;
        using var before = Run(a, wave);
        using var again = Run(a, wave);
        ShouldBeEqual(again, before, "kept weights give the same output");
        a.load_state_dict(b.state_dict());
        using var loaded = Run(a, wave);
        using var expected = Run(b, wave);
        ShouldBeEqual(loaded, expected, "the loaded weights, not the kept ones, are used");
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void After_to_bfloat16_the_model_computes_with_the_converted_weights(ExtractorMode mode)
    {
        var config = Small(mode);
        using var a = Build(config, 4);
        using var b = Build(config, 5);
        b.load_state_dict(a.state_dict());
        using var wave = randn(1, 6000) * 0.1;
        using var fp32 = Run(a, wave); // keeps float32 weights
        a.to(ScalarType.BFloat16);
        b.to(ScalarType.BFloat16);     // never ran in float32
        using var converted = Run(a, wave);
        using var expected = Run(b, wave);
        converted.dtype.Should().Be(ScalarType.BFloat16);
        ShouldBeEqual(converted, expected, "a model converted after a pass computes as one converted before any");
    }

    [Fact]
    public void After_pruning_the_model_computes_with_the_pruned_weights()
    {
        var config = Small(ExtractorMode.GroupNorm, masks: true);
        using var model = Build(config, 6);
        using var wave = randn(1, 6000) * 0.1;
        using (var _ = Run(model, wave)) { } // keeps the unpruned weights
        var pruned = model.Prune();
        using var fresh = ModelFactory.Build(pruned);
        fresh.load_state_dict(model.state_dict());
        using var y = Run(model, wave);
        using var expected = Run(fresh, wave);
        ShouldBeEqual(y, expected, "the pruned model computes as a fresh model with its weights");
    }

    [Fact]
    public void A_pass_with_autograd_reaches_the_parameters_after_kept_passes()
    {
        using var model = Build(Small(ExtractorMode.GroupNorm), 7);
        using var wave = randn(1, 6000) * 0.1;
        using (var _ = Run(model, wave)) { }
        using var y = model.forward(wave, null).Output;
        using var loss = y.square().sum();
        loss.backward();
        var conv = PositionalConv(model);
        foreach (var name in new[] { "weight_v", "weight_g" })
        {
            var grad = conv.named_parameters().Single(p => p.name == name).parameter.grad;
            grad.Should().NotBeNull($"{name} gets a gradient: autograd never uses the kept weight");
            grad!.abs().sum().item<float>().Should().BeGreaterThan(0f);
        }
        var convGrad = model.FeatureExtractor.ConvLayers[2].Conv.Weight.grad;
        convGrad.Should().NotBeNull("the convolutions' weights get gradients too");
        convGrad!.abs().sum().item<float>().Should().BeGreaterThan(0f);
    }

    [Fact]
    public void Parameters_made_inside_inference_mode_are_never_kept()
    {
        // Inference tensors have no version counter, so a write to them could not be seen: they are computed every pass.
        using var mode = inference_mode();
        manual_seed(8);
        using var conv = new WeightNormConv1d(16, 8, 4);
        using var x = randn(1, 16, 30);
        using var y1 = conv.call(x);
        var v = conv.named_parameters().Single(p => p.name == "weight_v").parameter;
        v.add_(randn_like(v));
        using var y2 = conv.call(x);
        using var w = conv.ComputeWeight();
        using var expected = nn.functional.conv1d(x, w, conv.named_parameters().Single(q => q.name == "bias").parameter, padding: conv.Padding, groups: conv.Groups);
        ShouldBeEqual(y2, expected, "the written weight is used");
    }
}
