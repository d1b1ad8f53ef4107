using System;
using System.IO;
using DpHubert.Extraction;
using DpHubert.Tests.Cli;
using DpHubert.Tests.Support;
using FluentAssertions;
using Xunit;
using static DpHubert.Tests.Checkpoints.PublishedLayoutTests;
using static TorchSharp.torch;

namespace DpHubert.Tests.Extraction;

/// <summary>so-vits-svc's units by name against what its vencoder classes compute (Fixtures/published).</summary>
public class SpeechUnitsTests
{
    // float32 CPU against the original model's float32 outputs: summation order only.
    private const double Atol = 1e-5;

    [Theory]
    [InlineData("contentvec_500", "vec256l9", "units_vec256l9")]
    [InlineData("contentvec_500", "vec768l12", "units_vec768l12")]
    [InlineData("hubert_soft", "hubertsoft", "units_hubertsoft")]
    [InlineData("wavlm_base_plus", "wavlmbase+", "single_output")]
    public void Named_units_match_so_vits_svc(string caseName, string units, string expectedRole)
    {
        using var encoder = SpeechEncoder.Load(File(caseName, "checkpoint"), new SpeechEncoderOptions { Units = SpeechUnits.Parse(units) });
        encoder.Units!.Name.Should().Be(units);
        var features = encoder.ExtractFile(File(caseName, "input_wav"), encoder.Units.Layers);
        using var actual = tensor(features.Data).reshape(features.Shape);
        using var expected = TestFiles.LoadFloat(File(caseName, expectedRole));
        TensorAssert.Close(actual, expected, Atol, $"{units} of {caseName}");
    }

    [Fact]
    public void HuBERT_Soft_units_are_computed_on_the_padded_waveform()
    {
        // 40 zero samples at each end change the frame count: 16000 samples give 49 frames, 16080 give 50.
        SpeechUnits.HubertSoft.Pad(new float[16000]).Length.Should().Be(16080);
        using var encoder = SpeechEncoder.Load(File("hubert_soft", "checkpoint"), new SpeechEncoderOptions { Projection = true });
        encoder.ExtractFile(File("hubert_soft", "input_wav")).Frames.Should().Be(49);
        using var soft = SpeechEncoder.Load(File("hubert_soft", "checkpoint"), new SpeechEncoderOptions { Units = SpeechUnits.HubertSoft });
        soft.ExtractFile(File("hubert_soft", "input_wav"), soft.Units!.Layers).Frames.Should().Be(50);
    }

    [Fact]
    public void Projection_of_a_chosen_layer_and_its_absence_are_explicit()
    {
        using (var encoder = SpeechEncoder.Load(File("contentvec_500", "checkpoint"), new SpeechEncoderOptions { Projection = true }))
        {
            encoder.ProjectsOutputs.Should().BeTrue();
            var all = encoder.ExtractFile(File("contentvec_500", "input_wav"), LayerSelection.AllLayers);
            all.Shape.Should().Equal(13, 49, 16);
        }
        var act = () => SpeechEncoder.Load(File("wavlm_base_plus", "checkpoint"), new SpeechEncoderOptions { Units = SpeechUnits.ContentVec256L9 });
        act.Should().Throw<ArgumentException>().WithMessage("SpeechEncoderOptions.Units vec256l9 needs the checkpoint's optional projection*WavLM-Base+.pt has none.");
        FluentActions.Invoking(() => SpeechUnits.Parse("vec256l12")).Should().Throw<ArgumentException>()
            .WithMessage("SpeechEncoderOptions.Units must be one of vec256l9, vec768l12, hubertsoft, wavlmbase+; got 'vec256l12'.*");
    }

    [Fact]
    public void Cli_units_and_projection()
    {
        string dir = TestFiles.TempDir();
        string npy = Path.Combine(dir, "units.npy");
        string ckpt = File("contentvec_500", "checkpoint"), wav = File("contentvec_500", "input_wav");
        var r = ConsoleRunner.Run("extract", "--checkpoint", ckpt, "--input", wav, "--output", npy, "--units", "vec256l9");
        r.ExitCode.Should().Be(0, r.ToString());
        using (var ours = TestFiles.LoadFloat(npy))
        using (var expected = TestFiles.LoadFloat(File("contentvec_500", "units_vec256l9")))
            TensorAssert.Close(ours, expected, Atol, "--units vec256l9");

        r = ConsoleRunner.Run("extract", "--checkpoint", ckpt, "--input", wav, "--output", npy, "--layer", "9", "--projection");
        r.ExitCode.Should().Be(0, r.ToString());
        using (var ours = TestFiles.LoadFloat(npy))
        using (var expected = TestFiles.LoadFloat(File("contentvec_500", "units_vec256l9")))
            TensorAssert.Close(ours, expected, Atol, "--layer 9 --projection");

        r = ConsoleRunner.Run("extract", "--checkpoint", ckpt, "--input", wav, "--output", npy, "--units", "vec256l9", "--layer", "3");
        r.ExitCode.Should().Be(2, r.ToString());
        r.StdErr.Should().Contain("leave out --layer");
        r = ConsoleRunner.Run("extract", "--checkpoint", ckpt, "--input", wav, "--output", npy, "--units", "soft");
        r.ExitCode.Should().Be(2, r.ToString());
        r.StdErr.Should().Contain("--units must be one of vec256l9, vec768l12, hubertsoft, wavlmbase+");
        Directory.Delete(dir, true);
    }
}
