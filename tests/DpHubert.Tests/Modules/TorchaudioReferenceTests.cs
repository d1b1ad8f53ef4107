using System.IO;
using System.Linq;
using DpHubert.Audio;
using DpHubert.Checkpoints;
using DpHubert.Config;
using DpHubert.PyTorch;
using DpHubert.Tests.Support;
using FluentAssertions;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace DpHubert.Tests.Modules;

/// <summary>
/// The independent second reference: torchaudio 0.13.1's own Wav2Vec2Model (not DPHuBERT's code), small random models
/// made by tools/reference/make_reference.py. Its state_dict lacks dummy_weight (kept at ones) and its
/// extract_features has L items where ours has L + 1 (ours[1..] must equal theirs). Tolerance 1e-4 max abs.
/// </summary>
public class TorchaudioReferenceTests
{
    private const double Atol = 1e-4;

    private static string Ref(params string[] parts) => TestFiles.Fixture(new[] { "reference" }.Concat(parts).ToArray());

    private static Wav2Vec2Model Load(string name)
    {
        var config = Wav2Vec2Config.FromJson(File.ReadAllText(Ref(name, "config.json")));
        var model = ModelFactory.Build(config);
        using var sd = StateDict.FromPickled(TorchCheckpointReader.Load(Ref(name, "state_dict.pth")).Root.Value, name, "state_dict");
        var defaulted = StateDictLoader.Load(model, sd, name);
        defaulted.Should().Equal(StateDictLoader.DummyWeightKey);
        return model;
    }

    [Theory]
    [InlineData("ta_hubert_base_like")]
    [InlineData("ta_large_like")]
    public void Forward_and_layers_match_torchaudio(string name)
    {
        using var model = Load(name);
        using var wave = ModelAssert.Wave(Ref(name, "input.wav"));
        using var _ = inference_mode();
        var (output, _) = model.forward(wave, null);
        using var expected = TestFiles.LoadFloat(Ref(name, "single_output.npy"));
        TensorAssert.Close(output[0], expected, Atol, $"{name} output");
        var layers = model.ExtractFeatures(wave).Layers;
        using var expectedLayers = TestFiles.LoadFloat(Ref(name, "single_layers.npy"));
        layers.Should().HaveCount((int)expectedLayers.shape[0] + 1);
        for (int i = 1; i < layers.Count; i++)
            TensorAssert.Close(layers[i][0], expectedLayers[i - 1], Atol, $"{name} layer {i}");
    }

    [Theory]
    [InlineData("ta_hubert_base_like")]
    [InlineData("ta_large_like")]
    public void Batch_matches_torchaudio_on_valid_frames(string name)
    {
        using var model = Load(name);
        ModelAssert.AssertBatch(model, Ref(name, "batch_inputs.npy"), Ref(name, "batch_lengths.npy"), Ref(name, "batch_output.npy"),
            Ref(name, "batch_output_lengths.npy"), name, Atol);
    }
}
