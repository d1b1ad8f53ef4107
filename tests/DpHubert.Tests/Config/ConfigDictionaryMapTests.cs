using System;
using System.Collections.Generic;
using System.Linq;
using DpHubert.Config;
using FluentAssertions;
using Xunit;

namespace DpHubert.Tests.Config;

public class ConfigDictionaryMapTests
{
    // torchaudio's hubert_base() arguments: every size given once.
    private static Dictionary<string, object?> HubertBaseArguments() => new(StringComparer.Ordinal)
    {
        ["extractor_mode"] = "group_norm", ["extractor_conv_layer_config"] = null, ["extractor_conv_bias"] = false,
        ["encoder_embed_dim"] = 768L, ["encoder_projection_dropout"] = 0.1, ["encoder_pos_conv_kernel"] = 128L,
        ["encoder_pos_conv_groups"] = 16L, ["encoder_num_layers"] = 12L, ["encoder_num_heads"] = 12L,
        ["encoder_attention_dropout"] = 0.1, ["encoder_ff_interm_features"] = 3072L, ["encoder_ff_interm_dropout"] = 0.0,
        ["encoder_dropout"] = 0.1, ["encoder_layer_norm_first"] = false, ["encoder_layer_drop"] = 0.05,
    };

    [Fact]
    public void The_table_writes_every_key_in_the_original_order()
    {
        Wav2Vec2Config.HubertBase.ToDictionary().Select(kv => kv.Key).Should().Equal(
            ConfigDictionaryMap.Fields.Where(f => f.Use != ConfigDictionaryMap.Use.WavLM).Select(f => f.Key));
        Wav2Vec2Config.WavLMBase.ToDictionary().Select(kv => kv.Key).Should().Equal(
            ConfigDictionaryMap.Fields.Where(f => f.Use != ConfigDictionaryMap.Use.Standard).Select(f => f.Key));
    }

    [Fact]
    public void A_dictionary_is_WavLM_only_by_its_WavLM_head_fields()
    {
        IReadOnlyDictionary<string, object?> Dict(Wav2Vec2Config c) => c.ToDictionary().ToDictionary(kv => kv.Key, kv => kv.Value);
        ConfigDictionaryMap.KindOf(Dict(Wav2Vec2Config.WavLMBase)).Should().Be(ModelKind.WavLM);
        ConfigDictionaryMap.KindOf(Dict(Wav2Vec2Config.HubertBase)).Should().Be(ModelKind.Wav2Vec2);
        var wavlmArguments = HubertBaseArguments();
        wavlmArguments["encoder_num_buckets"] = 320L;
        wavlmArguments["encoder_max_distance"] = 800L;
        ConfigDictionaryMap.KindOf(wavlmArguments).Should().Be(ModelKind.WavLM, "torchaudio's wavlm_model has buckets and no head_dim");
        ConfigDictionaryMap.KindOf(HubertBaseArguments()).Should().Be(ModelKind.Wav2Vec2);
    }

    [Fact]
    public void Sizes_given_once_expand_per_layer_and_say_what_was_filled_in()
    {
        var notes = new List<string>();
        var c = ConfigDictionaryMap.ReadUniform(HubertBaseArguments(), notes.Add);
        c.EncoderLayers.Select(l => l.NumHeads).Should().Equal(Enumerable.Repeat<int?>(12, 12));
        c.EncoderHeadDim.Should().Be(64);
        c.EncoderLayers.Select(l => l.FfIntermFeatures).Should().Equal(Enumerable.Repeat(3072, 12));
        c.EncoderLayers.Select(l => l.UseAttention).Should().OnlyContain(b => b).And.HaveCount(12);
        c.AuxNumOut.Should().BeNull();
        c.NormalizeWaveform.Should().BeFalse();
        notes.Should().Contain(n => n.Contains("encoder_head_dim = 64")).And.Contain(n => n.Contains("normalize_waveform = false"));
    }

    [Fact]
    public void WavLM_sizes_given_once_keep_every_head()
    {
        var arguments = HubertBaseArguments();
        arguments["encoder_num_buckets"] = 320L;
        arguments["encoder_max_distance"] = 800L;
        var c = ConfigDictionaryMap.ReadUniform(arguments, note: null);
        c.AttentionKind.Should().Be(AttentionKind.WavLM);
        c.EncoderLayers.Should().OnlyContain(l => l.NumHeads == null);
        c.EncoderLayers.Select(l => l.TotalNumHeads).Should().Equal(Enumerable.Repeat<int?>(12, 12));
        c.EncoderLayers.Select(l => l.RemainingHeads).Should().HaveCount(12).And.OnlyContain(h => h!.SequenceEqual(Enumerable.Range(0, 12)));
    }
}
