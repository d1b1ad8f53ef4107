using System;
using System.Collections.Generic;
using System.Linq;
using DpHubert.Checkpoints;
using DpHubert.Config;
using DpHubert.PyTorch;
using DpHubert.Tests.Support;
using FluentAssertions;
using Xunit;

namespace DpHubert.Tests.Config;

public class Wav2Vec2ConfigTests
{
    public static TheoryData<string> Cases => new()
    {
        "hubert_post_ln", "large_pre_ln", "pruned_uneven", "wavlm_pruned", "wavlm_pre_ln", "prune_hubert", "prune_wavlm",
    };

    private static PyDict ConfigOf(string name) =>
        (PyDict)((PyDict)TorchCheckpointReader.Load(TestFiles.DpHubertCase(name, "checkpoint.pth")).Root.Value!)["config"]!;

    private static Wav2Vec2Config Parse(PyDict d) =>
        Wav2Vec2Config.FromDictionary(d.Select(kv => new KeyValuePair<string, object?>((string)kv.Key, kv.Value)));

    [Theory]
    [MemberData(nameof(Cases))]
    public void Checkpoint_config_round_trips_through_the_dictionary(string name)
    {
        var original = ConfigOf(name);
        var config = Parse(original);
        var back = config.ToDictionary();
        back.Select(kv => kv.Key).Should().Equal(original.Keys.Cast<string>(), "keys keep the original order");
        foreach (var (key, value) in back)
            Comparable(value).Should().BeEquivalentTo(Comparable(original[key]), o => o.WithStrictOrdering(), key);
        // extractor_conv_layer_config keeps its tuples, as prune.py writes them.
        ((List<object?>)back.First(kv => kv.Key == "extractor_conv_layer_config").Value!).Should().AllBeOfType<object?[]>();
    }

    // Tuples and lists compare alike: the dictionary form may hold either.
    private static object? Comparable(object? v) => v switch
    {
        System.Collections.IEnumerable e when v is not string => e.Cast<object?>().Select(Comparable).ToList(),
        _ => v,
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Json_round_trip_gives_an_equal_config(string name)
    {
        var config = Parse(ConfigOf(name));
        var json = config.ToJson();
        var back = Wav2Vec2Config.FromJson(json);
        back.Should().Be(config);
        back.ToJson().Should().Be(json);
        json.Should().Contain("\"encoder_projection_dropout\": 0.1");
    }

    [Fact]
    public void Presets_carry_the_torchaudio_values()
    {
        var b = Wav2Vec2Config.HubertBase;
        b.EncoderNumHeads.Should().HaveCount(12).And.OnlyContain(h => h == 12);
        b.EncoderHeadDim.Should().Be(64);
        b.EncoderLayerDrop.Should().Be(0.05);
        b.EncoderFfIntermDropout.Should().Be(0.0);
        b.NormalizeWaveform.Should().BeFalse();
        Wav2Vec2Config.HubertXLarge.EncoderHeadDim.Should().Be(80);
        Wav2Vec2Config.HubertLarge.NormalizeWaveform.Should().BeTrue();
        Wav2Vec2Config.Wav2Vec2LargeLv60k.ExtractorConvBias.Should().BeTrue();
        Wav2Vec2Config.WavLMBase.AttentionKind.Should().Be(AttentionKind.WavLM);
        Wav2Vec2Config.WavLMBase.EncoderNumBuckets.Should().Be(320);
        Wav2Vec2Config.WavLMLarge.EncoderRemainingHeads![0].Should().Equal(Enumerable.Range(0, 16));
        Wav2Vec2Config.HubertBase.MinimumSamples.Should().Be(400);
        Wav2Vec2Config.HubertBase.FramesForSamples(16000).Should().Be(49);
        Wav2Vec2Config.HubertBase.FramesForSamples(44100).Should().Be(137);
        Wav2Vec2Config.HubertBase.FramesForSamples(399).Should().Be(0);
        Wav2Vec2Config.Presets.Keys.Should().HaveCount(8);
    }

    [Fact]
    public void Validation_lists_every_problem_with_field_and_value()
    {
        var bad = Wav2Vec2Config.HubertBase with
        {
            EncoderNumHeads = new[] { 12, 0 },
            EncoderHeadDim = -1,
            EncoderDropout = 1.5,
        };
        var act = () => bad.Validate();
        var e = act.Should().Throw<ArgumentException>().Which;
        e.Message.Should().Contain("encoder_num_heads must have encoder_num_layers=12 entries, got 2")
            .And.Contain("encoder_num_heads[1] must be positive")
            .And.Contain("encoder_head_dim must be positive, got -1")
            .And.Contain("encoder_dropout must be a probability in [0, 1], got 1.5");
    }

    [Fact]
    public void Dictionary_errors_name_missing_unknown_and_mistyped_keys()
    {
        var d = Wav2Vec2Config.HubertBase.ToDictionary().Where(kv => kv.Key != "encoder_head_dim").ToList();
        d.Add(new("encoder_typo", 1L));
        d[0] = new("extractor_mode", "batch_norm");
        var act = () => Wav2Vec2Config.FromDictionary(d);
        act.Should().Throw<ArgumentException>().WithMessage("*missing keys: encoder_head_dim*")
            .WithMessage("*unknown keys: encoder_typo*").WithMessage("*extractor_mode*\"batch_norm\"*");
    }

    [Fact]
    public void Unknown_preset_lists_the_available_ones()
    {
        var act = () => Wav2Vec2Config.Preset("hubert_tiny");
        act.Should().Throw<ArgumentException>().WithMessage("*hubert_tiny*hubert_base*wavlm_large*");
    }
}
