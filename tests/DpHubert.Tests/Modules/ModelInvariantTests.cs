using System;
using System.Linq;
using DpHubert.Audio;
using DpHubert.Checkpoints;
using DpHubert.Extraction;
using DpHubert.Tests.Support;
using FluentAssertions;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace DpHubert.Tests.Modules;

/// <summary>Behaviour a user relies on beyond parity: eval mode by default, batch == single, no native leaks,
/// strict loading that names every bad key, clear input errors.</summary>
public class ModelInvariantTests
{
    private static Wav2Vec2Model Load(string name) => CheckpointLoader.LoadModel(TestFiles.DpHubertCase(name, "checkpoint.pth")).Model;

    [Fact]
    public void Loaded_models_are_in_eval_mode_and_deterministic_while_training_mode_is_not()
    {
        using var model = Load("hubert_post_ln");
        model.modules().Should().OnlyContain(m => !m.training, "every module, dropout included, must be in eval mode");
        using var wave = randn(1, 8000) * 0.1;
        using var _ = no_grad();
        using var a = model.forward(wave, null).Output;
        using var b = model.forward(wave, null).Output;
        TensorAssert.Close(a, b, 0.0, "eval is deterministic");
        model.train();
        using var c = model.forward(wave, null).Output;
        (c - a).abs().max().item<float>().Should().BeGreaterThan(1e-3f, "dropout (0.1) is active in training mode");
    }

    [Theory]
    [InlineData("hubert_post_ln")]
    [InlineData("large_pre_ln")]
    [InlineData("wavlm_pruned")]
    public void A_batch_of_equal_length_rows_equals_each_row_alone(string name)
    {
        using var model = Load(name);
        using var waves = randn(3, 6000) * 0.1;
        using var _ = inference_mode();
        using var batch = model.forward(waves, null).Output;
        for (int i = 0; i < 3; i++)
        {
            using var single = model.forward(waves[i..(i + 1)], null).Output;
            TensorAssert.Close(batch[i], single[0], 1e-5, $"{name} row {i}");
        }
    }

    [Fact]
    public void ExtractFeatures_with_num_layers_is_a_prefix_of_all_layers()
    {
        using var model = Load("pruned_uneven");
        using var wave = randn(1, 5000) * 0.1;
        using var _ = inference_mode();
        var all = model.ExtractFeatures(wave).Layers;
        var two = model.ExtractFeatures(wave, null, 2).Layers;
        two.Should().HaveCount(3);
        for (int i = 0; i < 3; i++) TensorAssert.Close(two[i], all[i], 0.0, $"layer {i}");
        var act = () => model.ExtractFeatures(wave, null, model.NumLayers + 1);
        act.Should().Throw<ArgumentOutOfRangeException>();
    }

    [Fact]
    public void Repeated_extraction_leaves_no_live_tensors_behind()
    {
        using var encoder = SpeechEncoder.Load(TestFiles.DpHubertCase("wavlm_pruned", "checkpoint.pth"));
        var samples = WavReader.Read(TestFiles.DpHubertCase("wavlm_pruned", "input.wav")).Samples;
        encoder.Extract(samples, LayerSelection.AllLayers);   // warm-up (lazy allocations, caches)
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        using (var probe = zeros(1))
            DisposeScopeManager.Statistics.ThreadTotalLiveCount.Should().Be(before + 1, "the counter sees every live tensor");
        for (int i = 0; i < 5; i++)
        {
            encoder.Extract(samples);
            encoder.Extract(samples, LayerSelection.Layer(1));
            encoder.Extract(samples, LayerSelection.AllLayers);
        }
        DisposeScopeManager.Statistics.ThreadTotalLiveCount.Should().Be(before, "every intermediate tensor is freed at the API boundary");
    }

    [Fact]
    public void Strict_loading_names_every_missing_unexpected_and_misshaped_key()
    {
        using var source = CheckpointLoader.Read(TestFiles.DpHubertCase("hubert_post_ln", "checkpoint.pth"));
        using var model = ModelFactory.Build(source.Config);
        var sd = source.StateDict;
        var renamed = sd.Remove("encoder.transformer.layers.1.feed_forward.output_dense.bias")!;
        sd["encoder.transformer.layers.1.feed_forward.output_dense.bais"] = renamed;
        var wrong = sd.Remove("encoder.feature_projection.projection.weight")!;
        sd["encoder.feature_projection.projection.weight"] = wrong[.., ..16].clone();
        wrong.Dispose();
        var act = () => StateDictLoader.Load(model, sd, "broken.pth");
        act.Should().Throw<StateDictMismatchException>()
            .WithMessage("*missing keys (1): encoder.transformer.layers.1.feed_forward.output_dense.bias*")
            .WithMessage("*unexpected keys (1): encoder.transformer.layers.1.feed_forward.output_dense.bais*")
            .WithMessage("*shape mismatch for encoder.feature_projection.projection.weight: expected [48, 32], found [48, 16]*")
            .WithMessage("*broken.pth*");
    }

    [Fact]
    public void A_zero_length_row_gives_zero_frames_and_leaves_the_others_alone()
    {
        using var model = Load("large_pre_ln");   // normalize_waveform: per-row statistics over valid samples
        using var waves = randn(2, 8000) * 0.1;
        using var lengths = tensor(new long[] { 8000, 0 });
        using var _ = inference_mode();
        var (output, outLengths) = model.forward(waves, lengths);
        outLengths!.data<long>().ToArray().Should().Equal(model.Config.FramesForSamples(8000), 0);
        output.isnan().any().item<bool>().Should().BeFalse();
        using var single = model.forward(waves[..1], null).Output;
        TensorAssert.Close(output[0], single[0], 1e-4, "the full row is unaffected by its empty neighbour");
    }

    [Fact]
    public void Bad_inputs_get_messages_with_the_numbers()
    {
        using var model = Load("hubert_post_ln");
        using var tooShort = zeros(1, 399);
        var act = () => model.forward(tooShort, null);
        act.Should().Throw<ArgumentException>().WithMessage("*399 samples*receptive field is 400 samples*");
        using var threeD = zeros(1, 1, 16000);
        act = () => model.forward(threeD, null);
        act.Should().Throw<ArgumentException>().WithMessage("*[batch, samples]*[1, 1, 16000]*");
        using var wave = zeros(2, 16000);
        using var badLengths = tensor(new long[] { 16000, 17000 });
        act = () => model.forward(wave, badLengths);
        act.Should().Throw<ArgumentException>().WithMessage("*lengths[1] = 17000*");
    }
}
