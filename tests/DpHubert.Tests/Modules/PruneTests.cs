using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using DpHubert.Audio;
using DpHubert.Checkpoints;
using DpHubert.Config;
using DpHubert.Modules;
using DpHubert.Tests.Support;
using FluentAssertions;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace DpHubert.Tests.Modules;

/// <summary>
/// Prune() against what DPHuBERT's prune.py produced for the two prunable fixture cases: every eval mask, the l0 norms,
/// the pruned config, the pruned state_dict, the pruned outputs and both parameter counts. The original is not exactly
/// output-preserving when conv channels are pruned, so the pruned outputs are compared with the original's pruned
/// outputs, never with the masked model's.
/// </summary>
public class PruneTests
{
    private const double Atol = 1e-4;

    public static TheoryData<string> Cases => new() { "prune_hubert", "prune_wavlm" };

    private static Wav2Vec2Model Load(string name) => CheckpointLoader.LoadModel(TestFiles.DpHubertCase(name, "checkpoint.pth")).Model;

    private static Tensor Wave(string name) => ModelAssert.Wave(TestFiles.DpHubertCase(name, "input.wav"));

    [Theory]
    [MemberData(nameof(Cases))]
    public void Every_eval_mask_and_l0_norm_matches(string name)
    {
        using var model = Load(name);
        var info = TestFiles.CaseInfo(name).GetProperty("hardconcrete");
        var masks = model.named_modules().Where(m => m.module is HardConcrete).ToList();
        masks.Should().NotBeEmpty();
        foreach (var (path, module) in masks)
        {
            var hc = (HardConcrete)module;
            using var expected = TestFiles.LoadFloat(TestFiles.DpHubertCase(name, "mask__" + path.Replace('.', '_') + ".npy"));
            using var mask = hc.forward();
            TensorAssert.Close(mask, expected, 1e-6, $"{name} mask {path}");
            hc.L0Norm().item<float>().Should().BeApproximately(info.GetProperty(path + ".l0_norm").GetSingle(), 1e-4f, path);
        }
        var files = Directory.GetFiles(TestFiles.DpHubertCase(name), "mask__*.npy");
        files.Should().HaveCount(masks.Count, "every mask the original saved has a HardConcrete here");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Prune_reproduces_the_original_config_weights_outputs_and_sizes(string name)
    {
        var info = TestFiles.CaseInfo(name);
        using var model = Load(name);
        var config = model.Prune();

        var expectedConfig = Wav2Vec2Config.FromJson(info.GetProperty("pruned_config").GetRawText());
        config.Should().Be(expectedConfig);
        config.HasPruningMasks.Should().BeFalse();
        model.Config.Should().Be(config);

        // Same keys, shapes and values as pruned/checkpoint.pth.
        using var expected = CheckpointLoader.Read(TestFiles.DpHubertCase(name, "pruned", "checkpoint.pth"));
        expected.Config.Should().Be(config);
        var ours = model.state_dict();
        ours.Keys.Should().BeEquivalentTo(expected.StateDict.Keys);
        foreach (var (key, tensor) in expected.StateDict)
            TensorAssert.Close(ours[key], tensor, 1e-6, $"{name} pruned {key}");

        model.NumParameters().Should().Be(info.GetProperty("pruned_num_parameters_tensor_count").GetInt64());
        double stored = info.GetProperty("pruned_num_params_get_num_params").GetDouble();
        model.GetNumParams().Should().BeInRange(stored - 1e-3, stored + 1.0, "cases.json stores int(get_num_params())");

        // The model pruned in place runs, and matches the original's pruned outputs.
        using var wave = Wave(name);
        using var _ = inference_mode();
        using var single = TestFiles.LoadFloat(TestFiles.DpHubertCase(name, "pruned", "single_output.npy"));
        TensorAssert.Close(model.forward(wave, null).Output[0], single, Atol, $"{name} pruned output");
        using var layers = TestFiles.LoadFloat(TestFiles.DpHubertCase(name, "pruned", "single_layers.npy"));
        var ourLayers = model.ExtractFeatures(wave).Layers;
        for (int i = 0; i < ourLayers.Count; i++)
            TensorAssert.Close(ourLayers[i][0], layers[i], Atol, $"{name} pruned layer {i}");

        // Rebuilt from the new config with the pruned state_dict: the same model.
        using var rebuilt = ModelFactory.Build(config);
        StateDictLoader.Load(rebuilt, ours, name);
        TensorAssert.Close(rebuilt.forward(wave, null).Output[0], single, Atol, $"{name} rebuilt output");
    }

    /// <summary>Without conv pruning the original's prune() is exact: pruned output == masked (eval) output.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Pruning_heads_layers_and_units_preserves_the_output(bool wavlm)
    {
        manual_seed(7);
        var baseConfig = new Wav2Vec2Config
        {
            ExtractorConvLayerConfig = new[] { new ConvLayerSpec(16, 10, 5), new ConvLayerSpec(16, 3, 2), new ConvLayerSpec(16, 2, 2) },
            EncoderEmbedDim = 32,
            EncoderPosConvKernel = 8,
            EncoderPosConvGroups = 4,
            EncoderLayers = EncoderLayerConfig.Standard(numHeads: 4, ffIntermFeatures: 40).Repeat(4),
            EncoderHeadDim = 8,
            EncoderPruneAttentionHeads = true,
            EncoderPruneAttentionLayer = true,
            EncoderPruneFeedForwardIntermediate = true,
            EncoderPruneFeedForwardLayer = true,
        };
        var config = wavlm
            ? baseConfig with
            {
                Kind = ModelKind.WavLM, EncoderHeadDim = null, EncoderLayers = EncoderLayerConfig.WavLM(4, 40).Repeat(4),
                EncoderNumBuckets = 32, EncoderMaxDistance = 64,
            }
            : baseConfig;
        using var model = ModelFactory.Build(config);
        using (no_grad())
        {
            foreach (var (path, m) in model.named_modules().Where(m => m.module is HardConcrete))
            {
                var hc = (HardConcrete)m;
                // A mix of clearly kept, clearly dropped and in-between gates; whole blocks of layer 1 dropped.
                hc.LogAlpha.copy_(randn(hc.NIn) * 3 + 1);
                if (path.Contains("layers.1.") && path.EndsWith("for_layer", StringComparison.Ordinal)) hc.LogAlpha.fill_(-10);
            }
        }
        using var wave = randn(2, 4000) * 0.1;
        Tensor before;
        using (inference_mode()) before = model.forward(wave, null).Output;
        var pruned = model.Prune();
        pruned.EncoderLayers[1].UseAttention.Should().BeFalse();
        pruned.EncoderLayers[1].UseFeedForward.Should().BeFalse();
        using (inference_mode())
            TensorAssert.Close(model.forward(wave, null).Output, before, 1e-5, "pruned vs masked");
        using var rebuilt = ModelFactory.Build(pruned);
        StateDictLoader.Load(rebuilt, model.state_dict(), "pruned");
        using (inference_mode())
            TensorAssert.Close(rebuilt.forward(wave, null).Output, before, 1e-5, "rebuilt vs masked");
        before.Dispose();
    }

    [Fact]
    public void Prune_needs_eval_mode_and_refuses_conv_layers_pruned_to_nothing()
    {
        var config = Wav2Vec2Config.FromJson(File.ReadAllText(TestFiles.Fixture("reference", "ta_hubert_base_like", "config.json")))
            with { ExtractorPruneConvChannels = true };
        using var model = ModelFactory.Build(config);
        model.train();
        var inTraining = () => model.FeatureExtractor.Prune();
        inTraining.Should().Throw<InvalidOperationException>().WithMessage("*eval mode*");
        using (no_grad()) model.FeatureExtractor.ConvLayers[2].HardConcrete!.LogAlpha.fill_(-20);
        var act = () => model.Prune();
        act.Should().Throw<InvalidOperationException>().WithMessage("Conv channels pruned to zero at index 2");
    }
}
