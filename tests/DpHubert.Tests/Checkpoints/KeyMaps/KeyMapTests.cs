using System.Collections.Generic;
using System.Linq;
using DpHubert.Checkpoints;
using DpHubert.Checkpoints.KeyMaps;
using FluentAssertions;
using Xunit;

namespace DpHubert.Tests.Checkpoints.KeyMaps;

public class KeyMapTests
{
    public static TheoryData<string, int> Rules()
    {
        var data = new TheoryData<string, int>();
        foreach (var map in Maps)
            for (int i = 0; i < map.Rules.Count; i++) data.Add(map.Name, i);
        return data;
    }

    private static readonly KeyMap[] Maps =
    {
        HuggingFaceKeyMap.Instance, FairseqKeyMap.Instance, TorchaudioKeyMap.Instance, UnilmWavLmKeyMap.Instance,
        HubertSoftKeyMap.Instance, DpHubertLightningKeyMap.Instance,
    };

    [Theory]
    [MemberData(nameof(Rules))]
    public void Every_rule_maps_its_documented_example(string mapName, int index)
    {
        var map = Maps.Single(m => m.Name == mapName);
        var rule = map.Rules[index];
        rule.Apply(rule.Example, out bool matched).Should().Be(rule.ExampleResult, $"rule {index + 1} of {mapName}: {rule}");
        matched.Should().BeTrue();
        if (rule.Action == KeyRuleAction.Rewrite) return;
        // No earlier rule shadows it: the whole map does the same with the example.
        var whole = map.Map(rule.Example);
        whole.Result.Should().Be(rule.ExampleResult, $"the {mapName} map on {rule.Example}");
        whole.Dropped.Should().Be(rule.Action == KeyRuleAction.Drop);
    }

    [Theory]
    [InlineData("wav2vec2.encoder.pos_conv_embed.conv.parametrizations.weight.original1", "encoder.transformer.pos_conv_embed.conv.weight_v")]
    [InlineData("wavlm.encoder.layers.0.attention.gru_rel_pos_const", "encoder.transformer.layers.0.attention.gru_rel_pos_const")]
    [InlineData("hubert.feature_projection.layer_norm.bias", "encoder.feature_projection.layer_norm.bias")]
    [InlineData("encoder.pos_conv_embed.conv.weight", "encoder.transformer.pos_conv_embed.conv.weight")]
    public void Hugging_face_prefixed_keys_map_through_the_rewrite(string key, string expected) =>
        HuggingFaceKeyMap.Instance.Map(key).Result.Should().Be(expected);

    [Theory]
    [InlineData("w2v_encoder.w2v_model.encoder.layers.1.fc1.bias", "encoder.transformer.layers.1.feed_forward.intermediate_dense.bias")]
    [InlineData("w2v_encoder.proj.bias", "aux.bias")]
    [InlineData("w2v_model.feature_extractor.conv_layers.0.2.bias", "feature_extractor.conv_layers.0.layer_norm.bias")]
    public void Fairseq_fine_tuned_prefixes_are_stripped(string key, string expected) =>
        FairseqKeyMap.Instance.Map(key).Result.Should().Be(expected);

    [Theory]
    [InlineData("encoder.layers.0.attention.rotary_emb.inv_freq")]
    [InlineData("wav2vec2.adapter.layers.0.conv.weight")]
    [InlineData("something_else")]
    public void Unknown_hugging_face_keys_are_unknown(string key) =>
        HuggingFaceKeyMap.Instance.Map(key).Unknown.Should().BeTrue();

    [Fact]
    public void Unknown_fairseq_keys_are_unknown() =>
        FairseqKeyMap.Instance.Map("encoder.layers.0.self_attn.grep_linear.weight").Unknown.Should().BeTrue();

    [Theory]
    [InlineData("[(512,10,5)] + [(512,3,2)] * 4 + [(512,2,2)] * 2", "512,10,5|512,3,2|512,3,2|512,3,2|512,3,2|512,2,2|512,2,2")]
    [InlineData("[(24, 10, 5)] + [(24, 3, 2)] * 4 + [(24,2,2)] + [(24,2,2)]", "24,10,5|24,3,2|24,3,2|24,3,2|24,3,2|24,2,2|24,2,2")]
    [InlineData("[(512, 10, 5), (512, 3, 2), ] + 2 * [(256,2,2)]", "512,10,5|512,3,2|256,2,2|256,2,2")]
    public void Conv_feature_layers_parse_without_eval(string text, string expected) =>
        string.Join("|", FairseqConvLayers.Parse(text).Select(c => $"{c.OutChannels},{c.KernelSize},{c.Stride}")).Should().Be(expected);

    [Theory]
    [InlineData("__import__('os').system('x')")]
    [InlineData("[(512,10,5)] + ")]
    [InlineData("[(512,10)]")]
    [InlineData("[]")]
    public void Conv_feature_layers_refuse_anything_else(string text) =>
        FluentActions.Invoking(() => FairseqConvLayers.Parse(text)).Should().Throw<System.FormatException>();

    [Fact]
    public void Each_format_has_its_table_and_the_listing_shows_the_examples()
    {
        FormatKeyMaps.For(CheckpointFormat.HuggingFace).Should().BeSameAs(HuggingFaceKeyMap.Instance);
        FormatKeyMaps.For(CheckpointFormat.Fairseq).Should().BeSameAs(FairseqKeyMap.Instance);
        FormatKeyMaps.For(CheckpointFormat.Torchaudio).Should().BeSameAs(TorchaudioKeyMap.Instance);
        FormatKeyMaps.For(CheckpointFormat.DpHubert).Should().BeSameAs(TorchaudioKeyMap.Instance);
        HuggingFaceKeyMap.Instance.ToString().Should().Contain("lm_head.weight -> aux.weight");
    }
}
