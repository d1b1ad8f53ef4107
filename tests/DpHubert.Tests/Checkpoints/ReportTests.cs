using System.IO;
using System.Linq;
using DpHubert.Checkpoints;
using DpHubert.PyTorch;
using DpHubert.Tests.Support;
using FluentAssertions;
using TorchSharp;
using Xunit;
using static DpHubert.Tests.Checkpoints.FormatTestSupport;
using static DpHubert.Tests.Support.ModelAssert;
using static TorchSharp.torch;

namespace DpHubert.Tests.Checkpoints;

/// <summary>What the load report says (the CLI prints it with --verbose), and odd inputs.</summary>
public class ReportTests
{
    [Fact]
    public void Report_lists_mapped_dropped_and_defaulted_keys()
    {
        var (model, report) = CheckpointLoader.LoadModel(TestFiles.DpHubertCase("large_pre_ln", "hf"));
        using var _m = model;
        var text = report.ToString();
        text.Should().Contain("as HuggingFace");
        text.Should().Contain("mapped   lm_head.weight -> aux.weight");
        text.Should().Contain("dropped  wav2vec2.masked_spec_embed");
        text.Should().Contain("default  feature_extractor.dummy_weight");
        report.Mapped.Should().HaveCount(model.state_dict().Count - 1);
    }

    [Fact]
    public void Fairseq_report_names_label_embs_and_final_proj()
    {
        var (model, report) = CheckpointLoader.LoadModel(CaseFile("contentvec_legacy", "checkpoint"));
        using var _m = model;
        var text = report.ToString();
        text.Should().Contain("dropped  label_embs_concat").And.Contain("dropped  mask_emb").And.Contain("dropped  final_proj.weight");
        text.Should().Contain("final_proj").And.Contain("Extras");
        text.Should().Contain("default  feature_extractor.dummy_weight");
    }

    [Fact]
    public void Hugging_face_weights_without_their_config_are_a_clear_error()
    {
        var dir = CopyFolder(TestFiles.DpHubertCase("hubert_post_ln", "hf"), "config.json", "model.safetensors");
        var act = () => CheckpointLoader.Read(Path.Combine(dir, "pytorch_model.bin"));
        act.Should().Throw<CheckpointFormatException>().WithMessage("*Hugging Face weights without their config.json*");
    }

    [Fact]
    public void Half_precision_weights_are_converted_to_float32_and_reported()
    {
        var dir = CopyFolder(TestFiles.DpHubertCase("hubert_post_ln", "hf"), "model.safetensors", "pytorch_model.bin");
        var st = LoadSafeTensors(Path.Combine(TestFiles.DpHubertCase("hubert_post_ln", "hf"), "model.safetensors"));
        var half = st.Select(kv => new System.Collections.Generic.KeyValuePair<string, Tensor>(kv.Key, kv.Value.to(float16))).ToList();
        SafeTensors.Save(Path.Combine(dir, "model.safetensors"), half);
        Dispose(st);
        Dispose(half);
        using var ckpt = CheckpointLoader.Read(dir);
        ckpt.StateDict.Values.Should().OnlyContain(t => t.dtype == ScalarType.Float32);
        ckpt.Report.Notes.Should().Contain(n => n.Contains("converted to float32"));
    }

    [Fact]
    public void A_folder_without_weights_says_what_it_found()
    {
        var dir = CopyFolder(TestFiles.DpHubertCase("hubert_post_ln", "hf"), "model.safetensors", "pytorch_model.bin");
        File.WriteAllText(Path.Combine(dir, "tf_model.h5"), "");
        var act = () => CheckpointLoader.Read(dir);
        act.Should().Throw<CheckpointFormatException>().WithMessage("*tf_model.h5*not supported*");
    }
}
