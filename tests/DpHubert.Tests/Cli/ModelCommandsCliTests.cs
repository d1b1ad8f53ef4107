using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using DpHubert.Checkpoints;
using DpHubert.Config;
using DpHubert.Tests.Support;
using FluentAssertions;
using Xunit;
using static TorchSharp.torch;

namespace DpHubert.Tests.Cli;

/// <summary>The built console's <c>prune</c>, <c>info</c>, <c>convert</c> and <c>demo</c> commands, run as a process.</summary>
public class ModelCommandsCliTests
{
    [Theory]
    [InlineData("prune_hubert")]
    [InlineData("prune_wavlm")]
    public void Prune_then_extract_gives_the_original_pruned_outputs(string name)
    {
        string dir = TestFiles.TempDir();
        string pruned = Path.Combine(dir, "pruned.pth");
        var r = ConsoleRunner.Run("prune", "--checkpoint", TestFiles.DpHubertCase(name, "checkpoint.pth"), "--output", pruned);
        r.ExitCode.Should().Be(0, r.ToString());
        r.StdOut.Should().Contain("parameters: ");

        // The written file is the original's pruned model: same config, same outputs.
        using (var ckpt = CheckpointLoader.Read(pruned))
        using (var expected = CheckpointLoader.Read(TestFiles.DpHubertCase(name, "pruned", "checkpoint.pth")))
            ckpt.Config.Should().Be(expected.Config);
        string npy = Path.Combine(dir, "out.npy");
        r = ConsoleRunner.Run("extract", "--checkpoint", pruned, "--input", TestFiles.DpHubertCase(name, "input.wav"), "--output", npy);
        r.ExitCode.Should().Be(0, r.ToString());
        using var ours = TestFiles.LoadFloat(npy);
        using var reference = TestFiles.LoadFloat(TestFiles.DpHubertCase(name, "pruned", "single_output.npy"));
        TensorAssert.Close(ours, reference, 1e-4, $"{name} pruned via CLI");
        Directory.Delete(dir, true);
    }

    [Fact]
    public void Prune_refuses_a_checkpoint_without_masks_and_leaves_no_output()
    {
        string dir = TestFiles.TempDir();
        string output = Path.Combine(dir, "x.pth");
        var r = ConsoleRunner.Run("prune", "--checkpoint", TestFiles.DpHubertCase("hubert_post_ln", "checkpoint.pth"), "--output", output);
        r.ExitCode.Should().Be(2, r.ToString());
        r.StdErr.Should().Contain("no HardConcrete masks");
        File.Exists(output).Should().BeFalse();
        Directory.GetFiles(dir).Should().BeEmpty("no temporary file may be left behind");
    }

    [Fact]
    public void Info_prints_architecture_layers_and_both_parameter_counts()
    {
        var r = ConsoleRunner.Run("info", "--checkpoint", TestFiles.DpHubertCase("prune_wavlm", "checkpoint.pth"));
        r.ExitCode.Should().Be(0, r.ToString());
        r.StdOut.Should().Contain("architecture: wavlm").And.Contain("layer 2: ").And.Contain("parameters: 85686")
            .And.Contain("get_num_params: 48434.");
        r = ConsoleRunner.Run("info", "--checkpoint", TestFiles.DpHubertCase("pruned_uneven", "checkpoint.pth"), "--json");
        r.ExitCode.Should().Be(0, r.ToString());
        using var doc = System.Text.Json.JsonDocument.Parse(r.StdOut);
        doc.RootElement.GetProperty("parameters").GetInt64().Should().Be(62191);
        doc.RootElement.GetProperty("layers").GetArrayLength().Should().Be(4);
    }

    public static TheoryData<string[], string> InfoKinds() => new()
    {
        { new[] { "--checkpoint", TestFiles.DpHubertCase("hubert_post_ln", "checkpoint.pth") }, "wav2vec2" },
        { new[] { "--checkpoint", TestFiles.DpHubertCase("hubert_post_ln", "hf") }, "hubert" },
        { new[] { "--checkpoint", TestFiles.DpHubertCase("wavlm_pre_ln", "hf") }, "wavlm" },
        { new[] { "--checkpoint", TestFiles.Fixture("reference", "fairseq_wav2vec2", "checkpoint.pt") }, "wav2vec2" },
        { new[] { "--checkpoint", TestFiles.Fixture("published", "contentvec_500", "checkpoint_best_legacy_500.pt") }, "hubert" },
        { new[] { "--checkpoint", TestFiles.Fixture("published", "wavlm_base_plus", "WavLM-Base+.pt") }, "wavlm" },
        { new[] { "--checkpoint", TestFiles.Fixture("published", "hubert_soft", "hubert-soft-0d54a1f4.pt") }, "hubert" },
        { new[] { "--checkpoint", TestFiles.Fixture("published", "dphubert_distill", "epoch=2-step=2.ckpt"),
            "--config", TestFiles.DpHubertCase("prune_hubert", "checkpoint.pth") }, "wav2vec2" },
        { new[] { "--checkpoint", TestFiles.Fixture("published", "torchaudio2_wavlm", "wavlm_state_dict.pth"),
            "--config", TestFiles.Fixture("published", "torchaudio2_wavlm", "config.json") }, "wavlm" },
    };

    [Theory]
    [MemberData(nameof(InfoKinds))]
    public void Info_prints_the_family_the_checkpoint_declares(string[] source, string kind)
    {
        var r = ConsoleRunner.Run(new[] { "info" }.Concat(source).Append("--json").ToArray());
        r.ExitCode.Should().Be(0, r.ToString());
        using var doc = System.Text.Json.JsonDocument.Parse(r.StdOut);
        doc.RootElement.GetProperty("architecture").GetString().Should().Be(kind);
    }

    [Fact]
    public void Convert_hf_folder_to_pth_and_safetensors_then_info_and_extract_them()
    {
        string dir = TestFiles.TempDir();
        string hf = TestFiles.DpHubertCase("hubert_post_ln", "hf");
        foreach (var output in new[] { Path.Combine(dir, "model.pth"), Path.Combine(dir, "model.safetensors") })
        {
            var r = ConsoleRunner.Run("convert", "--checkpoint", hf, "--output", output, "--verbose");
            r.ExitCode.Should().Be(0, r.ToString());
            r.StdErr.Should().Contain("dropped  masked_spec_embed");
            r = ConsoleRunner.Run("info", "--checkpoint", output);
            r.ExitCode.Should().Be(0, r.ToString());
            r.StdOut.Should().Contain("parameters: 84704");
        }
        string a = Path.Combine(dir, "a.npy"), b = Path.Combine(dir, "b.npy");
        ConsoleRunner.Run("extract", "--checkpoint", Path.Combine(dir, "model.pth"), "--input", TestFiles.DpHubertCase("hubert_post_ln", "input.wav"), "--output", a).ExitCode.Should().Be(0);
        ConsoleRunner.Run("extract", "--checkpoint", hf, "--input", TestFiles.DpHubertCase("hubert_post_ln", "input.wav"), "--output", b).ExitCode.Should().Be(0);
        using var ta = TestFiles.LoadFloat(a);
        using var tb = TestFiles.LoadFloat(b);
        TensorAssert.Close(ta, tb, 0.0, "converted == original folder");
        Directory.Delete(dir, true);
    }

    [Fact]
    public void Convert_of_a_bare_state_dict_needs_arch_or_config()
    {
        string dir = TestFiles.TempDir();
        string sd = TestFiles.Fixture("reference", "ta_hubert_base_like", "state_dict.pth");
        var r = ConsoleRunner.Run("convert", "--checkpoint", sd, "--output", Path.Combine(dir, "x.pth"));
        r.ExitCode.Should().Be(2, r.ToString());
        r.StdErr.Should().Contain("hubert_base");
        r = ConsoleRunner.Run("convert", "--checkpoint", sd, "--config", TestFiles.Fixture("reference", "ta_hubert_base_like", "config.json"),
            "--output", Path.Combine(dir, "x.pth"));
        r.ExitCode.Should().Be(0, r.ToString());
        Directory.Delete(dir, true);
    }

    [Fact]
    public void Demo_runs_the_embedded_default()
    {
        string dir = TestFiles.TempDir();
        string output = Path.Combine(dir, "demo.npy");
        var r = ConsoleRunner.Run("demo", "--output", output);
        r.ExitCode.Should().Be(0, r.ToString());
        r.StdOut.Should().Contain("features:   [49, 48]");
        using var features = TestFiles.LoadFloat(output);
        using var expected = TestFiles.LoadFloat(TestFiles.DpHubertCase("hubert_post_ln", "single_output.npy"));
        TensorAssert.Close(features, expected, 1e-4, "the demo is the hubert_post_ln case");
        Directory.Delete(dir, true);
    }
}
