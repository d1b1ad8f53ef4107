using System.IO;
using DpHubert.Checkpoints;
using DpHubert.PyTorch;
using DpHubert.Tests.Support;
using FluentAssertions;
using Xunit;

namespace DpHubert.Tests.Cli;

/// <summary><c>--arch</c> / <c>--config</c> on <c>extract</c> and <c>prune</c> (as on <c>info</c> and <c>convert</c>), and
/// what <c>--verbose</c> says about objects that are not part of the model.</summary>
public class CheckpointHintCliTests
{
    private static readonly string BareStateDict = TestFiles.Fixture("reference", "ta_hubert_base_like", "state_dict.pth");

    [Fact]
    public void Extract_of_a_bare_state_dict_takes_config_or_arch_and_matches_torchaudio()
    {
        string dir = TestFiles.TempDir();
        string wav = TestFiles.Fixture("reference", "ta_hubert_base_like", "input.wav");
        string npy = Path.Combine(dir, "out.npy");
        var r = ConsoleRunner.Run("extract", "--checkpoint", BareStateDict, "--input", wav, "--output", npy);
        r.ExitCode.Should().Be(2, r.ToString());
        r.StdErr.Should().Contain("--arch").And.Contain("--config");
        File.Exists(npy).Should().BeFalse();

        r = ConsoleRunner.Run("extract", "--checkpoint", BareStateDict, "--config",
            TestFiles.Fixture("reference", "ta_hubert_base_like", "config.json"), "--input", wav, "--output", npy);
        r.ExitCode.Should().Be(0, r.ToString());
        using var ours = TestFiles.LoadFloat(npy);
        using var expected = TestFiles.LoadFloat(TestFiles.Fixture("reference", "ta_hubert_base_like", "single_output.npy"));
        TensorAssert.Close(ours, expected, ModelAssert.Atol, "bare state_dict + --config via extract");

        // A preset whose shapes do not fit is a clear error naming a key, not a crash.
        r = ConsoleRunner.Run("extract", "--checkpoint", BareStateDict, "--arch", "hubert_base", "--input", wav, "--output", npy);
        r.ExitCode.Should().Be(2, r.ToString());
        r.StdErr.Should().Contain("error:").And.Contain(BareStateDict);
        Directory.Delete(dir, true);
    }

    [Fact]
    public void Prune_of_a_bare_state_dict_takes_its_config()
    {
        string dir = TestFiles.TempDir();
        string bare = Path.Combine(dir, "student_state_dict.pth");
        string configJson = Path.Combine(dir, "config.json");
        using (var source = CheckpointLoader.Read(TestFiles.DpHubertCase("prune_hubert", "checkpoint.pth")))
        {
            TorchCheckpointWriter.Save(bare, ToPyDict(source.StateDict));
            File.WriteAllText(configJson, source.Config.ToJson());
        }
        string pruned = Path.Combine(dir, "pruned.pth");
        var r = ConsoleRunner.Run("prune", "--checkpoint", bare, "--output", pruned);
        r.ExitCode.Should().Be(2, r.ToString());
        r.StdErr.Should().Contain("--config");
        r = ConsoleRunner.Run("prune", "--checkpoint", bare, "--config", configJson, "--output", pruned);
        r.ExitCode.Should().Be(0, r.ToString());
        using (var ours = CheckpointLoader.Read(pruned))
        using (var expected = CheckpointLoader.Read(TestFiles.DpHubertCase("prune_hubert", "pruned", "checkpoint.pth")))
            ours.Config.Should().Be(expected.Config);
        Directory.Delete(dir, true);
    }

    [Fact]
    public void Prune_of_a_DPHuBERT_Lightning_checkpoint_gives_what_prune_py_gives()
    {
        string dir = TestFiles.TempDir();
        string pruned = Path.Combine(dir, "pruned_hubert_base.pth");
        string ckpt = Checkpoints.PublishedLayoutTests.File("dphubert_distill", "checkpoint");
        var r = ConsoleRunner.Run("prune", "--checkpoint", ckpt, "--output", pruned);
        r.ExitCode.Should().Be(2, r.ToString());
        r.StdErr.Should().Contain("--config").And.Contain(ckpt);
        r = ConsoleRunner.Run("prune", "--checkpoint", ckpt, "--config", Checkpoints.PublishedLayoutTests.File("dphubert_distill", "student_original"),
            "--output", pruned, "--verbose");
        r.ExitCode.Should().Be(0, r.ToString());
        r.StdErr.Should().Contain("DpHubertLightning");
        using (var ours = CheckpointLoader.Read(pruned))
        using (var expected = CheckpointLoader.Read(Checkpoints.PublishedLayoutTests.File("dphubert_distill", "pruned_reference")))
        {
            ours.Config.Should().Be(expected.Config);
            ours.Extras[CheckpointLoader.DistillLinearProjsKey].Count.Should().Be(6, "prune.py keeps the distillation heads");
        }
        string npy = Path.Combine(dir, "out.npy");
        r = ConsoleRunner.Run("extract", "--checkpoint", pruned, "--input", Checkpoints.PublishedLayoutTests.File("dphubert_distill", "input_wav"), "--output", npy);
        r.ExitCode.Should().Be(0, r.ToString());
        using var features = TestFiles.LoadFloat(npy);
        using var reference = TestFiles.LoadFloat(Checkpoints.PublishedLayoutTests.File("dphubert_distill", "pruned_single_output"));
        TensorAssert.Close(features, reference, ModelAssert.Atol, "pruned from the Lightning checkpoint");
        Directory.Delete(dir, true);
    }

    [Fact]
    public void Verbose_extract_lists_the_label_dictionary_of_a_released_hubert_file_as_ignored()
    {
        string dir = TestFiles.TempDir();
        string npy = Path.Combine(dir, "out.npy");
        var r = ConsoleRunner.Run("extract", "--checkpoint", Checkpoints.PublishedLayoutTests.File("hubert_base_ls960", "checkpoint"),
            "--input", Checkpoints.PublishedLayoutTests.File("hubert_base_ls960", "input_wav"), "--output", npy, "--verbose");
        r.ExitCode.Should().Be(0, r.ToString());
        r.StdErr.Should().Contain("ignored  fairseq.data.dictionary.Dictionary at task_state.dictionaries[0]");
        Directory.Delete(dir, true);
    }

    private static PyDict ToPyDict(StateDict sd)
    {
        var d = new PyDict(PyDict.OrderedDict);
        foreach (var (k, v) in sd) d[k] = v;
        return d;
    }
}
