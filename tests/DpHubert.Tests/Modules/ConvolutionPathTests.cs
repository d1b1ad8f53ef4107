using System;
using System.Collections.Generic;
using System.Linq;
using DpHubert.Checkpoints;
using DpHubert.Config;
using DpHubert.Modules;
using DpHubert.Tests.Support;
using FluentAssertions;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DpHubert.Tests.Modules;

/// <summary>
/// The feature extractor's GEMM convolution path against libtorch's float64 <c>conv1d</c> (no oneDNN kernel runs in
/// float64, so the reference is right on every CPU), over many channel counts (1, odd, prime, 8..520) and every
/// kernel / stride of the real configs; the LibTorch path is libtorch's <c>conv1d</c> itself.
/// </summary>
public class ConvolutionPathTests(ITestOutputHelper log)
{
    public enum Norm { None, Group, Layer }

    /// <summary>(C_in, C_out, kernel, stride, norm): layer 0 (one input channel, k10 s5) with its group norm, the
    /// k3 s2 and k2 s2 layers at channel counts a pruned model has, and a few other shapes.</summary>
    public static TheoryData<int, int, int, int, Norm> Shapes()
    {
        var data = new TheoryData<int, int, int, int, Norm>();
        foreach (int c in new[] { 1, 8, 13, 113, 121, 512, 520 })
        {
            data.Add(1, c, 10, 5, Norm.Group);
            data.Add(1, c, 10, 5, Norm.Layer);
        }
        data.Add(1, 31, 10, 5, Norm.None);
        foreach (int c in new[] { 1, 2, 7, 8, 16, 17, 31, 64, 97, 112, 113, 117, 119, 120, 121, 123, 127, 251, 384, 509, 512, 520 })
        {
            data.Add(c, c, 3, 2, c % 2 == 0 ? Norm.None : Norm.Layer);
            data.Add(c, c, 2, 2, c % 3 == 0 ? Norm.Layer : Norm.None);
        }
        data.Add(512, 113, 3, 2, Norm.None);
        data.Add(113, 512, 3, 2, Norm.Layer);
        data.Add(121, 123, 2, 2, Norm.None);
        data.Add(5, 7, 5, 3, Norm.Layer);
        data.Add(3, 4, 4, 4, Norm.Group);
        data.Add(6, 5, 1, 1, Norm.None);
        data.Add(9, 11, 7, 2, Norm.None);
        return data;
    }

    private static ConvLayerBlock Block(int cin, int cout, int k, int s, Norm norm, bool mask, long seed)
    {
        nn.Module<Tensor, Tensor>? layerNorm = norm switch
        {
            Norm.Group => new PerChannelGroupNorm(cout),
            Norm.Layer => new PrunableLayerNorm(cout, channelsFirst: true),
            _ => null,
        };
        var block = new ConvLayerBlock(cin, cout, k, s, bias: true, layerNorm, pruneConvChannels: mask);
        var g = new Generator((ulong)seed);
        using (no_grad())
            foreach (var (name, p) in block.named_parameters())
            {
                using var r = rand(p.shape, generator: g);
                // Non-trivial norm affine and masks; conv weights as initialised.
                if (name.StartsWith("layer_norm.weight")) p.copy_(r.Plus(0.5));
                else if (name.StartsWith("layer_norm.bias") || name.StartsWith("hard_concrete")) p.copy_(r.Minus(0.5).Times(2.0));
            }
        block.eval();
        return block;
    }

    // The block computed from its parameters in float64 with libtorch's functional ops (channels-first, as the original).
    private static Tensor Reference(ConvLayerBlock block, Tensor x)
    {
        using var scope = NewDisposeScope();
        var x64 = x.to(float64);
        var y = nn.functional.conv1d(x64, block.Conv.Weight.to(float64), block.Conv.Bias?.to(float64), stride: block.Stride);
        switch (block.Norm)
        {
            case PerChannelGroupNorm gn:
                y = nn.functional.group_norm(y, y.shape[1], gn.Weight.to(float64), gn.Bias.to(float64), gn.Eps);
                break;
            case PrunableLayerNorm ln:
                y = nn.functional.layer_norm(y.transpose(1, 2), new[] { y.shape[1] }, ln.Weight.to(float64), ln.Bias.to(float64), ln.Eps).transpose(1, 2);
                break;
        }
        y = nn.functional.gelu(y);
        if (block.HardConcrete is { } hc) y = y * hc.forward().to(float64).unsqueeze(-1);
        return y.MoveToOuterDisposeScope();
    }

    private static Tensor Input(int batch, int cin, long frames, long seed)
    {
        var g = new Generator((ulong)seed);
        return randn(new long[] { batch, cin, frames }, generator: g);
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Gemm_path_matches_the_float64_reference(int cin, int cout, int k, int s, Norm norm)
    {
        using var block = Block(cin, cout, k, s, norm, mask: cout % 2 == 1, seed: cin * 1000 + cout);
        long frames = k + 53L * s + s - 1; // 54 output frames, a remainder the stride drops
        using var x = Input(2, cin, frames, seed: cout);
        using var _ = inference_mode();
        using var expected = Reference(block, x);
        block.Path = ConvolutionPath.Gemm;
        var (y, _) = block.forward(x, null);
        using (y)
        {
            y.shape.Should().Equal(expected.shape);
            double diff = TensorAssert.Close(y, expected, rtol: 1e-5, atol: 1e-5, $"float32 {cin}->{cout} k{k} s{s} {norm}");
            log.WriteLine($"float32 {cin}->{cout} k{k} s{s} {norm}: max abs diff {diff:E2}");
        }
        // In float64 (mask included) the GEMM formulation is the same sum as the reference: only float64 rounding remains.
        block.to(float64);
        using var x64 = x.to(float64);
        using var expected64 = Reference(block, x64);
        var (y64, _) = block.forward(x64, null);
        using (y64) TensorAssert.Close(y64, expected64, 1e-11, $"float64 {cin}->{cout} k{k} s{s} {norm}");
    }

    [Theory]
    [InlineData(1, 113, 10, 5, Norm.Group)]
    [InlineData(113, 121, 3, 2, Norm.Layer)]
    [InlineData(123, 117, 2, 2, Norm.None)]
    public void LibTorch_path_is_libtorch_conv1d(int cin, int cout, int k, int s, Norm norm)
    {
        using var block = Block(cin, cout, k, s, norm, mask: true, seed: 7);
        using var x = Input(1, cin, 400, seed: 3);
        using var _ = inference_mode();
        using var scope = NewDisposeScope();
        var y = nn.functional.conv1d(x, block.Conv.Weight, block.Conv.Bias, stride: s);
        if (block.Norm is { } n) y = n.call(y);
        y = nn.functional.gelu(y) * block.HardConcrete!.forward().unsqueeze(-1);
        block.Path = ConvolutionPath.LibTorch;
        var (actual, _) = block.forward(x, null);
        TensorAssert.Close(actual, y, 0.0, "the LibTorch path is conv1d, bit for bit");
    }

    [Fact]
    public void Lengths_follow_the_conv_arithmetic_on_both_paths()
    {
        using var block = Block(3, 5, 3, 2, Norm.None, mask: false, seed: 1);
        using var x = Input(3, 3, 20, seed: 2);
        using var lengths = tensor(new long[] { 20, 4, 2 });
        using var _ = inference_mode();
        foreach (var path in new[] { ConvolutionPath.Gemm, ConvolutionPath.LibTorch })
        {
            block.Path = path;
            var (y, len) = block.forward(x, lengths);
            using (y)
            using (len)
                len!.data<long>().ToArray().Should().Equal(new long[] { 9, 1, 0 }, $"{path}");
        }
    }

    [Fact]
    public void Gemm_path_names_a_too_short_input()
    {
        using var block = Block(4, 4, 3, 2, Norm.None, mask: false, seed: 1);
        using var x = Input(1, 4, 2, seed: 2);
        using var _ = inference_mode();
        var act = () => block.forward(x, null);
        act.Should().Throw<ArgumentException>().WithMessage("*2 frames*shorter than the kernel (3)*");
    }

    /// <summary>Extractor-shaped models: uneven pruned channel counts, both extractor modes, with masks.</summary>
    public static TheoryData<ExtractorMode, bool> Modes() => new()
    {
        { ExtractorMode.GroupNorm, false },
        { ExtractorMode.GroupNorm, true },
        { ExtractorMode.LayerNorm, false },
        { ExtractorMode.LayerNorm, true },
    };

    private static readonly int[] UnevenChannels = { 113, 121, 123, 117, 112, 119, 120 };

    private static Wav2Vec2Config Small(ExtractorMode mode, bool masks) => Wav2Vec2Config.HubertBase with
    {
        ExtractorMode = mode,
        ExtractorConvBias = mode == ExtractorMode.LayerNorm,
        ExtractorConvLayerConfig = Wav2Vec2Config.DefaultConvLayers.Select((c, i) => c with { OutChannels = UnevenChannels[i] }).ToArray(),
        ExtractorPruneConvChannels = masks,
        EncoderEmbedDim = 32,
        EncoderLayers = EncoderLayerConfig.Standard(numHeads: 4, ffIntermFeatures: 64).Repeat(1),
        EncoderHeadDim = 8,
        EncoderPosConvKernel = 16,
        EncoderPosConvGroups = 4,
    };

    private static (Wav2Vec2Model Model, Wav2Vec2Model Reference) Pair(Wav2Vec2Config config, long seed)
    {
        var model = ModelFactory.Build(config);
        var g = new Generator((ulong)seed);
        using (no_grad())
            foreach (var (name, p) in model.FeatureExtractor.named_parameters())
                if (name.Contains("layer_norm") || name.Contains("hard_concrete"))
                {
                    using var r = rand(p.shape, generator: g);
                    p.copy_(name.EndsWith("weight") ? r.Plus(0.5) : r.Minus(0.5));
                }
        var reference = ModelFactory.Build(config);
        StateDictLoader.Load(reference, model.state_dict(), "model");
        reference.to(float64);
        reference.SetConvolutionPath(ConvolutionPath.LibTorch);
        model.eval();
        reference.eval();
        return (model, reference);
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void Extractor_on_the_gemm_path_matches_float64_with_lengths_and_both_batch_semantics(ExtractorMode mode, bool masks)
    {
        var (model, reference) = Pair(Small(mode, masks), seed: 11);
        using var _m = model;
        using var _r = reference;
        var g = new Generator(5);
        using var waves = randn(new long[] { 3, 6400 }, generator: g);
        using var lengths = tensor(new long[] { 6400, 3000, 1200 });
        using var _ = inference_mode();
        using var waves64 = waves.to(float64);
        foreach (var semantics in new[] { BatchSemantics.Original, BatchSemantics.PerItem })
        {
            var (f, fl) = model.forward(waves, lengths, semantics);
            var (e, el) = reference.forward(waves64, lengths, semantics);
            using (f) using (fl) using (e) using (el)
            {
                fl!.data<long>().ToArray().Should().Equal(el!.data<long>().ToArray());
                var frames = fl.data<long>().ToArray();
                for (int i = 0; i < frames.Length; i++)
                {
                    using var a = f[i, ..(int)frames[i]];
                    using var b = e[i, ..(int)frames[i]];
                    double diff = TensorAssert.Close(a, b, 1e-4, $"{mode} masks={masks} {semantics} row {i}");
                    log.WriteLine($"{mode} masks={masks} {semantics} row {i}: max abs diff {diff:E2}");
                }
            }
        }
        // The extractor alone: [batch, frames, C] on both paths.
        using var conv = model.FeatureExtractor.forward(waves, null).Output;
        using var conv64 = reference.FeatureExtractor.forward(waves64, null).Output;
        conv.shape.Should().Equal(conv64.shape);
        TensorAssert.Close(conv, conv64, 1e-4, $"{mode} extractor, Gemm path");
    }

    [Theory]
    [InlineData(ExtractorMode.GroupNorm)]
    [InlineData(ExtractorMode.LayerNorm)]
    public void The_waveform_layer_runs_in_chunks_that_join_without_a_seam(ExtractorMode mode)
    {
        // Long enough for three chunks of the fused first two layers (and a short last one), as a 10 s clip has.
        // Only the two fused layers, so a seam is not washed out by five more layers.
        var config = Small(mode, masks: false);
        config = config with { ExtractorConvLayerConfig = config.ExtractorConvLayerConfig.Take(2).ToArray() };
        var (model, reference) = Pair(config, seed: 8);
        using var _m = model;
        using var _r = reference;
        long samples = 10 * (2 * ConvLayerBlock.ChunkFrames + 77) + 400; // layers 0 and 1 stride 5 x 2
        var g = new Generator(12);
        using var waves = randn(new long[] { 1, samples }, generator: g);
        using var _ = inference_mode();
        using var waves64 = waves.to(float64);
        using var expected = reference.FeatureExtractor.forward(waves64, null).Output;
        using var actual = model.FeatureExtractor.forward(waves, null).Output;
        expected.std().item<double>().Should().BeGreaterThan(0.05, "features that vary (a test on near-zero output could not fail)");
        double diff = TensorAssert.Close(actual, expected, 1e-4, $"{mode}, {samples} samples");
        log.WriteLine($"{mode}, {samples} samples: max abs diff {diff:E2}, features' std {expected.std().item<double>():F3}");
    }

    /// <summary>bfloat16 through the same GEMM path: every fixture shape, pruned uneven ones included, within a
    /// per-frame cosine of 0.999 of float32 (libtorch's bf16 conv1d gave NaN on some CPUs for such shapes).</summary>
    [Theory]
    [InlineData("pruned_uneven")]
    [InlineData("wavlm_pruned")]
    [InlineData("prune_hubert")]
    [InlineData("hubert_post_ln")]
    [InlineData("large_pre_ln")]
    public void Bfloat16_stays_within_cosine_0_999_of_float32_on_every_fixture_shape(string name)
    {
        var (model, _) = CheckpointLoader.LoadModel(TestFiles.DpHubertCase(name, "checkpoint.pth"));
        using var _m = model;
        using var wave = ModelAssert.Wave(TestFiles.DpHubertCase(name, "input.wav"));
        using var _ = inference_mode();
        using var fp32 = model.forward(wave, null).Output;
        model.to(ScalarType.BFloat16);
        using var wave16 = wave.to(ScalarType.BFloat16);
        using var bf16 = model.forward(wave16, null).Output;
        using var bf16As32 = bf16.to(float32);
        bf16As32.isfinite().all().item<bool>().Should().BeTrue($"{name}: bfloat16 features are finite");
        int dim = (int)fp32.shape[^1];
        var expected = fp32.contiguous().data<float>().ToArray();
        var actual = bf16As32.contiguous().data<float>().ToArray();
        double meanCos = FeatureSimilarity.MeanFrameCosine(actual, expected, dim);
        double minCos = FeatureSimilarity.FrameCosines(actual, expected, dim).Min();
        log.WriteLine($"{name}: bf16 vs fp32 mean per-frame cosine {meanCos:F6}, min {minCos:F6}");
        meanCos.Should().BeGreaterThanOrEqualTo(0.999, $"{name}: bf16 mean per-frame cosine to fp32");
    }

    [Fact]
    public void A_mix_of_paths_per_layer_gives_the_same_features()
    {
        // In float64 (no oneDNN kernel), so libtorch's conv1d is right on every CPU and only the layouts are tested.
        var (model, reference) = Pair(Small(ExtractorMode.LayerNorm, masks: true), seed: 3);
        using var _m = model;
        using var _r = reference;
        model.to(float64);
        var g = new Generator(9);
        using var waves = randn(new long[] { 2, 4000 }, float64, generator: g);
        using var _ = inference_mode();
        using var expected = reference.FeatureExtractor.forward(waves, null).Output;
        var layers = model.FeatureExtractor.ConvLayers;
        for (int i = 0; i < layers.Count; i++) layers[i].Path = i % 2 == 0 ? ConvolutionPath.LibTorch : ConvolutionPath.Gemm;
        using var mixed = model.FeatureExtractor.forward(waves, null).Output;
        TensorAssert.Close(mixed, expected, 1e-10, "layers 0, 2, 4, 6 on conv1d, the others on GEMM");
        model.SetConvolutionPath(ConvolutionPath.Gemm);
        layers.Should().OnlyContain(l => l.Path == ConvolutionPath.Gemm);
        using var gemm = model.FeatureExtractor.forward(waves, null).Output;
        TensorAssert.Close(gemm, expected, 1e-10, "every layer on GEMM");
    }

    [Fact]
    public void Gradients_reach_weights_and_masks_on_the_gemm_path_as_on_conv1d()
    {
        var (model, reference) = Pair(Small(ExtractorMode.GroupNorm, masks: true), seed: 4);
        using var _m = model;
        using var _r = reference;
        model.to(float64);
        var g = new Generator(2);
        using var waves = randn(new long[] { 1, 3000 }, float64, generator: g);
        foreach (var (m, path) in new[] { (model, ConvolutionPath.Gemm), (reference, ConvolutionPath.LibTorch) })
        {
            m.SetConvolutionPath(path);
            m.FeatureExtractor.zero_grad();
            var (y, _) = m.FeatureExtractor.forward(waves, null);
            using (y) using (var loss = y.square().sum()) loss.backward();
        }
        var ours = model.FeatureExtractor.named_parameters().Where(p => p.parameter.grad is not null).ToDictionary(p => p.name, p => p.parameter.grad!);
        var theirs = reference.FeatureExtractor.named_parameters().Where(p => p.parameter.grad is not null).ToDictionary(p => p.name, p => p.parameter.grad!);
        ours.Keys.Should().BeEquivalentTo(theirs.Keys);
        ours.Keys.Should().Contain(k => k.Contains("hard_concrete.log_alpha")).And.Contain("conv_layers.0.conv.weight");
        foreach (var (name, grad) in ours)
        {
            double scale = Math.Max(1.0, theirs[name].abs().max().item<double>());
            TensorAssert.Close(grad, theirs[name], 1e-9 * scale, $"gradient of {name}");
        }
    }
}
