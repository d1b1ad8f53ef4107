using System.IO;
using System.Linq;
using DpHubert.Checkpoints;
using DpHubert.Modules;
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

/// <summary>fairseq checkpoints and bare torchaudio state_dicts against torchaudio's reference outputs.</summary>
public class FairseqAndTorchaudioTests
{
    public static TheoryData<string> FairseqCases => new() { "fairseq_hubert", "fairseq_wav2vec2", "contentvec_legacy", "fairseq_hubert_ctc" };

    private static Wav2Vec2Config ExpectedConfig(string caseName) =>
        Wav2Vec2Config.FromJson(File.ReadAllText(CaseFile(caseName, "config")));

    [Theory]
    [MemberData(nameof(FairseqCases))]
    public void Fairseq_single_output_matches_torchaudio(string caseName)
    {
        var (model, report) = CheckpointLoader.LoadModel(CaseFile(caseName, "checkpoint"));
        using var _m = model;
        report.Format.Should().Be(CheckpointFormat.Fairseq);
        report.Defaulted.Should().Equal(StateDictLoader.DummyWeightKey);
        AssertSingle(model, CaseFile(caseName, "input_wav"), CaseFile(caseName, "single_output"), caseName);
    }

    [Theory]
    [MemberData(nameof(FairseqCases))]
    public void Fairseq_batch_matches_torchaudio_on_valid_frames(string caseName)
    {
        var (model, _) = CheckpointLoader.LoadModel(CaseFile(caseName, "checkpoint"));
        using var _m = model;
        AssertBatch(model, CaseFile(caseName, "batch_inputs"), CaseFile(caseName, "batch_lengths"),
            CaseFile(caseName, "batch_output"), CaseFile(caseName, "batch_output_lengths"), caseName);
    }

    [Theory]
    [MemberData(nameof(FairseqCases))]
    public void Fairseq_config_is_derived_as_documented(string caseName)
    {
        using var ckpt = CheckpointLoader.Read(CaseFile(caseName, "checkpoint"));
        // config.json is torchaudio's dictionary, which declares no family; fairseq's _name does.
        var family = caseName.Contains("hubert", System.StringComparison.Ordinal) || caseName.Contains("contentvec", System.StringComparison.Ordinal)
            ? ModelKind.Hubert : ModelKind.Wav2Vec2;
        ckpt.Config.Should().Be(ExpectedConfig(caseName) with { Kind = family });
    }

    [Theory]
    [MemberData(nameof(FairseqCases))]
    public void Fairseq_mapping_equals_torchaudios_import(string caseName)
    {
        // torchaudio_state_dict.pth is import_fairseq's exact output (label_embs_concat included, which we drop).
        using var ckpt = CheckpointLoader.Read(CaseFile(caseName, "checkpoint"));
        var root = (PyDict)TorchCheckpointReader.Load(CaseFile(caseName, "torchaudio_state_dict")).Root.Value!;
        try
        {
            var expectedKeys = root.Keys.Cast<string>().Where(k => k != "label_embs_concat").ToList();
            ckpt.StateDict.Keys.Should().BeEquivalentTo(expectedKeys);
            foreach (var k in expectedKeys)
            {
                ckpt.StateDict[k].shape.Should().Equal(((Tensor)root[k]!).shape, k);
                ckpt.StateDict[k].eq((Tensor)root[k]!).all().item<bool>().Should().BeTrue(k);
            }
        }
        finally
        {
            DpHubert.Tests.PyTorch.CheckpointTestHelpers.DisposeTensors(root);
        }
    }

    [Fact]
    public void Fairseq_reports_dropped_training_keys()
    {
        using (var hubert = CheckpointLoader.Read(CaseFile("fairseq_hubert", "checkpoint")))
            hubert.Report.Dropped.Should().BeEquivalentTo("mask_emb", "label_embs_concat", "final_proj.weight", "final_proj.bias");
        using (var w2v = CheckpointLoader.Read(CaseFile("fairseq_wav2vec2", "checkpoint")))
        {
            w2v.Report.Dropped.Should().BeEquivalentTo("mask_emb", "quantizer.vars", "quantizer.weight_proj.weight", "quantizer.weight_proj.bias",
                "project_q.weight", "project_q.bias", "final_proj.weight", "final_proj.bias");
            w2v.Config.NormalizeWaveform.Should().BeTrue();
            w2v.Report.Notes.Should().Contain(n => n.Contains("task.normalize") || n.Contains("model.normalize"));
        }
        using (var ctc = CheckpointLoader.Read(CaseFile("fairseq_hubert_ctc", "checkpoint")))
        {
            ctc.Report.Dropped.Should().BeEquivalentTo("w2v_encoder.w2v_model.mask_emb", "w2v_encoder.w2v_model.label_embs_concat");
            ctc.Report.Mapped.Should().Contain(("w2v_encoder.proj.weight", "aux.weight"));
            ctc.Config.AuxNumOut.Should().Be(5);
            ctc.Extras.Should().NotContainKey(CheckpointLoader.FinalProjKey);
        }
    }

    [Fact]
    public void Contentvec_final_proj_is_kept_and_reproduces_the_projection()
    {
        using var ckpt = CheckpointLoader.Read(CaseFile("contentvec_legacy", "checkpoint"));
        ckpt.Extras.Should().ContainKey(CheckpointLoader.FinalProjKey);
        using var proj = CheckpointLoader.BuildProjection(ckpt)!;
        proj.InFeatures.Should().Be(32);
        proj.OutFeatures.Should().Be(16);
        using var model = CheckpointLoader.BuildModel(ckpt);
        AssertProjected(model, ckpt, CaseFile("contentvec_legacy", "input_wav"), CaseFile("contentvec_legacy", "final_proj_output"), "contentvec final_proj", Atol);
    }

    [Fact]
    public void A_checkpoint_without_final_proj_has_no_projection()
    {
        using var ckpt = CheckpointLoader.Read(CaseFile("fairseq_hubert_ctc", "checkpoint"));
        CheckpointLoader.BuildProjection(ckpt).Should().BeNull();
    }

    [Theory]
    [InlineData("ta_hubert_base_like", "config")]
    [InlineData("ta_hubert_base_like", "torchaudio_config")]
    [InlineData("ta_large_like", "config")]
    [InlineData("ta_large_like", "torchaudio_config")]
    public void Torchaudio_state_dict_with_a_config_file_matches(string caseName, string configRole)
    {
        var options = new CheckpointReadOptions { ConfigPath = CaseFile(caseName, configRole) };
        var (model, report) = CheckpointLoader.LoadModel(CaseFile(caseName, "state_dict"), options: options);
        using var _m = model;
        report.Format.Should().Be(CheckpointFormat.Torchaudio);
        report.Defaulted.Should().Equal(StateDictLoader.DummyWeightKey);
        model.Config.Should().Be(ExpectedConfig(caseName));
        AssertSingle(model, CaseFile(caseName, "input_wav"), CaseFile(caseName, "single_output"), caseName);
        AssertBatch(model, CaseFile(caseName, "batch_inputs"), CaseFile(caseName, "batch_lengths"),
            CaseFile(caseName, "batch_output"), CaseFile(caseName, "batch_output_lengths"), caseName);
    }

    [Fact]
    public void Torchaudio_state_dict_without_arch_or_config_lists_the_presets()
    {
        var act = () => CheckpointLoader.Read(CaseFile("ta_hubert_base_like", "state_dict"));
        act.Should().Throw<CheckpointFormatException>()
            .WithMessage("*CheckpointReadOptions.Arch*hubert_base*wavlm_large*CheckpointReadOptions.ConfigPath*")
            .Which.FilePath.Should().Be(CaseFile("ta_hubert_base_like", "state_dict"));
    }

    [Fact]
    public void Torchaudio_state_dict_with_an_unknown_arch_lists_the_presets()
    {
        var act = () => CheckpointLoader.Read(CaseFile("ta_hubert_base_like", "state_dict"), new CheckpointReadOptions { Arch = "hubert_tiny" });
        act.Should().Throw<CheckpointFormatException>().WithMessage("*hubert_tiny*hubert_base*");
    }

    [Fact]
    public void Torchaudio_state_dict_with_the_wrong_arch_names_the_mismatches()
    {
        var act = () => CheckpointLoader.LoadModel(CaseFile("ta_large_like", "state_dict"), options: new CheckpointReadOptions { Arch = "hubert_large" });
        var e = act.Should().Throw<StateDictMismatchException>().Which;
        e.Mismatched.Should().Contain(m => m.Key == "encoder.feature_projection.projection.weight");
        e.Message.Should().Contain("shape mismatch");
    }

    [Fact]
    public void Torchaudio_state_dict_with_a_preset_takes_aux_from_the_weights()
    {
        using var ckpt = CheckpointLoader.Read(CaseFile("ta_large_like", "state_dict"), new CheckpointReadOptions { Arch = "hubert_large" });
        ckpt.Config.AuxNumOut.Should().Be(5);
        ckpt.Report.Notes.Should().Contain(n => n.Contains("preset 'hubert_large'"));
    }

    [Theory]
    [InlineData("evil_os_system.pt", "posix.system")] // os.system pickles as posix.system on Linux
    [InlineData("evil_eval_legacy.pt", "builtins.eval")]
    public void A_pickle_with_a_foreign_global_is_refused_by_name(string file, string global)
    {
        var path = TestFiles.Fixture("checkpoints", file);
        var act = () => CheckpointLoader.Read(path);
        var e = act.Should().Throw<UnsafePickleException>().Which;
        e.Global.Should().Be(global);
        e.Message.Should().Contain(global).And.Contain(path);
    }

    [Fact]
    public void Fairseq_with_an_unexpected_key_names_it()
    {
        var dir = TestFiles.TempDir();
        var path = Path.Combine(dir, "bad.pt");
        var root = (PyDict)TorchCheckpointReader.Load(CaseFile("fairseq_hubert", "checkpoint")).Root.Value!;
        try
        {
            ((PyDict)root["model"]!)["encoder.layers.0.self_attn.grep_linear.weight"] = zeros(2);
            TorchCheckpointWriter.Save(path, root);
        }
        finally
        {
            DpHubert.Tests.PyTorch.CheckpointTestHelpers.DisposeTensors(root);
        }
        var act = () => CheckpointLoader.Read(path);
        var e = act.Should().Throw<CheckpointFormatException>().Which;
        e.Key.Should().Be("encoder.layers.0.self_attn.grep_linear.weight");
        e.Message.Should().Contain("Unexpected key").And.Contain(path);
    }
}
