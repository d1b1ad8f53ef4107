using System.Collections.Generic;
using System.Linq;
using DpHubert.Checkpoints;
using DpHubert.Modules;
using DpHubert.PyTorch;
using DpHubert.Tests.Support;
using FluentAssertions;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DpHubert.Tests.Modules;

/// <summary>
/// Per-component parity against torchaudio 0.13.1's own component classes (torchaudio.models.wav2vec2.components),
/// made by tools/reference/make_components.py (Fixtures/components: random non-trivial parameters, eval mode, non-zero
/// dropouts and LayerDrop that eval mode must switch off). Each test builds one of OUR modules directly, loads the
/// component's state_dict with the strict key and shape check, and runs it under inference mode, so a fault shows up
/// in one module rather than only in the whole model.
/// Tolerance: 1e-5 max abs. The outputs are O(1) to O(5) in float32 on CPU, so a faithful port differs by
/// float32 rounding only (about 1e-6).
/// </summary>
public class ComponentParityTests(ITestOutputHelper log)
{
    private const double Atol = 1e-5;

    /// <summary>Asserts closeness and writes the max abs diff to the test log.</summary>
    private void Close(Tensor actual, Tensor expected, string what) =>
        log.WriteLine($"{what}: max abs diff {TensorAssert.Close(actual, expected, Atol, what):E2}");

    private const int E = 32, H = 4, HeadDim = 8, F = 64;
    private const double Dropout = 0.1, LayerDrop = 0.5;

    private static string Comp(string name, string file) => TestFiles.Fixture("components", name, file);

    private static Tensor Npy(string name, string file) => TestFiles.LoadFloat(Comp(name, file));

    private static Tensor Longs(string name, string file) => tensor(TestFiles.LoadLongs(Comp(name, file)));

    /// <summary>eval(), then a strict load of <c>components/name/state_dict.pth</c>.</summary>
    private static T Load<T>(T module, string name, IReadOnlyDictionary<string, Tensor>? extra = null) where T : nn.Module
    {
        module.eval();
        var path = Comp(name, "state_dict.pth");
        using var sd = StateDict.FromPickled(TorchCheckpointReader.Load(path).Root.Value, path, "state_dict");
        if (extra is not null)
            foreach (var (k, v) in extra) sd[k] = v;
        StateDictLoader.Load(module, sd, path).Should().BeEmpty();
        return module;
    }

    private static SelfAttention Attention() => new(E, H, HeadDim, Dropout);

    private static FeedForward Ff() => new(E, F, Dropout, Dropout);

    private static EncoderLayer Layer(bool layerNormFirst) => new(Attention(), Dropout, layerNormFirst, Ff(), E);

    /// <summary>torchaudio's own Transformer flag: not encoder_layer_norm_first.</summary>
    private static Transformer MakeTransformer(int kernel, int layers, bool encoderLayerNormFirst) =>
        new(new ConvolutionalPositionalEmbedding(E, kernel, 4), Dropout,
            Enumerable.Range(0, layers).Select(_ => Layer(encoderLayerNormFirst)).ToList(),
            layerNormBeforeLayers: !encoderLayerNormFirst, LayerDrop);

    /// <summary>A one-input module: <c>x.npy</c> in, <c>output.npy</c> expected.</summary>
    private void AssertSingleInput(nn.Module<Tensor, Tensor> module, string name)
    {
        using var x = Npy(name, "x.npy");
        using var _g = inference_mode();
        using var output = module.call(x);
        using var expected = Npy(name, "output.npy");
        Close(output, expected, $"{name} output");
    }

    /// <summary>A conv front-end module: <c>x.npy</c> and <c>length.npy</c> in, output and output lengths expected.</summary>
    private void AssertWithLengths(nn.Module<Tensor, Tensor?, (Tensor Output, Tensor? Lengths)> module, string name)
    {
        using var x = Npy(name, "x.npy");
        using var length = Longs(name, "length.npy");
        using var _g = inference_mode();
        var (output, outLength) = module.call(x, length);
        using var _o = output;
        using var _l = outLength;
        outLength!.data<long>().ToArray().Should().Equal(TestFiles.LoadLongs(Comp(name, "output_length.npy")));
        using var expected = Npy(name, "output.npy");
        Close(output, expected, $"{name} output");
    }

    /// <summary>An attention-signature module, without a mask (<c>output.npy</c>) and with the padding mask
    /// (<c>output_masked.npy</c>); returns the position bias of the unmasked call.</summary>
    private Tensor? AssertWithAndWithoutMask(nn.Module<Tensor, Tensor?, Tensor?, (Tensor Output, Tensor? PositionBias)> module, string name)
    {
        using var x = Npy(name, "x.npy");
        using var mask = Npy(name, "mask.npy");
        using var _g = inference_mode();
        var (plain, bias) = module.call(x, null, null);
        using var _p = plain;
        using var expected = Npy(name, "output.npy");
        Close(plain, expected, $"{name} output (no mask)");
        var (masked, _) = module.call(x, mask, null);
        using var _m = masked;
        using var expectedMasked = Npy(name, "output_masked.npy");
        Close(masked, expectedMasked, $"{name} output (padding mask)");
        return bias;
    }

    [Theory]
    [InlineData("conv_block_group_norm")]
    [InlineData("conv_block_layer_norm")]
    public void Conv_layer_block_matches_torchaudio(string name)
    {
        using var block = Load(name == "conv_block_group_norm"
            ? new ConvLayerBlock(3, 8, 10, 5, bias: false, new PerChannelGroupNorm(8))
            : new ConvLayerBlock(8, 12, 3, 2, bias: true, new PrunableLayerNorm(12, channelsFirst: true)), name);
        AssertWithLengths(block, name);
    }

    [Fact]
    public void Feature_extractor_matches_torchaudio()
    {
        const string name = "feature_extractor_group_norm";
        using var extractor = new FeatureExtractor(new List<ConvLayerBlock>
        {
            new(1, 8, 10, 5, bias: false, new PerChannelGroupNorm(8)),
            new(8, 8, 3, 2, bias: false, null),
            new(8, 8, 2, 2, bias: false, null),
        });
        // torchaudio's FeatureExtractor has no dummy_weight; the original keeps it at ones (the state dict disposes it).
        Load(extractor, name, new Dictionary<string, Tensor> { ["dummy_weight"] = ones(8) });
        AssertWithLengths(extractor, name);
    }

    [Fact]
    public void Feature_projection_matches_torchaudio()
    {
        const string name = "feature_projection";
        using var projection = Load(new FeatureProjection(16, E, Dropout), name);
        AssertSingleInput(projection, name);
    }

    [Theory]
    [InlineData("pos_conv_even", 16)]
    [InlineData("pos_conv_odd", 9)]
    public void Positional_convolution_matches_torchaudio(string name, int kernel)
    {
        using var pos = Load(new ConvolutionalPositionalEmbedding(E, kernel, 4), name);
        AssertSingleInput(pos, name);
    }

    [Fact]
    public void Self_attention_matches_torchaudio_without_and_with_padding_mask()
    {
        const string name = "self_attention";
        using var attention = Load(Attention(), name);
        AssertWithAndWithoutMask(attention, name).Should().BeNull("plain attention passes no position bias");
    }

    [Fact]
    public void Feed_forward_matches_torchaudio()
    {
        const string name = "feed_forward";
        using var ff = Load(Ff(), name);
        AssertSingleInput(ff, name);
    }

    [Theory]
    [InlineData("encoder_layer_post_norm", false)]
    [InlineData("encoder_layer_pre_norm", true)]
    public void Encoder_layer_matches_torchaudio(string name, bool layerNormFirst)
    {
        using var layer = Load(Layer(layerNormFirst), name);
        AssertWithAndWithoutMask(layer, name);
    }

    [Theory]
    [InlineData("transformer_post_norm", 16, 3, false)]
    [InlineData("transformer_pre_norm", 9, 2, true)]
    public void Transformer_matches_torchaudio(string name, int kernel, int layers, bool encoderLayerNormFirst)
    {
        using var transformer = Load(MakeTransformer(kernel, layers, encoderLayerNormFirst), name);
        using var x = Npy(name, "x.npy");
        using var mask = Npy(name, "mask.npy");
        using var _g = inference_mode();
        using (var plain = transformer.call(x, null, null))
        using (var expected = Npy(name, "output.npy"))
            Close(plain, expected, $"{name} forward (no mask)");
        using (var masked = transformer.call(x, mask, null))
        using (var expected = Npy(name, "output_masked.npy"))
            Close(masked, expected, $"{name} forward (padding mask)");

        var intermediate = transformer.GetIntermediateOutputs(x, mask);
        using var expectedLayers = Npy(name, "intermediate_masked.npy");
        intermediate.Should().HaveCount((int)expectedLayers.shape[0]);
        for (int i = 0; i < intermediate.Count; i++)
            Close(intermediate[i], expectedLayers[i], $"{name} get_intermediate_outputs layer {i}");
        foreach (var t in intermediate) t.Dispose();
    }

    [Fact]
    public void Encoder_matches_torchaudio_with_lengths()
    {
        const string name = "encoder";
        using var encoder = Load(new Encoder(new FeatureProjection(16, E, Dropout), MakeTransformer(16, 3, false)), name);
        using var features = Npy(name, "features.npy");
        using var lengths = Longs(name, "lengths.npy");
        using var _g = inference_mode();
        using (var output = encoder.call(features, lengths))
        using (var expected = Npy(name, "output.npy"))
            Close(output, expected, $"{name} forward (lengths)");
        using (var output = encoder.call(features, null))
        using (var expected = Npy(name, "output_no_lengths.npy"))
            Close(output, expected, $"{name} forward (no lengths)");

        // Ours returns L + 1 tensors (projection output first); torchaudio's extract_features returns the L layer outputs.
        var layers = encoder.ExtractFeatures(features, lengths);
        using var expectedLayers = Npy(name, "extract_features.npy");
        layers.Should().HaveCount((int)expectedLayers.shape[0] + 1);
        for (int i = 1; i < layers.Count; i++)
            Close(layers[i], expectedLayers[i - 1], $"{name} extract_features layer {i}");
        foreach (var t in layers) t.Dispose();
    }
}
