using System;
using System.IO;
using System.Linq;
using System.Text.Json;
using DpHubert.Audio;
using DpHubert.Checkpoints;
using DpHubert.Tests.Support;
using FluentAssertions;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace DpHubert.Tests.Modules;

/// <summary>
/// Whole-model parity against the tensors the original DPHuBERT Python code computed (PyTorch 1.13.1, CPU, float32)
/// for every case of the shared fixtures. Tolerance: 1e-4 max abs on these O(1) outputs (the fixtures README calls
/// anything above that a bug; a faithful port lands near 1e-6).
/// </summary>
public class FixtureParityTests
{
    private const double Atol = 1e-4;

    public static TheoryData<string> Cases => new()
    {
        "hubert_post_ln", "large_pre_ln", "pruned_uneven", "wavlm_pruned", "wavlm_pre_ln", "prune_hubert", "prune_wavlm",
    };

    private static Tensor Wave(string name) => ModelAssert.Wave(TestFiles.DpHubertCase(name, "input.wav"));

    [Theory]
    [MemberData(nameof(Cases))]
    public void Single_output_matches_the_original(string name)
    {
        var (model, _) = CheckpointLoader.LoadModel(TestFiles.DpHubertCase(name, "checkpoint.pth"));
        using var _m = model;
        using var wave = Wave(name);
        using var _g = inference_mode();
        var (output, lengths) = model.forward(wave, null);
        using var _o = output;
        lengths.Should().BeNull();
        using var expected = TestFiles.LoadFloat(TestFiles.DpHubertCase(name, "single_output.npy"));
        TensorAssert.Close(output[0], expected, Atol, $"{name} single output");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Every_layer_matches_the_original(string name)
    {
        var (model, _) = CheckpointLoader.LoadModel(TestFiles.DpHubertCase(name, "checkpoint.pth"));
        using var _m = model;
        using var wave = Wave(name);
        using var _g = inference_mode();
        var features = model.ExtractFeatures(wave);
        using var expected = TestFiles.LoadFloat(TestFiles.DpHubertCase(name, "single_layers.npy"));
        features.Layers.Should().HaveCount((int)expected.shape[0]);
        for (int i = 0; i < features.Layers.Count; i++)
            TensorAssert.Close(features.Layers[i][0], expected[i], Atol, $"{name} layer {i}");
        foreach (var t in features.Layers) t.Dispose();
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Batch_with_lengths_matches_the_original_on_valid_frames(string name)
    {
        var (model, _) = CheckpointLoader.LoadModel(TestFiles.DpHubertCase(name, "checkpoint.pth"));
        using var _m = model;
        ModelAssert.AssertBatch(model, TestFiles.DpHubertCase(name, "batch_inputs.npy"), TestFiles.DpHubertCase(name, "batch_lengths.npy"),
            TestFiles.DpHubertCase(name, "batch_output.npy"), TestFiles.DpHubertCase(name, "batch_output_lengths.npy"), name, Atol);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Parameter_counts_match_the_original(string name)
    {
        var info = TestFiles.CaseInfo(name);
        var (model, _) = CheckpointLoader.LoadModel(TestFiles.DpHubertCase(name, "checkpoint.pth"));
        using var _m = model;
        model.NumParameters().Should().Be(info.GetProperty("num_parameters_tensor_count").GetInt64());
        // cases.json stores int(get_num_params()): truncated, and computed in float32 where masks make it fractional.
        double stored = info.GetProperty("num_params_get_num_params").GetDouble();
        model.GetNumParams().Should().BeInRange(stored - 1e-3, stored + 1.0);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Output_frame_count_follows_the_conv_arithmetic(string name)
    {
        var info = TestFiles.CaseInfo(name);
        var (model, _) = CheckpointLoader.LoadModel(TestFiles.DpHubertCase(name, "checkpoint.pth"));
        using var _m = model;
        var samples = info.GetProperty("single_input_samples").GetInt64();
        model.Config.FramesForSamples(samples).Should().Be(info.GetProperty("single_output_shape")[0].GetInt64());
    }
}
