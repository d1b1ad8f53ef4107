using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using DpHubert.Config;
using DpHubert.Modules;
using DpHubert.Tests.Support;
using FluentAssertions;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace DpHubert.Tests.Modules;

public class ModelFactoryTests
{
    private static Wav2Vec2Config Small => Wav2Vec2Config.FromJson(File.ReadAllText(TestFiles.Fixture("reference", "ta_hubert_base_like", "config.json")));

    [Fact]
    public void The_dispatcher_and_the_two_builders_pick_the_attention_kind()
    {
        using var standard = ModelFactory.Build(Small);
        standard.Encoder.Transformer.Layers[0].Attention.Should().BeOfType<SelfAttention>();
        var wavlmConfig = Small with
        {
            Kind = ModelKind.WavLM, EncoderHeadDim = null,
            EncoderLayers = new[] { new[] { 0, 1, 2, 3 }, new[] { 1, 3 }, new[] { 2 } }
                .Select((h, i) => Small.EncoderLayers[i] with { NumHeads = null, TotalNumHeads = 4, RemainingHeads = h }).ToArray(),
            EncoderNumBuckets = 32, EncoderMaxDistance = 64,
        };
        using var wavlm = ModelFactory.Build(wavlmConfig);
        var first = wavlm.Encoder.Transformer.Layers[0].Attention.Should().BeOfType<WavLMSelfAttention>().Subject;
        first.HasRelativeAttentionBias.Should().BeTrue();
        ((WavLMSelfAttention)wavlm.Encoder.Transformer.Layers[1].Attention!).HasRelativeAttentionBias.Should().BeFalse();
        ((WavLMSelfAttention)wavlm.Encoder.Transformer.Layers[2].Attention!).RemainingHeads.Should().Equal(2);

        var wrongKind = () => ModelFactory.BuildWavLM(Small);
        wrongKind.Should().Throw<ArgumentException>().WithMessage("*not a WavLM config*");
        wrongKind = () => ModelFactory.BuildWav2Vec2(wavlmConfig);
        wrongKind.Should().Throw<ArgumentException>().WithMessage("*WavLM config*");
        // A layer count that disagrees with the per-layer lists exists only in the dictionary form.
        var fiveLayers = Small.ToDictionary().Select(kv => kv.Key == "encoder_num_layers" ? new KeyValuePair<string, object?>(kv.Key, 5L) : kv);
        var invalid = () => ModelFactory.Build(Wav2Vec2Config.FromDictionary(fiveLayers));
        invalid.Should().Throw<ArgumentException>().WithMessage("*encoder_use_attention must have encoder_num_layers=5 entries, got 3*");
        invalid = () => ModelFactory.Build(Small with { EncoderHeadDim = 0 });
        invalid.Should().Throw<ArgumentException>().WithMessage("*encoder_head_dim must be positive, got 0*");
    }

    [Fact]
    public void Unknown_preset_names_are_refused_with_the_list()
    {
        var act = () => ModelFactory.BuildPreset("hubert_huge");
        act.Should().Throw<ArgumentException>().WithMessage("*hubert_huge*wav2vec2_base*");
    }

    [Fact]
    public void HuBERT_pretraining_initialization_has_the_intended_statistics()
    {
        using var model = ModelFactory.InitHubertPretrain(ModelFactory.Build(Small with { EncoderEmbedDim = 64, EncoderHeadDim = 16 }));
        // Kaiming normal (fan_in, gain sqrt(2)) on every extractor conv: std = sqrt(2 / (in * k)).
        var conv1 = model.FeatureExtractor.ConvLayers[1].Conv.Weight;
        conv1.std().item<float>().Should().BeApproximately((float)Math.Sqrt(2.0 / (24 * 3)), 0.03f);
        // Positional conv: the effective weight g v / |v| equals v ~ N(0, sqrt(4 / (K E))), bias 0.
        var pos = model.Encoder.Transformer.PosConvEmbed;
        var w = ((WeightNormConv1d)pos.named_children().Single().module).ComputeWeight();
        w.std().item<float>().Should().BeApproximately((float)Math.Sqrt(4.0 / (16 * 64)), 0.01f);
        pos.named_parameters().Single(p => p.name.EndsWith("bias", StringComparison.Ordinal)).parameter.abs().max().item<float>().Should().Be(0f);
        // q/k/v Xavier uniform with gain 1/sqrt(2): bound = gain * sqrt(6 / (fan_in + fan_out)); out_proj bias 0.
        var attention = model.Encoder.Transformer.Layers[0].Attention!;
        var q = attention.named_children().Single(c => c.name == "q_proj").module.named_parameters().Single(p => p.name == "weight").parameter;
        double bound = Math.Sqrt(0.5) * Math.Sqrt(6.0 / (64 + 64));
        q.abs().max().item<float>().Should().BeLessThanOrEqualTo((float)bound + 1e-6f).And.BeGreaterThan((float)(0.9 * bound));
        var outBias = attention.named_children().Single(c => c.name == "out_proj").module.named_parameters().Single(p => p.name == "bias").parameter;
        outBias.abs().max().item<float>().Should().Be(0f);
        // Feed-forward Linear layers get the BERT init: N(0, 0.02), bias 0.
        var ff = model.Encoder.Transformer.Layers[0].FeedForward!.named_children().Single(c => c.name == "intermediate_dense").module.named_parameters().ToList();
        ff.Single(p => p.name == "weight").parameter.std().item<float>().Should().BeApproximately(0.02f, 0.003f);
        ff.Single(p => p.name == "bias").parameter.abs().max().item<float>().Should().Be(0f);
    }
}
