using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text.Json;
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

/// <summary>CheckpointConverter / CheckpointWriter round trips.</summary>
public class ConvertTests
{
    private static string HfFolder(string name) => TestFiles.DpHubertCase(name, "hf");

    private static void AssertSameOutputs(string a, string b, string wav, string because)
    {
        var (ma, _) = CheckpointLoader.LoadModel(a);
        using var _a = ma;
        var (mb, _) = CheckpointLoader.LoadModel(b);
        using var _b = mb;
        // The written dictionary declares no family: WavLM by its head fields, else wav2vec 2.0.
        mb.Config.Should().Be(ma.Config with { Kind = ma.Config.Kind == ModelKind.WavLM ? ModelKind.WavLM : ModelKind.Wav2Vec2 });
        using var oa = Single(ma, wav);
        using var ob = Single(mb, wav);
        TensorAssert.Close(ob, oa, 0, because);
    }

    [Theory]
    [InlineData("hubert_post_ln", ".pth")]
    [InlineData("large_pre_ln", ".pth")]
    [InlineData("wavlm_pre_ln", ".pth")]
    [InlineData("hubert_post_ln", ".safetensors")]
    [InlineData("wavlm_pre_ln", ".safetensors")]
    public void Hugging_face_folder_converts_and_gives_the_same_outputs(string name, string ext)
    {
        var output = Path.Combine(TestFiles.TempDir(), "model" + ext);
        var report = CheckpointConverter.Convert(HfFolder(name), output);
        report.Format.Should().Be(CheckpointFormat.HuggingFace);
        File.Exists(output).Should().BeTrue();
        if (ext == ".safetensors") File.Exists(Path.ChangeExtension(output, ".json")).Should().BeTrue();
        Directory.GetFiles(Path.GetDirectoryName(output)!).Should().NotContain(f => f.EndsWith(".tmp"));
        AssertSameOutputs(HfFolder(name), output, TestFiles.DpHubertCase(name, "input.wav"), $"{name} → {ext}");
        using var back = CheckpointLoader.Read(output);
        back.Report.Format.Should().Be(ext == ".pth" ? CheckpointFormat.DpHubert : CheckpointFormat.DpHubertSafeTensors);
        back.StateDict.ContainsKey(StateDictLoader.DummyWeightKey).Should().BeTrue("the written state_dict is the model's");
    }

    [Fact]
    public void Dphubert_checkpoint_round_trips_through_both_outputs_with_the_case_outputs()
    {
        var dir = TestFiles.TempDir();
        var src = TestFiles.DpHubertCase("pruned_uneven", "checkpoint.pth");
        foreach (var ext in new[] { ".pth", ".safetensors" })
        {
            var output = Path.Combine(dir, "pruned" + ext);
            CheckpointConverter.Convert(src, output);
            var (model, _) = CheckpointLoader.LoadModel(output);
            using var _m = model;
            AssertSingle(model, TestFiles.DpHubertCase("pruned_uneven", "input.wav"), TestFiles.DpHubertCase("pruned_uneven", "single_output.npy"), ext);
        }
    }

    [Fact]
    public void Contentvec_keeps_final_proj_through_conversion()
    {
        var dir = TestFiles.TempDir();
        foreach (var ext in new[] { ".pth", ".safetensors" })
        {
            var output = Path.Combine(dir, "contentvec" + ext);
            CheckpointConverter.Convert(CaseFile("contentvec_legacy", "checkpoint"), output);
            using var ckpt = CheckpointLoader.Read(output);
            using var proj = CheckpointLoader.BuildProjection(ckpt);
            proj.Should().NotBeNull(ext);
            using var model = CheckpointLoader.BuildModel(ckpt);
            using var features = Single(model, CaseFile("contentvec_legacy", "input_wav"));
            using var projected = proj!.Apply(features);
            using var expected = TestFiles.LoadFloat(CaseFile("contentvec_legacy", "final_proj_output"));
            TensorAssert.Close(projected, expected, Atol, $"contentvec final_proj via {ext}");
        }
    }

    [Fact]
    public void Torchaudio_and_fairseq_convert_with_their_options()
    {
        var dir = TestFiles.TempDir();
        var output = Path.Combine(dir, "ta.safetensors");
        CheckpointConverter.Convert(CaseFile("ta_large_like", "state_dict"), output,
            new CheckpointReadOptions { ConfigPath = CaseFile("ta_large_like", "config") });
        var (model, _) = CheckpointLoader.LoadModel(output);
        using (model)
            AssertSingle(model, CaseFile("ta_large_like", "input_wav"), CaseFile("ta_large_like", "single_output"), "ta_large_like via safetensors");

        var pth = Path.Combine(dir, "ctc.pth");
        CheckpointConverter.Convert(CaseFile("fairseq_hubert_ctc", "checkpoint"), pth);
        var (ctc, _) = CheckpointLoader.LoadModel(pth);
        using (ctc)
            AssertSingle(ctc, CaseFile("fairseq_hubert_ctc", "input_wav"), CaseFile("fairseq_hubert_ctc", "single_output"), "hubert_ctc via .pth");
    }

    [Fact]
    public void Safetensors_config_is_found_beside_it_or_in_its_metadata()
    {
        var dir = TestFiles.TempDir();
        var output = Path.Combine(dir, "m.safetensors");
        CheckpointConverter.Convert(HfFolder("hubert_post_ln"), output);
        var json = Path.ChangeExtension(output, ".json");
        Wav2Vec2Config.FromJson(File.ReadAllText(json)).EncoderEmbedDim.Should().Be(48);
        File.Delete(json);
        using var ckpt = CheckpointLoader.Read(output);
        ckpt.Report.Notes.Should().Contain(n => n.Contains("metadata"));
        ckpt.Config.EncoderEmbedDim.Should().Be(48);
    }

    [Fact]
    public void Unsupported_output_extension_is_refused()
    {
        var act = () => CheckpointConverter.Convert(HfFolder("hubert_post_ln"), Path.Combine(TestFiles.TempDir(), "x.onnx"));
        act.Should().Throw<ArgumentException>().WithMessage("*.onnx*");
    }

    [Fact]
    public void SaveDpHubert_writes_dphuberts_layout()
    {
        using var ckpt = CheckpointLoader.Read(TestFiles.DpHubertCase("hubert_post_ln", "checkpoint.pth"));
        using var projs = new StateDict { ["0.weight"] = ones(2, 2) };
        var path = Path.Combine(TestFiles.TempDir(), "out.pth");
        CheckpointWriter.SaveDpHubert(path, ckpt.Config, ckpt.StateDict, projs);
        var root = (PyDict)TorchCheckpointReader.Load(path).Root.Value!;
        try
        {
            root.Keys.Cast<string>().Should().Equal("state_dict", "config", "distill_linear_projs");
            ((PyDict)root["state_dict"]!).PythonType.Should().Be(PyDict.OrderedDict);
            ((PyDict)root["state_dict"]!).Keys.Cast<string>().Should().Equal(ckpt.StateDict.Keys);
            var config = (PyDict)root["config"]!;
            config["extractor_conv_layer_config"].Should().BeAssignableTo<System.Collections.IList>()
                .Which[0].Should().BeOfType<object?[]>("conv layers are pickled as tuples");
            ((PyDict)root["distill_linear_projs"]!).Keys.Cast<string>().Should().Equal("0.weight");
        }
        finally
        {
            DpHubert.Tests.PyTorch.CheckpointTestHelpers.DisposeTensors(root);
        }
        using var back = CheckpointLoader.Read(path);
        back.Config.Should().Be(ckpt.Config);
        back.Extras.Should().ContainKey(CheckpointLoader.DistillLinearProjsKey);
    }

    [PythonFact]
    [Trait("Category", "Python")]
    public void A_pth_written_by_SaveDpHubert_loads_with_torch_load()
    {
        var dir = TestFiles.TempDir();
        var path = Path.Combine(dir, "from_hf.pth");
        CheckpointConverter.Convert(HfFolder("wavlm_pre_ln"), path);
        using var ckpt = CheckpointLoader.Read(path);
        var keysFile = Path.Combine(dir, "keys.txt");
        File.WriteAllLines(keysFile, ckpt.StateDict.Keys);

        var stdout = PythonScript.Run(Path.Combine("tools", "checkpoints", "check_dphubert_pth.py"), path, keysFile);
        using var doc = JsonDocument.Parse(stdout.Trim().Split('\n').Last());
        doc.RootElement.GetProperty("keys").GetInt32().Should().Be(ckpt.StateDict.Count);
        doc.RootElement.GetProperty("config_keys").EnumerateArray().Select(x => x.GetString()).Should().Contain("encoder_remaining_heads");
        doc.RootElement.GetProperty("conv")[0].EnumerateArray().Select(x => x.GetInt32()).Should().Equal(32, 10, 5);
        using var sum = ckpt.StateDict.Values.Select(t => t.to(float64).sum()).Aggregate((x, y) => x + y);
        doc.RootElement.GetProperty("sum").GetDouble().Should().BeApproximately(sum.item<double>(), 1e-6 * Math.Max(1, Math.Abs(sum.item<double>())));
    }
}
