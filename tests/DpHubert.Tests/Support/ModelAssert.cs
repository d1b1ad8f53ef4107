using System.Linq;
using DpHubert.Audio;
using FluentAssertions;
using TorchSharp;
using static TorchSharp.torch;

namespace DpHubert.Tests.Support;

/// <summary>Runs a model on fixture inputs and compares with reference outputs (1e-4 max abs unless stated: the
/// fixtures README calls more than that on these O(1) outputs a bug).</summary>
internal static class ModelAssert
{
    /// <summary>The default tolerance, max abs.</summary>
    public const double Atol = 1e-4;

    public static Tensor Wave(string wavPath) => tensor(WavReader.Read(wavPath).Samples).unsqueeze(0);

    /// <summary>model(wave)[0][0].</summary>
    public static Tensor Single(Wav2Vec2Model model, string wavPath)
    {
        using var wave = Wave(wavPath);
        using var _g = inference_mode();
        var (output, _) = model.forward(wave, null);
        using (output) return output[0].clone();
    }

    public static void AssertSingle(Wav2Vec2Model model, string wavPath, string expectedNpy, string because, double atol = Atol)
    {
        using var actual = Single(model, wavPath);
        using var expected = TestFiles.LoadFloat(expectedNpy);
        TensorAssert.Close(actual, expected, atol, because);
    }

    /// <summary>The checkpoint's optional projection applied to model(wave)[0][0] against <paramref name="expectedNpy"/>.</summary>
    public static void AssertProjected(Wav2Vec2Model model, DpHubert.Checkpoints.ModelCheckpoint checkpoint, string wavPath, string expectedNpy,
        string because, double atol = Atol)
    {
        using var proj = DpHubert.Checkpoints.CheckpointLoader.BuildProjection(checkpoint)
            ?? throw new Xunit.Sdk.XunitException($"{because}: the checkpoint has no projection");
        using var features = Single(model, wavPath);
        using var projected = proj.Apply(features);
        using var expected = TestFiles.LoadFloat(expectedNpy);
        TensorAssert.Close(projected, expected, atol, because);
    }

    public static void AssertBatch(Wav2Vec2Model model, string inputs, string lengths, string expectedOut, string expectedLengths, string because, double atol = Atol)
    {
        using var waves = TestFiles.LoadFloat(inputs);
        using var lens = tensor(TestFiles.LoadLongs(lengths));
        var outLens = TestFiles.LoadLongs(expectedLengths);
        using var expected = TestFiles.LoadFloat(expectedOut);
        using var _g = inference_mode();
        var (output, actualLens) = model.forward(waves, lens);
        using var _o = output;
        using var _l = actualLens;
        actualLens!.data<long>().ToArray().Should().Equal(outLens);
        for (int b = 0; b < outLens.Length; b++)
        {
            var n = (int)outLens[b];
            TensorAssert.Close(output[b, ..n], expected[b, ..n], atol, $"{because} batch row {b}");
        }
    }
}
