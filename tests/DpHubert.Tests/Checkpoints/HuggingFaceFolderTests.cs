using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using DpHubert.Checkpoints;
using DpHubert.Config;
using DpHubert.PyTorch;
using DpHubert.Tests.Support;
using FluentAssertions;
using TorchSharp;
using Xunit;
using static DpHubert.Tests.Checkpoints.FormatTestSupport;
using static DpHubert.Tests.Support.ModelAssert;
using static TorchSharp.torch;

namespace DpHubert.Tests.Checkpoints;

/// <summary>Hugging Face model folders (config.json + safetensors / .bin / shards) against the DPHuBERT case outputs.</summary>
public class HuggingFaceFolderTests
{
    public static TheoryData<string, string> CasesAndWeights()
    {
        var d = new TheoryData<string, string>();
        foreach (var c in new[] { "hubert_post_ln", "large_pre_ln", "wavlm_pre_ln" })
        foreach (var w in new[] { "model.safetensors", "pytorch_model.bin" })
            d.Add(c, w);
        return d;
    }

    private static string HfFolder(string name) => TestFiles.DpHubertCase(name, "hf");

    /// <summary>
    /// Loads an HF folder and builds its model with the case checkpoint's <c>dummy_weight</c>. The fixture cases
    /// give <c>dummy_weight</c> random values (a DPHuBERT-only parameter), which a Hugging Face layout cannot carry,
    /// so the HF model alone (dummy_weight = ones) computes a different function than the case; with the case's
    /// dummy_weight put back it must reproduce the case outputs exactly.
    /// </summary>
    internal static (Wav2Vec2Model Model, LoadReport Report) LoadWithCaseDummyWeight(string path, string caseName)
    {
        using var ckpt = CheckpointLoader.Read(path);
        ckpt.StateDict.ContainsKey(StateDictLoader.DummyWeightKey).Should().BeFalse();
        using (var pth = CheckpointLoader.Read(TestFiles.DpHubertCase(caseName, "checkpoint.pth")))
            ckpt.StateDict[StateDictLoader.DummyWeightKey] = pth.StateDict[StateDictLoader.DummyWeightKey].clone();
        return (CheckpointLoader.BuildModel(ckpt), ckpt.Report);
    }

    [Theory]
    [MemberData(nameof(CasesAndWeights))]
    public void Folder_reproduces_the_case_output(string name, string weights)
    {
        var other = weights == "model.safetensors" ? "pytorch_model.bin" : "model.safetensors";
        var dir = CopyFolder(HfFolder(name), other);
        var (model, report) = LoadWithCaseDummyWeight(dir, name);
        using var _m = model;
        report.Format.Should().Be(CheckpointFormat.HuggingFace);
        report.Notes.Should().Contain(n => n.Contains(weights));
        report.Dropped.Should().ContainSingle(k => k.EndsWith("masked_spec_embed"));
        AssertSingle(model, TestFiles.DpHubertCase(name, "input.wav"), TestFiles.DpHubertCase(name, "single_output.npy"), $"{name} from {weights}");
    }

    [Theory]
    [MemberData(nameof(CasesAndWeights))]
    public void Folder_alone_reproduces_the_original_output_for_the_folder(string name, string weights)
    {
        // hf/single_output.npy is the original model's output with dummy_weight = ones: what the folder alone means.
        var other = weights == "model.safetensors" ? "pytorch_model.bin" : "model.safetensors";
        var dir = CopyFolder(HfFolder(name), other);
        var (hf, _) = CheckpointLoader.LoadModel(dir);
        using var _h = hf;
        AssertSingle(hf, TestFiles.DpHubertCase(name, "input.wav"), Path.Combine(HfFolder(name), "single_output.npy"), $"{name} HF folder ({weights}) vs the original");
    }

    [Theory]
    [MemberData(nameof(CasesAndWeights))]
    public void Folder_alone_equals_the_case_checkpoint_with_dummy_weight_ones(string name, string weights)
    {
        var other = weights == "model.safetensors" ? "pytorch_model.bin" : "model.safetensors";
        var dir = CopyFolder(HfFolder(name), other);
        var (hf, report) = CheckpointLoader.LoadModel(dir);
        using var _h = hf;
        report.Defaulted.Should().Equal(StateDictLoader.DummyWeightKey);
        using var pth = CheckpointLoader.Read(TestFiles.DpHubertCase(name, "checkpoint.pth"));
        pth.StateDict.Remove(StateDictLoader.DummyWeightKey)!.Dispose();
        using var reference = CheckpointLoader.BuildModel(pth);
        using var a = Single(hf, TestFiles.DpHubertCase(name, "input.wav"));
        using var b = Single(reference, TestFiles.DpHubertCase(name, "input.wav"));
        TensorAssert.Close(a, b, 1e-5, $"{name} HF ({weights}) vs the case checkpoint with dummy_weight = ones");
    }

    [Theory]
    [InlineData("hubert_post_ln", ModelKind.Hubert)]
    [InlineData("wavlm_pre_ln", ModelKind.WavLM)]
    public void The_model_kind_is_the_declared_model_type(string name, ModelKind kind)
    {
        using var hf = CheckpointLoader.Read(HfFolder(name));
        hf.Kind.Should().Be(kind);
        using var pth = CheckpointLoader.Read(TestFiles.DpHubertCase(name, "checkpoint.pth"));
        // A DPHuBERT config declares no family: WavLM by its head fields, else the wav2vec 2.0 architecture.
        pth.Kind.Should().Be(kind == ModelKind.WavLM ? ModelKind.WavLM : ModelKind.Wav2Vec2);
    }

    [Theory]
    [InlineData("hubert_post_ln")]
    [InlineData("large_pre_ln")]
    [InlineData("wavlm_pre_ln")]
    public void Config_matches_the_dphubert_checkpoint(string name)
    {
        using var hf = CheckpointLoader.Read(HfFolder(name));
        using var pth = CheckpointLoader.Read(TestFiles.DpHubertCase(name, "checkpoint.pth"));
        // Structure and normalization agree; dropout values are HF's own.
        var strip = (Wav2Vec2Config c) => c with
        {
            EncoderProjectionDropout = 0, EncoderAttentionDropout = 0, EncoderFfIntermDropout = 0, EncoderDropout = 0, EncoderLayerDrop = 0,
        };
        // The family is HF's own too: the DPHuBERT dictionary declares none.
        strip(hf.Config).Should().Be(strip(pth.Config) with { Kind = hf.Config.Kind });
    }

    [Fact]
    public void Batch_from_the_folder_matches_the_case()
    {
        var (model, _) = LoadWithCaseDummyWeight(HfFolder("wavlm_pre_ln"), "wavlm_pre_ln");
        using var _m = model;
        string F(string f) => TestFiles.DpHubertCase("wavlm_pre_ln", f);
        AssertBatch(model, F("batch_inputs.npy"), F("batch_lengths.npy"), F("batch_output.npy"), F("batch_output_lengths.npy"), "wavlm_pre_ln hf");
    }

    [Fact]
    public void The_ctc_head_becomes_aux()
    {
        using var ckpt = CheckpointLoader.Read(HfFolder("large_pre_ln"));
        ckpt.Config.AuxNumOut.Should().Be(7);
        ckpt.Config.NormalizeWaveform.Should().BeTrue("preprocessor_config.json do_normalize");
        ckpt.Report.Mapped.Should().Contain(("lm_head.weight", "aux.weight"));
        ckpt.Report.Mapped.Should().Contain(("wav2vec2.encoder.layers.0.attention.q_proj.weight", "encoder.transformer.layers.0.attention.q_proj.weight"));
        ckpt.Report.Dropped.Should().Equal("wav2vec2.masked_spec_embed");
    }

    [Fact]
    public void Sharded_safetensors_with_an_index_load()
    {
        var dir = CopyFolder(HfFolder("hubert_post_ln"), "model.safetensors", "pytorch_model.bin");
        var tensors = LoadSafeTensors(Path.Combine(HfFolder("hubert_post_ln"), "model.safetensors"));
        try
        {
            int half = tensors.Count / 2;
            SafeTensors.Save(Path.Combine(dir, "model-00001-of-00002.safetensors"), tensors.Take(half));
            SafeTensors.Save(Path.Combine(dir, "model-00002-of-00002.safetensors"), tensors.Skip(half));
            var index = new
            {
                metadata = new { total_size = 0 },
                weight_map = tensors.Select((kv, i) => (kv.Key, File: i < half ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors"))
                    .ToDictionary(x => x.Key, x => x.File),
            };
            File.WriteAllText(Path.Combine(dir, "model.safetensors.index.json"), JsonSerializer.Serialize(index));
        }
        finally
        {
            Dispose(tensors);
        }
        var (model, report) = LoadWithCaseDummyWeight(dir, "hubert_post_ln");
        using var _m = model;
        report.Notes.Should().Contain(n => n.Contains("model.safetensors.index.json"));
        AssertSingle(model, TestFiles.DpHubertCase("hubert_post_ln", "input.wav"), TestFiles.DpHubertCase("hubert_post_ln", "single_output.npy"), "sharded");
    }

    [Fact]
    public void A_shard_missing_a_key_of_the_index_is_an_error_naming_it()
    {
        var dir = CopyFolder(HfFolder("hubert_post_ln"), "model.safetensors", "pytorch_model.bin");
        var tensors = LoadSafeTensors(Path.Combine(HfFolder("hubert_post_ln"), "model.safetensors"));
        try
        {
            SafeTensors.Save(Path.Combine(dir, "a.safetensors"), tensors.Skip(1));
            File.WriteAllText(Path.Combine(dir, "model.safetensors.index.json"),
                JsonSerializer.Serialize(new { weight_map = tensors.ToDictionary(kv => kv.Key, _ => "a.safetensors") }));
        }
        finally
        {
            Dispose(tensors);
        }
        var act = () => CheckpointLoader.Read(dir);
        act.Should().Throw<CheckpointFormatException>().Which.Key.Should().Be("feature_extractor.conv_layers.0.layer_norm.weight");
    }

    [Fact]
    public void A_head_class_file_with_prefix_and_lm_head_loads_as_ctc()
    {
        // HubertForCTC layout: every base key under "hubert.", plus lm_head.
        var dir = CopyFolder(HfFolder("hubert_post_ln"), "model.safetensors", "pytorch_model.bin");
        var tensors = LoadSafeTensors(Path.Combine(HfFolder("hubert_post_ln"), "model.safetensors"));
        using var w = randn(5, 48, generator: new Generator(7));
        using var b = randn(5, generator: new Generator(8));
        var renamed = tensors.Select(kv => new KeyValuePair<string, Tensor>("hubert." + kv.Key, kv.Value))
            .Append(new("lm_head.weight", w)).Append(new("lm_head.bias", b)).ToList();
        SafeTensors.Save(Path.Combine(dir, "model.safetensors"), renamed);
        Dispose(tensors);
        EditJson(Path.Combine(dir, "config.json"), d =>
        {
            d["architectures"] = Json(new[] { "HubertForCTC" });
            d["vocab_size"] = Json(5);
        });

        var (model, report) = LoadWithCaseDummyWeight(dir, "hubert_post_ln");
        using var _m = model;
        model.Config.AuxNumOut.Should().Be(5);
        report.Dropped.Should().Equal("hubert.masked_spec_embed");
        using var logits = Single(model, TestFiles.DpHubertCase("hubert_post_ln", "input.wav"));
        using var features = TestFiles.LoadFloat(TestFiles.DpHubertCase("hubert_post_ln", "single_output.npy"));
        using var expected = nn.functional.linear(features, w, b);
        TensorAssert.Close(logits, expected, Atol, "lm_head logits");
    }

    [Fact]
    public void Ctc_architecture_without_lm_head_is_an_error()
    {
        var dir = CopyFolder(HfFolder("hubert_post_ln"), "pytorch_model.bin");
        EditJson(Path.Combine(dir, "config.json"), d => d["architectures"] = Json(new[] { "HubertForCTC" }));
        var act = () => CheckpointLoader.Read(dir);
        act.Should().Throw<CheckpointFormatException>().Which.Key.Should().Be("lm_head.weight");
    }

    [Fact]
    public void Both_weight_norm_spellings_and_a_fused_weight_give_the_same_model()
    {
        // The fixture's safetensors has parametrizations.weight.original0/1 and its .bin weight_g/weight_v.
        var st = LoadSafeTensors(Path.Combine(HfFolder("hubert_post_ln"), "model.safetensors"));
        st.Select(kv => kv.Key).Should().Contain("encoder.pos_conv_embed.conv.parametrizations.weight.original0");
        var root = (PyDict)TorchCheckpointReader.Load(Path.Combine(HfFolder("hubert_post_ln"), "pytorch_model.bin")).Root.Value!;
        root.Keys.Should().Contain("encoder.pos_conv_embed.conv.weight_g");
        DpHubert.Tests.PyTorch.CheckpointTestHelpers.DisposeTensors(root);

        // Fused weight = g * v / ||v|| (norm over dims 0, 1 per tap).
        var dir = CopyFolder(HfFolder("hubert_post_ln"), "model.safetensors", "pytorch_model.bin");
        var g = st.Single(kv => kv.Key.EndsWith("original0")).Value;
        var v = st.Single(kv => kv.Key.EndsWith("original1")).Value;
        using var fused = g * v / v.pow(2).sum(new long[] { 0, 1 }, keepdim: true).sqrt();
        var edited = st.Where(kv => !kv.Key.Contains("parametrizations"))
            .Append(new("encoder.pos_conv_embed.conv.weight", fused)).ToList();
        SafeTensors.Save(Path.Combine(dir, "model.safetensors"), edited);
        Dispose(st);

        var (model, report) = LoadWithCaseDummyWeight(dir, "hubert_post_ln");
        using var _m = model;
        report.Notes.Should().Contain(n => n.Contains("fused weight"));
        AssertSingle(model, TestFiles.DpHubertCase("hubert_post_ln", "input.wav"), TestFiles.DpHubertCase("hubert_post_ln", "single_output.npy"), "fused pos-conv weight");
    }

    [Fact]
    public void Feature_projection_without_layer_norm_gets_an_identity_one()
    {
        var dir = CopyFolder(HfFolder("hubert_post_ln"), "model.safetensors", "pytorch_model.bin");
        var st = LoadSafeTensors(Path.Combine(HfFolder("hubert_post_ln"), "model.safetensors"));
        SafeTensors.Save(Path.Combine(dir, "model.safetensors"), st.Where(kv => !kv.Key.StartsWith("feature_projection.layer_norm")));
        Dispose(st);
        EditJson(Path.Combine(dir, "config.json"), d => d["feat_proj_layer_norm"] = Json(false));

        var (model, report) = CheckpointLoader.LoadModel(dir);
        using var _m = model;
        report.Notes.Should().Contain(n => n.Contains("identity"));
        var sd = model.state_dict();
        sd["encoder.feature_projection.layer_norm.weight"].eq(1).all().item<bool>().Should().BeTrue();
        sd["encoder.feature_projection.layer_norm.bias"].eq(0).all().item<bool>().Should().BeTrue();
    }

    [Fact]
    public void An_unknown_key_is_an_error_naming_it()
    {
        var dir = CopyFolder(HfFolder("hubert_post_ln"), "model.safetensors", "pytorch_model.bin");
        var st = LoadSafeTensors(Path.Combine(HfFolder("hubert_post_ln"), "model.safetensors"));
        using var extra = zeros(3);
        SafeTensors.Save(Path.Combine(dir, "model.safetensors"), st.Append(new("encoder.mystery.weight", extra)));
        Dispose(st);
        var act = () => CheckpointLoader.Read(dir);
        var e = act.Should().Throw<CheckpointFormatException>().Which;
        e.Key.Should().Be("encoder.mystery.weight");
        e.Message.Should().Contain("Unexpected key").And.Contain(dir);
    }

    [Fact]
    public void Unsupported_model_type_and_missing_config_are_clear_errors()
    {
        var dir = CopyFolder(HfFolder("hubert_post_ln"), "pytorch_model.bin");
        EditJson(Path.Combine(dir, "config.json"), d => d["model_type"] = Json("data2vec-audio"));
        FluentActions.Invoking(() => CheckpointLoader.Read(dir)).Should().Throw<CheckpointFormatException>()
            .WithMessage("*data2vec-audio*wav2vec2, hubert, wavlm*");
        File.Delete(Path.Combine(dir, "config.json"));
        FluentActions.Invoking(() => CheckpointLoader.Read(dir)).Should().Throw<CheckpointFormatException>()
            .WithMessage("*no config.json*");
    }

    [Fact]
    public void Normalize_waveform_falls_back_to_the_layer_norm_extractor_without_a_preprocessor_config()
    {
        var dir = CopyFolder(HfFolder("wavlm_pre_ln"), "pytorch_model.bin", "preprocessor_config.json");
        using var ckpt = CheckpointLoader.Read(dir);
        ckpt.Config.NormalizeWaveform.Should().BeTrue();
        ckpt.Config.EncoderNumBuckets.Should().Be(32);
        ckpt.Config.EncoderMaxDistance.Should().Be(80);
        ckpt.Report.Notes.Should().Contain(n => n.Contains("feat_extract_norm"));
    }

    [Fact]
    public void A_weight_file_given_directly_uses_the_config_beside_it()
    {
        var (model, report) = CheckpointLoader.LoadModel(Path.Combine(HfFolder("hubert_post_ln"), "pytorch_model.bin"));
        using var _m = model;
        report.Format.Should().Be(CheckpointFormat.HuggingFace);
        var (model2, report2) = LoadWithCaseDummyWeight(Path.Combine(HfFolder("hubert_post_ln"), "model.safetensors"), "hubert_post_ln");
        using var _m2 = model2;
        report2.Format.Should().Be(CheckpointFormat.HuggingFace);
        AssertSingle(model2, TestFiles.DpHubertCase("hubert_post_ln", "input.wav"), TestFiles.DpHubertCase("hubert_post_ln", "single_output.npy"), "file");
    }
}
