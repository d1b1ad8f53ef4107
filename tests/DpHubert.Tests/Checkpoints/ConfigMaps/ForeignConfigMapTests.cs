using System;
using System.Collections.Generic;
using System.Linq;
using DpHubert.Checkpoints;
using DpHubert.Checkpoints.ConfigMaps;
using DpHubert.Config;
using DpHubert.PyTorch;
using FluentAssertions;
using Xunit;

namespace DpHubert.Tests.Checkpoints.ConfigMaps;

/// <summary>The foreign config tables give the typed record directly.</summary>
public class ForeignConfigMapTests
{
    private static LoadReport Report() => new("model.pt", CheckpointFormat.Fairseq);

    [Fact]
    public void Fairseq_section_becomes_a_typed_config_with_its_conv_spec_parsed_once()
    {
        var arch = new Dictionary<string, object?>
        {
            ["extractor_mode"] = "layer_norm", ["conv_feature_layers"] = "[(64, 10, 5)] + [(48, 3, 2)] * 2",
            ["encoder_embed_dim"] = 64L, ["encoder_layers"] = 3L, ["encoder_attention_heads"] = 4L, ["encoder_ffn_embed_dim"] = 128L,
            ["dropout"] = 0.2,
        };
        var report = Report();
        var c = FairseqConfigMap.Read(arch.TryGetValue, null, ModelKind.Hubert, "model.pt", "cfg.model", report);
        c.Kind.Should().Be(ModelKind.Hubert);
        c.ExtractorMode.Should().Be(ExtractorMode.LayerNorm);
        c.ExtractorConvLayerConfig.Should().Equal(new ConvLayerSpec(64, 10, 5), new ConvLayerSpec(48, 3, 2), new ConvLayerSpec(48, 3, 2));
        c.EncoderLayers.Should().Equal(EncoderLayerConfig.Standard(4, 128).Repeat(3));
        c.EncoderHeadDim.Should().Be(16);
        c.EncoderDropout.Should().Be(0.2);
        c.EncoderNumBuckets.Should().BeNull("buckets are read for WavLM only");
        report.Notes.Should().Contain("cfg.model has no 'conv_bias': using fairseq's default False");
        c.Validate();
    }

    [Fact]
    public void Fairseq_fine_tuning_dropouts_win_and_bad_values_name_their_key()
    {
        var arch = new Dictionary<string, object?> { ["dropout"] = 0.1, ["encoder_layerdrop"] = 0.05 };
        var overrides = new Dictionary<string, object?> { ["dropout"] = 0.0, ["layerdrop"] = 0.2 };
        var c = FairseqConfigMap.Read(arch.TryGetValue, overrides.TryGetValue, ModelKind.Wav2Vec2, "model.pt", "cfg", Report());
        c.EncoderDropout.Should().Be(0.0);
        c.EncoderLayerDrop.Should().Be(0.2);

        var bad = new Dictionary<string, object?> { ["conv_feature_layers"] = "[(512, 10)]" };
        var act = () => FairseqConfigMap.Read(bad.TryGetValue, null, ModelKind.Wav2Vec2, "model.pt", "cfg", Report());
        act.Should().Throw<CheckpointFormatException>().Where(e => e.Key == "conv_feature_layers").WithMessage("*expected ','*");
        bad = new Dictionary<string, object?> { ["extractor_mode"] = "group_norm" };
        act.Should().Throw<CheckpointFormatException>().Where(e => e.Key == "extractor_mode").WithMessage("*expected 'default' or 'layer_norm'*");
        bad = new Dictionary<string, object?> { ["encoder_embed_dim"] = 100L, ["encoder_attention_heads"] = 12L };
        act.Should().Throw<CheckpointFormatException>().Where(e => e.Key == "encoder_attention_heads")
            .WithMessage("*encoder_embed_dim 100 is not a multiple of encoder_attention_heads 12*");
    }

    [Fact]
    public void Hugging_face_config_joins_the_conv_stack_and_keeps_every_WavLM_head()
    {
        var json = new Dictionary<string, object?>
        {
            ["feat_extract_norm"] = "layer", ["conv_dim"] = new List<object?> { 32L, 32L }, ["conv_kernel"] = new List<object?> { 10L, 3L },
            ["conv_stride"] = new List<object?> { 5L, 2L }, ["hidden_size"] = 64L, ["num_hidden_layers"] = 2L,
            ["num_attention_heads"] = 4L, ["intermediate_size"] = 96L, ["num_buckets"] = 32L,
        };
        var report = Report();
        var c = HuggingFaceConfigMap.Read(json.TryGetValue, ModelKind.WavLM, "config.json", report);
        c.Kind.Should().Be(ModelKind.WavLM);
        c.AttentionKind.Should().Be(AttentionKind.WavLM);
        c.ExtractorMode.Should().Be(ExtractorMode.LayerNorm);
        c.ExtractorConvLayerConfig.Should().Equal(new ConvLayerSpec(32, 10, 5), new ConvLayerSpec(32, 3, 2));
        c.EncoderLayers.Should().Equal(EncoderLayerConfig.WavLM(4, 96).Repeat(2));
        c.EncoderLayers[1].RemainingHeads.Should().Equal(0, 1, 2, 3);
        c.EncoderHeadDim.Should().BeNull();
        c.EncoderNumBuckets.Should().Be(32);
        c.EncoderMaxDistance.Should().Be(800);
        report.Notes.Should().Contain("config.json has no 'max_bucket_distance': using the transformers default 800");
        c.Validate();
    }

    [Fact]
    public void Hugging_face_conv_lists_of_different_lengths_are_refused_by_name()
    {
        var json = new Dictionary<string, object?>
        {
            ["conv_dim"] = new List<object?> { 32L, 32L }, ["conv_kernel"] = new List<object?> { 10L }, ["conv_stride"] = new List<object?> { 5L, 2L },
        };
        var act = () => HuggingFaceConfigMap.Read(json.TryGetValue, ModelKind.Hubert, "config.json", Report());
        act.Should().Throw<CheckpointFormatException>().Where(e => e.Key == "conv_dim")
            .WithMessage("*conv_dim, conv_kernel and conv_stride have 2, 1 and 2 entries*");
        json = new Dictionary<string, object?> { ["feat_extract_norm"] = "batch" };
        act.Should().Throw<CheckpointFormatException>().Where(e => e.Key == "feat_extract_norm").WithMessage("*expected 'group' or 'layer'*");
        json = new Dictionary<string, object?> { ["hidden_size"] = "768" };
        act.Should().Throw<CheckpointFormatException>().Where(e => e.Key == "hidden_size").WithMessage("*expected an integer (got \"768\")*");
    }
}
