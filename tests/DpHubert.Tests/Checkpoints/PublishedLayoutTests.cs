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
using static DpHubert.Tests.Support.ModelAssert;
using static TorchSharp.torch;

namespace DpHubert.Tests.Checkpoints;

/// <summary>
/// Checkpoints laid out exactly as the published files (Fixtures/published, tools/reference/make_published_layouts.py),
/// against the original implementation's outputs on the same weights.
/// </summary>
public class PublishedLayoutTests
{
    // float32 on CPU: the reference is torchaudio's own model; 1e-5 absolute on O(1) outputs leaves room for summation order only.
    private const double Atol = 1e-5;

    public static string File(string caseName, string role)
    {
        using var doc = JsonDocument.Parse(System.IO.File.ReadAllText(TestFiles.Fixture("published", "manifest.json")));
        var c = doc.RootElement.GetProperty("cases").EnumerateArray().First(x => x.GetProperty("name").GetString() == caseName);
        return Path.GetFullPath(Path.Combine(TestFiles.Fixture("published"), c.GetProperty("files").GetProperty(role).GetString()!));
    }

    public static TheoryData<string> FairseqReleased => new() { "hubert_base_ls960", "contentvec_500" };

    [Theory]
    [MemberData(nameof(FairseqReleased))]
    public void Released_fairseq_hubert_files_with_a_label_dictionary_load_and_match(string caseName)
    {
        var (model, report) = CheckpointLoader.LoadModel(File(caseName, "checkpoint"));
        using var _m = model;
        report.Format.Should().Be(CheckpointFormat.Fairseq);
        AssertSingle(model, File(caseName, "input_wav"), File(caseName, "single_output"), caseName, Atol);
        AssertLayers(model, caseName, Atol);
    }

    [Theory]
    [MemberData(nameof(FairseqReleased))]
    public void The_report_says_the_label_dictionary_was_ignored(string caseName)
    {
        using var ckpt = CheckpointLoader.Read(File(caseName, "checkpoint"));
        ckpt.Report.Ignored.Should().ContainSingle().Which.Should()
            .StartWith("fairseq.data.dictionary.Dictionary at task_state.dictionaries[0] (not part of the model");
        ckpt.Report.ToString().Should().Contain("  ignored  fairseq.data.dictionary.Dictionary at task_state.dictionaries[0]");
        // Both are HuBERT (ContentVec included); the config JSON, a dictionary, declares no family.
        ckpt.Config.Should().Be(Wav2Vec2Config.FromJson(System.IO.File.ReadAllText(File(caseName, "config"))) with { Kind = ModelKind.Hubert });
    }

    [Fact]
    public void ContentVec_float16_weights_are_read_as_float32_and_final_proj_matches()
    {
        using var ckpt = CheckpointLoader.Read(File("contentvec_500", "checkpoint"));
        ckpt.Report.Notes.Should().Contain(n => n.Contains("converted to float32"));
        ckpt.StateDict.Values.Should().OnlyContain(t => t.dtype == ScalarType.Float32);
        using var model = CheckpointLoader.BuildModel(ckpt);
        AssertProjected(model, ckpt, File("contentvec_500", "input_wav"), File("contentvec_500", "final_proj_output"), "final_proj on float16-stored weights", Atol);
    }

    private static void AssertLayers(Wav2Vec2Model model, string caseName, double atol)
    {
        using var wave = Wave(File(caseName, "input_wav"));
        using var _g = inference_mode();
        var layers = model.ExtractFeatures(wave, null).Layers;
        using var expected = TestFiles.LoadFloat(File(caseName, "single_layers"));
        try
        {
            layers.Count.Should().Be((int)expected.shape[0] + 1, "ours lead with the feature-projection output");
            for (var i = 1; i < layers.Count; i++)
                TensorAssert.Close(layers[i][0], expected[i - 1], atol, $"{caseName} layer {i}");
        }
        finally
        {
            foreach (var l in layers) l.Dispose();
        }
    }

    [Fact]
    public void Unilm_WavLM_Base_plus_loads_and_matches_the_original()
    {
        using var ckpt = CheckpointLoader.Read(File("wavlm_base_plus", "checkpoint"));
        ckpt.Report.Format.Should().Be(CheckpointFormat.UnilmWavLm);
        ckpt.Config.Should().Be(Wav2Vec2Config.FromJson(System.IO.File.ReadAllText(File("wavlm_base_plus", "config"))));
        ckpt.Report.Dropped.Should().Equal("mask_emb");
        ckpt.Report.Mapped.Should().Contain(("encoder.layers.0.self_attn.relative_attention_bias.weight", "encoder.transformer.layers.0.attention.rel_attn_embed.weight"))
            .And.Contain(("encoder.layers.5.self_attn.grep_a", "encoder.transformer.layers.5.attention.gru_rel_pos_const"));
        using var model = CheckpointLoader.BuildModel(ckpt);
        AssertSingle(model, File("wavlm_base_plus", "input_wav"), File("wavlm_base_plus", "single_output"), "unilm WavLM", Atol);
        AssertLayers(model, "wavlm_base_plus", Atol);
    }

    [Fact]
    public void Torchaudio_2_WavLM_state_dict_with_fused_attention_loads_with_its_config()
    {
        var options = new CheckpointReadOptions { ConfigPath = File("torchaudio2_wavlm", "config") };
        using var ckpt = CheckpointLoader.Read(File("torchaudio2_wavlm", "state_dict"), options);
        ckpt.Report.Format.Should().Be(CheckpointFormat.Torchaudio);
        ckpt.Report.Notes.Should().Contain(n => n.Contains("fused attention projections") && n.Contains("split into q_proj, k_proj, v_proj"));
        ckpt.StateDict.Keys.Should().Contain("encoder.transformer.layers.1.attention.v_proj.bias").And.NotContain(k => k.Contains("in_proj"));
        using var model = CheckpointLoader.BuildModel(ckpt);
        AssertSingle(model, File("torchaudio2_wavlm", "input_wav"), File("torchaudio2_wavlm", "single_output"), "torchaudio 2 WavLM", Atol);
        AssertLayers(model, "torchaudio2_wavlm", Atol);
    }

    [Fact]
    public void HuBERT_Soft_loads_from_its_bare_module_prefixed_state_dict_and_matches_the_original()
    {
        using var ckpt = CheckpointLoader.Read(File("hubert_soft", "checkpoint"));
        ckpt.Report.Format.Should().Be(CheckpointFormat.HubertSoft);
        ckpt.Report.Dropped.Should().BeEquivalentTo("module.proj.weight", "module.proj.bias", "module.masked_spec_embed", "module.label_embedding.weight");
        ckpt.Config.EncoderNumLayers.Should().Be(2);
        ckpt.Config.EncoderLayers.Select(l => l.NumHeads).Should().Equal(1, 1);
        ckpt.Config.ExtractorConvLayerConfig.Select(c => (c.KernelSize, c.Stride)).Should().Equal((10, 5), (3, 2), (3, 2), (3, 2), (3, 2), (2, 2), (2, 2));
        using var model = CheckpointLoader.BuildModel(ckpt);
        // nn.TransformerEncoderLayer's fused fast path sums in another order than ours: 1e-5 absolute still holds on O(1) outputs.
        AssertSingle(model, File("hubert_soft", "input_wav"), File("hubert_soft", "single_output"), "HuBERT-Soft", Atol);
        AssertLayers(model, "hubert_soft", Atol);
        ckpt.Extras[CheckpointLoader.FinalProjKey]["weight"].shape.Should().Equal(256, 64);
        AssertProjected(model, ckpt, File("hubert_soft", "input_wav"), File("hubert_soft", "final_proj_output"), "HuBERT-Soft proj", Atol);
    }

    [Fact]
    public void DPHuBERT_Lightning_checkpoint_reads_the_student_with_the_original_config()
    {
        var ckptPath = File("dphubert_distill", "checkpoint");
        var act = () => CheckpointLoader.Read(ckptPath);
        act.Should().Throw<CheckpointFormatException>().WithMessage("*no config*CheckpointReadOptions.ConfigPath*");

        using var student = CheckpointLoader.Read(File("dphubert_distill", "student_original"));
        using var ckpt = CheckpointLoader.Read(ckptPath, new CheckpointReadOptions { ConfigPath = File("dphubert_distill", "student_original") });
        ckpt.Report.Format.Should().Be(CheckpointFormat.DpHubertLightning);
        ckpt.Config.Should().Be(student.Config);
        ckpt.StateDict.Keys.Should().Equal(student.StateDict.Keys);
        foreach (var k in student.StateDict.Keys)
            ckpt.StateDict[k].eq(student.StateDict[k]).all().item<bool>().Should().BeTrue(k);
        ckpt.Extras[CheckpointLoader.DistillLinearProjsKey].Keys.Should().BeEquivalentTo("0.weight", "0.bias", "1.weight", "1.bias", "2.weight", "2.bias");
        ckpt.Report.Dropped.Should().Contain("lambda1").And.Contain("lambda2").And.Contain(k => k.StartsWith("teacher_model."));
        ckpt.Report.Notes.Should().Contain(n => n.Contains("ignored top-level entry 'optimizer_states'"));
        using var model = CheckpointLoader.BuildModel(ckpt);
        AssertSingle(model, File("dphubert_distill", "input_wav"), File("dphubert_distill", "unpruned_single_output"), "Lightning student", ModelAssert.Atol);
    }

    private static string EditedCopy(string source, string name, System.Action<PyDict> edit)
    {
        var path = Path.Combine(TestFiles.TempDir(), name);
        var root = (PyDict)TorchCheckpointReader.Load(source).Root.Value!;
        try
        {
            edit(root);
            TorchCheckpointWriter.Save(path, root);
        }
        finally
        {
            DpHubert.Tests.PyTorch.CheckpointTestHelpers.DisposeTensors(root);
        }
        return path;
    }

    [Fact]
    public void Unilm_WavLM_without_gated_relative_bias_is_refused_naming_the_field()
    {
        var path = EditedCopy(File("wavlm_base_plus", "checkpoint"), "WavLM-no-gru.pt", root => ((PyDict)root["cfg"]!)["gru_rel_pos"] = false);
        var e = FluentActions.Invoking(() => CheckpointLoader.Read(path)).Should().Throw<CheckpointFormatException>().Which;
        e.Key.Should().Be("gru_rel_pos");
        e.Message.Should().Contain(path);
    }

    [Fact]
    public void HuBERT_Soft_with_a_key_the_original_does_not_have_names_it()
    {
        var path = EditedCopy(File("hubert_soft", "checkpoint"), "hubert-soft-extra.pt", root => root["module.encoder.layers.0.self_attn.bias_k"] = zeros(1, 1, 64));
        var e = FluentActions.Invoking(() => CheckpointLoader.Read(path)).Should().Throw<CheckpointFormatException>().Which;
        e.Key.Should().Be("module.encoder.layers.0.self_attn.bias_k");
        e.Message.Should().Contain("HuBERT-Soft key map");
    }
}
