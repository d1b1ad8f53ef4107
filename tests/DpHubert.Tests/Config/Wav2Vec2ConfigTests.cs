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
        b.EncoderLayers.Select(l => l.NumHeads).Should().HaveCount(12).And.OnlyContain(h => h == 12);
        b.EncoderHeadDim.Should().Be(64);
        b.EncoderLayerDrop.Should().Be(0.05);
        b.EncoderFfIntermDropout.Should().Be(0.0);
        b.NormalizeWaveform.Should().BeFalse();
        Wav2Vec2Config.HubertXLarge.EncoderHeadDim.Should().Be(80);
        Wav2Vec2Config.HubertLarge.NormalizeWaveform.Should().BeTrue();
        Wav2Vec2Config.Wav2Vec2LargeLv60k.ExtractorConvBias.Should().BeTrue();
        Wav2Vec2Config.WavLMBase.AttentionKind.Should().Be(AttentionKind.WavLM);
        Wav2Vec2Config.WavLMBase.EncoderNumBuckets.Should().Be(320);
        Wav2Vec2Config.WavLMLarge.EncoderLayers[0].RemainingHeads.Should().Equal(Enumerable.Range(0, 16));
        Wav2Vec2Config.HubertBase.MinimumSamples.Should().Be(400);
        Wav2Vec2Config.HubertBase.FramesForSamples(16000).Should().Be(49);
        Wav2Vec2Config.HubertBase.FramesForSamples(44100).Should().Be(137);
        Wav2Vec2Config.HubertBase.FramesForSamples(399).Should().Be(0);
        Wav2Vec2Config.Presets.Keys.Should().HaveCount(8);
    }

    [Fact]
    public void Validation_lists_every_problem_with_field_and_value()
    {
        // Per-layer lists of the wrong length exist only in the dictionary form, which is checked together with the record.
        var bad = Wav2Vec2Config.HubertBase.ToDictionary().Select(kv => kv.Key switch
        {
            "encoder_num_heads" => new KeyValuePair<string, object?>(kv.Key, new List<object?> { 12L, 0L }),
            "encoder_head_dim" => new KeyValuePair<string, object?>(kv.Key, -1L),
            "encoder_dropout" => new KeyValuePair<string, object?>(kv.Key, 1.5),
            _ => kv,
        });
        var act = () => Wav2Vec2Config.FromDictionary(bad);
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

    // torchaudio's factory arguments (sizes given once) per preset, read through the dictionary form: the literal presets
    // must equal them field for field, with the family the dictionary cannot say.
    public static TheoryData<string, ModelKind, string, bool, long, long, long, long, bool, double[]> TorchaudioArguments => new()
    {
        // name, kind, extractor_mode, conv_bias, embed, layers, heads, ffn, layer_norm_first,
        // (projection, attention, ff_interm, encoder, layer_drop) dropouts
        { "wav2vec2_base", ModelKind.Wav2Vec2, "group_norm", false, 768, 12, 12, 3072, false, new[] { 0.1, 0.1, 0.1, 0.1, 0.1 } },
        { "wav2vec2_large", ModelKind.Wav2Vec2, "group_norm", false, 1024, 24, 16, 4096, false, new[] { 0.1, 0.1, 0.1, 0.1, 0.1 } },
        { "wav2vec2_large_lv60k", ModelKind.Wav2Vec2, "layer_norm", true, 1024, 24, 16, 4096, true, new[] { 0.1, 0.0, 0.1, 0.0, 0.1 } },
        { "hubert_base", ModelKind.Hubert, "group_norm", false, 768, 12, 12, 3072, false, new[] { 0.1, 0.1, 0.0, 0.1, 0.05 } },
        { "hubert_large", ModelKind.Hubert, "layer_norm", false, 1024, 24, 16, 4096, true, new[] { 0.0, 0.0, 0.0, 0.0, 0.0 } },
        { "hubert_xlarge", ModelKind.Hubert, "layer_norm", false, 1280, 48, 16, 5120, true, new[] { 0.0, 0.0, 0.0, 0.0, 0.0 } },
        { "wavlm_base", ModelKind.WavLM, "group_norm", false, 768, 12, 12, 3072, false, new[] { 0.1, 0.1, 0.1, 0.1, 0.1 } },
        { "wavlm_large", ModelKind.WavLM, "layer_norm", false, 1024, 24, 16, 4096, true, new[] { 0.1, 0.1, 0.0, 0.1, 0.1 } },
    };

    [Theory]
    [MemberData(nameof(TorchaudioArguments))]
    public void Literal_presets_equal_torchaudios_arguments_read_as_a_dictionary(string name, ModelKind kind, string mode, bool convBias,
        long embed, long layers, long heads, long ffn, bool layerNormFirst, double[] dropouts)
    {
        var arguments = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["extractor_mode"] = mode, ["extractor_conv_layer_config"] = null, ["extractor_conv_bias"] = convBias,
            ["encoder_embed_dim"] = embed, ["encoder_projection_dropout"] = dropouts[0], ["encoder_pos_conv_kernel"] = 128L,
            ["encoder_pos_conv_groups"] = 16L, ["encoder_num_layers"] = layers, ["encoder_num_heads"] = heads,
            ["encoder_attention_dropout"] = dropouts[1], ["encoder_ff_interm_features"] = ffn, ["encoder_ff_interm_dropout"] = dropouts[2],
            ["encoder_dropout"] = dropouts[3], ["encoder_layer_norm_first"] = layerNormFirst, ["encoder_layer_drop"] = dropouts[4],
            // DPHuBERT's converters standardise the waveform for layer-norm extractors.
            ["normalize_waveform"] = mode == "layer_norm",
        };
        if (kind == ModelKind.WavLM)
        {
            arguments["encoder_num_buckets"] = 320L;
            arguments["encoder_max_distance"] = 800L;
        }
        var fromDictionary = ConfigDictionaryMap.ReadUniform(arguments, note: null);
        fromDictionary.Kind.Should().Be(kind == ModelKind.WavLM ? ModelKind.WavLM : ModelKind.Wav2Vec2, "a dictionary declares no family");
        var preset = Wav2Vec2Config.Preset(name);
        preset.Kind.Should().Be(kind);
        preset.Should().Be(fromDictionary with { Kind = kind });
        preset.ToJson().Should().Be(fromDictionary.ToJson());
        preset.Validate().Should().BeSameAs(preset);
    }

    [Fact]
    public void Equality_is_structural_over_every_member()
    {
        // Built apart (no shared lists), equal by value.
        var a = Wav2Vec2Config.FromJson(Wav2Vec2Config.HubertBase.ToJson()) with { Kind = ModelKind.Hubert };
        a.Should().NotBeSameAs(Wav2Vec2Config.HubertBase);
        a.EncoderLayers.Should().NotBeSameAs(Wav2Vec2Config.HubertBase.EncoderLayers);
        a.Should().Be(Wav2Vec2Config.HubertBase);
        a.GetHashCode().Should().Be(Wav2Vec2Config.HubertBase.GetHashCode());
        (a == Wav2Vec2Config.HubertBase).Should().BeTrue();

        var b = Wav2Vec2Config.HubertBase;
        var layers = b.EncoderLayers.ToArray();
        layers[5] = layers[5] with { FfIntermFeatures = 3071 };
        (b with { EncoderLayers = layers }).Should().NotBe(b, "one layer's width differs");
        (b with { ExtractorConvLayerConfig = b.ExtractorConvLayerConfig.Select((c, i) => i == 6 ? c with { Stride = 1 } : c).ToArray() })
            .Should().NotBe(b, "one convolution differs");
        (b with { Kind = ModelKind.Wav2Vec2 }).Should().NotBe(b, "the family is part of the config");
        (b with { EncoderLayerDrop = 0.1 }).Should().NotBe(b);

        var w = Wav2Vec2Config.WavLMBase;
        var wavlmLayers = w.EncoderLayers.ToArray();
        wavlmLayers[0] = wavlmLayers[0] with { RemainingHeads = Enumerable.Range(0, 12).ToArray() };
        (w with { EncoderLayers = wavlmLayers }).Should().Be(w, "kept heads compare by value");
        wavlmLayers[0] = wavlmLayers[0] with { RemainingHeads = Enumerable.Range(1, 11).ToArray() };
        (w with { EncoderLayers = wavlmLayers }).Should().NotBe(w, "kept heads differ");
    }

    [Fact]
    public void A_small_config_is_short_to_write()
    {
        var c = Wav2Vec2Config.HubertBase with
        {
            EncoderEmbedDim = 64, EncoderHeadDim = 16, EncoderPosConvKernel = 16,
            EncoderLayers = EncoderLayerConfig.Standard(numHeads: 4, ffIntermFeatures: 128).Repeat(2),
        };
        c.Validate();
        c.EncoderNumLayers.Should().Be(2);
        c.ToDictionary().Should().Contain(new KeyValuePair<string, object?>("encoder_num_layers", 2L));
        var w = Wav2Vec2Config.WavLMBase with
        {
            EncoderEmbedDim = 64, EncoderPosConvKernel = 16,
            EncoderLayers = new[] { EncoderLayerConfig.WavLM(4, 128), EncoderLayerConfig.WavLM(4, new[] { 1, 3 }, 96) },
        };
        w.Validate();
        w.HeadsOfLayer(1).Should().Be(2);
        w.HeadDimOfLayer(1).Should().Be(16);
    }

    [Fact]
    public void The_kind_decides_the_attention_and_its_fields_must_match()
    {
        Wav2Vec2Config.HubertBase.AttentionKind.Should().Be(AttentionKind.Standard);
        Wav2Vec2Config.WavLMBase.AttentionKind.Should().Be(AttentionKind.WavLM);
        var act = () => (Wav2Vec2Config.HubertBase with { Kind = ModelKind.WavLM }).Validate();
        act.Should().Throw<ArgumentException>().WithMessage("*encoder_num_heads is a wav2vec 2.0 / HuBERT field, but this is a WavLM config*")
            .WithMessage("*encoder_total_num_heads is required for WavLM models*");
        act = () => (Wav2Vec2Config.WavLMBase with { Kind = ModelKind.Hubert }).Validate();
        act.Should().Throw<ArgumentException>().WithMessage("*encoder_total_num_heads / encoder_remaining_heads is a WavLM field, but this is a Hubert config*")
            .WithMessage("*encoder_head_dim is required*");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Dictionary_to_record_to_dictionary_is_byte_compatible(string name)
    {
        // The checkpoint's config read into the record and written back pickles to the same bytes as the dict as read.
        var original = ConfigOf(name);
        var pairs = original.Select(kv => new KeyValuePair<string, object?>((string)kv.Key, kv.Value)).ToList();
        var back = Parse(original).ToDictionary();
        // One file name for both: the zip's record names come from it.
        var path = System.IO.Path.Combine(TestFiles.TempDir(), "config.pth");
        byte[] Pickle(IEnumerable<KeyValuePair<string, object?>> d)
        {
            var dict = new PyDict();
            foreach (var (k, v) in d) dict[k] = v;
            TorchCheckpointWriter.Save(path, dict);
            return System.IO.File.ReadAllBytes(path);
        }
        Pickle(back).Should().Equal(Pickle(pairs));
    }

    [Fact]
    public void Unknown_preset_lists_the_available_ones()
    {
        var act = () => Wav2Vec2Config.Preset("hubert_tiny");
        act.Should().Throw<ArgumentException>().WithMessage("*hubert_tiny*hubert_base*wavlm_large*");
    }
}
