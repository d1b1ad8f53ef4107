using System.IO;
using System.Linq;
using DpHubert.Checkpoints;
using DpHubert.Config;
using DpHubert.Tests.PyTorch;
using DpHubert.Tests.Support;
using FluentAssertions;
using Xunit;
using static TorchSharp.torch;

namespace DpHubert.Tests.Checkpoints;

/// <summary>How weights get into a model: the public loader copies, a checkpoint load hands its tensors over.</summary>
[Collection(GlobalRngCollection.Name)]
public class StateDictLoaderTests
{
    private static Wav2Vec2Config Small => Wav2Vec2Config.FromJson(File.ReadAllText(TestFiles.Fixture("reference", "ta_hubert_base_like", "config.json")));

    /// <summary>A seeded random model's weights as an independent state_dict (clones).</summary>
    private static StateDict Weights(Wav2Vec2Config config, long seed)
    {
        manual_seed(seed);
        using var model = ModelFactory.Build(config);
        var sd = new StateDict();
        foreach (var (k, t) in model.state_dict())
            sd[k] = t.detach().clone();
        return sd;
    }

    [Fact]
    public void A_checkpoint_load_hands_its_float32_tensors_to_the_model_and_computes_what_a_copying_load_computes()
    {
        var config = Small;
        using var copied = ModelFactory.Build(config);
        using (var reference = Weights(config, 7))
            StateDictLoader.Load(copied, reference, "reference");

        var checkpoint = new ModelCheckpoint(config, Weights(config, 7), new LoadReport("test", CheckpointFormat.DpHubert));
        using var model = CheckpointLoader.BuildModel(checkpoint);
        var parameters = model.state_dict();
        const string key = "encoder.transformer.layers.0.attention.q_proj.weight";
        using var original = checkpoint.StateDict[key].clone();
        using (no_grad())
            checkpoint.StateDict[key].add_(1.0);
        // The same memory, not a copy: what the checkpoint tensor now holds, the parameter holds.
        CheckpointTestHelpers.SameValues(parameters[key], checkpoint.StateDict[key]).Should().BeTrue();
        using (no_grad())
            checkpoint.StateDict[key].copy_(original);
        checkpoint.Dispose();

        // Every parameter was filled from the checkpoint: the outputs equal the copying load's exactly.
        using var wave = randn(1, 4000) * 0.1;
        using var _ = inference_mode();
        using var expected = copied.forward(wave, null).Output;
        using var actual = model.forward(wave, null).Output;
        TensorAssert.Close(actual, expected, 0.0, "the same weights on the same graph");
    }

    [Fact]
    public void The_public_loader_copies_so_the_state_dict_stays_independent()
    {
        var config = Small;
        using var model = ModelFactory.Build(config);
        using var sd = Weights(config, 3);
        StateDictLoader.Load(model, sd, "test");
        const string key = "encoder.feature_projection.projection.weight";
        using var before = model.state_dict()[key].clone();
        using (no_grad())
            sd[key].add_(1.0);
        CheckpointTestHelpers.SameValues(model.state_dict()[key], before).Should().BeTrue("the model keeps its own copy");
    }

    [Fact]
    public void Two_keys_on_one_tensor_load_as_two_separate_parameters()
    {
        var config = Small;
        var sd = Weights(config, 5);
        const string a = "encoder.transformer.layers.0.layer_norm.weight", b = "encoder.transformer.layers.0.layer_norm.bias";
        sd[b].Dispose();
        sd[b] = sd[a].view(sd[a].shape);
        var checkpoint = new ModelCheckpoint(config, sd, new LoadReport("test", CheckpointFormat.DpHubert));
        using var model = CheckpointLoader.BuildModel(checkpoint);
        checkpoint.Dispose();
        var parameters = model.state_dict();
        using var biasBefore = parameters[b].clone();
        using (no_grad())
            parameters[a].add_(1.0);
        CheckpointTestHelpers.SameValues(parameters[b], biasBefore).Should().BeTrue("loading must not tie weights the model keeps apart");
    }

    [Fact]
    public void A_model_built_to_be_filled_keeps_its_deterministic_defaults_and_a_missing_weight_is_refused()
    {
        var config = Small;
        using (var model = ModelFactory.BuildUninitialized(config))
        {
            var sd = model.state_dict();
            CheckpointTestHelpers.Values(sd[StateDictLoader.DummyWeightKey]).Should().OnlyContain(v => v == 1.0, "dummy_weight may be absent from a checkpoint and then stays ones");
            CheckpointTestHelpers.Values(sd["encoder.transformer.layer_norm.weight"]).Should().OnlyContain(v => v == 1.0);
        }

        var weights = Weights(config, 1);
        const string missing = "encoder.transformer.layers.1.feed_forward.output_dense.weight";
        weights.Remove(missing)!.Dispose();
        using var checkpoint = new ModelCheckpoint(config, weights, new LoadReport("test", CheckpointFormat.DpHubert));
        var act = () => CheckpointLoader.BuildModel(checkpoint);
        act.Should().Throw<StateDictMismatchException>().Which.Missing.Should().Equal(missing);
    }

    [Fact]
    public void Outside_a_checkpoint_load_models_are_randomly_initialized_as_before()
    {
        manual_seed(11);
        using var a = ModelFactory.Build(Small);
        manual_seed(11);
        using var b = ModelFactory.Build(Small);
        const string key = "encoder.transformer.layers.0.attention.k_proj.weight";
        CheckpointTestHelpers.SameValues(a.state_dict()[key], b.state_dict()[key]).Should().BeTrue("seeded builds are reproducible");
        CheckpointTestHelpers.Values(a.state_dict()[key]).Select(System.Math.Abs).Max().Should().BeGreaterThan(0, "weights are drawn, not left empty");
    }

    [Theory]
    [InlineData(".pth")]
    [InlineData(".safetensors")]
    public void Float16_weights_load_as_their_exact_float32_values(string extension)
    {
        var config = Small;
        using var weights = Weights(config, 9);
        using var half = new StateDict(weights.Select(kv => System.Collections.Generic.KeyValuePair.Create(kv.Key, kv.Value.to(ScalarType.Float16))));
        var path = Path.Combine(TestFiles.TempDir(), "half" + extension);
        if (extension == ".pth")
            CheckpointWriter.SaveDpHubert(path, config, half);
        else
            CheckpointWriter.SaveSafeTensors(path, config, half);

        var (model, _) = CheckpointLoader.LoadModel(path);
        using (model)
            foreach (var (key, parameter) in model.state_dict())
            {
                parameter.dtype.Should().Be(ScalarType.Float32, key);
                using var expected = half[key].to(ScalarType.Float32);
                CheckpointTestHelpers.SameValues(parameter, expected).Should().BeTrue($"{key} is the float16 value widened exactly");
            }
    }
}
