using System.IO;
using System.Linq;
using System.Text.Json;
using DpHubert.Checkpoints;
using DpHubert.Config;
using DpHubert.Tests.Support;
using FluentAssertions;
using TorchSharp;
using Xunit;
using static DpHubert.Tests.Support.ModelAssert;
using static TorchSharp.torch;

namespace DpHubert.Tests.Formats;

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
        using var wave = Wave(File(caseName, "input_wav"));
        using var _g = inference_mode();
        var layers = model.ExtractFeatures(wave, null).Layers;
        using var expected = TestFiles.LoadFloat(File(caseName, "single_layers"));
        try
        {
            layers.Count.Should().Be((int)expected.shape[0] + 1, "ours lead with the feature-projection output");
            for (var i = 1; i < layers.Count; i++)
                TensorAssert.Close(layers[i][0], expected[i - 1], Atol, $"{caseName} layer {i}");
        }
        finally
        {
            foreach (var l in layers) l.Dispose();
        }
    }

    [Theory]
    [MemberData(nameof(FairseqReleased))]
    public void The_report_says_the_label_dictionary_was_ignored(string caseName)
    {
        using var ckpt = CheckpointLoader.Read(File(caseName, "checkpoint"));
        ckpt.Report.Ignored.Should().ContainSingle().Which.Should()
            .StartWith("fairseq.data.dictionary.Dictionary at task_state.dictionaries[0] (not part of the model");
        ckpt.Report.ToString().Should().Contain("  ignored  fairseq.data.dictionary.Dictionary at task_state.dictionaries[0]");
        ckpt.Config.Should().Be(Wav2Vec2Config.FromJson(System.IO.File.ReadAllText(File(caseName, "config"))));
    }

    [Fact]
    public void ContentVec_float16_weights_are_read_as_float32_and_final_proj_matches()
    {
        using var ckpt = CheckpointLoader.Read(File("contentvec_500", "checkpoint"));
        ckpt.Report.Notes.Should().Contain(n => n.Contains("converted to float32"));
        ckpt.StateDict.Values.Should().OnlyContain(t => t.dtype == ScalarType.Float32);
        using var model = CheckpointLoader.BuildModel(ckpt);
        using var proj = FinalProjection.FromCheckpoint(ckpt)!;
        using var features = Single(model, File("contentvec_500", "input_wav"));
        using var projected = proj.Apply(features);
        using var expected = TestFiles.LoadFloat(File("contentvec_500", "final_proj_output"));
        TensorAssert.Close(projected, expected, Atol, "final_proj on float16-stored weights");
    }
}
