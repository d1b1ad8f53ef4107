using System;
using System.Linq;
using DpHubert.Audio;
using DpHubert.Extraction;
using DpHubert.Streaming;
using DpHubert.Tests.Support;
using FluentAssertions;
using Xunit;
using Xunit.Abstractions;

namespace DpHubert.Tests.Streaming;

/// <summary>A recording pushed block by block gives, frame for frame, the model's output on each window (≤ 1e-5) and,
/// over the whole recording, exactly offline extraction's frame count, whatever the push sizes and input rate.</summary>
public sealed class SpeechStreamTests(ITestOutputHelper output)
{
    private static string Checkpoint(string name) => TestFiles.DpHubertCase(name, "checkpoint.pth");

    public static TheoryData<string, double, double> Grid()
    {
        // Every cell on the group-norm HuBERT; two cells on the layer-norm (waveform-normalizing) Large and WavLM.
        var data = new TheoryData<string, double, double>();
        foreach (double block in new[] { 0.1, 0.25, 0.5 })
            foreach (double context in new[] { 0.5, 1.0, 2.5 })
                data.Add("hubert_post_ln", block, context);
        foreach (var model in new[] { "large_pre_ln", "wavlm_pre_ln" })
        {
            data.Add(model, 0.25, 1.0);
            data.Add(model, 0.5, 2.5);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Grid))]
    public void A_recording_pushed_in_blocks_of_the_grid_equals_the_window_reference_and_the_offline_frame_count(string model, double block, double context)
    {
        using var encoder = SpeechEncoder.Load(Checkpoint(model));
        var x48 = StreamReference.Speech48k();
        var x16 = AudioPreprocessor.Resample(x48, 48000, 16000);
        var options = new StreamOptions { BlockSeconds = block, ContextSeconds = context };
        var expected = StreamReference.WindowFrames(encoder, x16, options, out long expectedFrames);
        long offline = encoder.Extract(x48, 48000).Frames;
        expectedFrames.Should().Be(offline);
        // Pushes of exactly one block at 48 kHz, and of odd sizes that straddle block boundaries.
        foreach (int piece in new[] { (int)Math.Round(block * 48000), 12347 })
        {
            using var stream = encoder.OpenStream(options);
            var got = StreamReference.Stream(stream, x48, 48000, piece, out long frames);
            frames.Should().Be(offline, $"pushes of {piece} samples");
            double diff = StreamReference.MaxAbsDiff(got, expected);
            output.WriteLine($"{model} block {block} s context {context} s, pushes of {piece}: {frames} frames, max |diff| {diff:E2}");
            diff.Should().BeLessThanOrEqualTo(1e-5, $"pushes of {piece} samples");
        }
    }

    [Theory]
    [InlineData("hubert_post_ln", "none")]
    [InlineData("large_pre_ln", "none")]
    [InlineData("raw_layer_norm", "conv features per frame")]
    public void Reusing_the_front_end_between_windows_changes_nothing_but_the_work(string model, string kind)
    {
        string checkpoint = model == "raw_layer_norm" ? RawLayerNormCheckpoint() : Checkpoint(model);
        using var encoder = SpeechEncoder.Load(checkpoint);
        var x48 = StreamReference.Speech48k();
        var reuse = new StreamOptions { BlockSeconds = 0.25, ContextSeconds = 1, LookaheadFrames = 2, Layers = LayerSelection.Layer(1) };
        var none = reuse with { ReuseFrontEnd = false };
        using var kept = encoder.OpenStream(reuse);
        using var recomputed = encoder.OpenStream(none);
        kept.Reuse.Should().Be(kind);
        recomputed.Reuse.Should().Be("none");
        var a = StreamReference.Stream(kept, x48, 48000, 6007, out long frames);
        var b = StreamReference.Stream(recomputed, x48, 48000, 6007, out _);
        var expected = StreamReference.WindowFrames(encoder, AudioPreprocessor.Resample(x48, 48000, 16000), reuse, out _);
        frames.Should().Be(encoder.Extract(x48, 48000).Frames);
        double reuseDiff = StreamReference.MaxAbsDiff(a, b), windowDiff = StreamReference.MaxAbsDiff(a, expected);
        output.WriteLine($"{model} ({kind}): reuse vs none {reuseDiff:E2}, vs window reference {windowDiff:E2}");
        reuseDiff.Should().BeLessThanOrEqualTo(1e-5);
        windowDiff.Should().BeLessThanOrEqualTo(1e-5);
        // The stream keeps state per utterance: after Reset the same audio gives the same frames.
        kept.Reset();
        StreamReference.Stream(kept, x48, 48000, 6007, out _).Should().Equal(a);
    }

    [Theory]
    [InlineData("hubert_post_ln")]
    [InlineData("raw_layer_norm")]
    public void A_model_set_to_libtorch_convolutions_streams_through_them(string model)
    {
        // In bfloat16 the two convolution paths round differently (the GEMM path runs the waveform layer in float32),
        // so a stream that bypassed the model's path would match the other path's reference, not this one's.
        string checkpoint = model == "raw_layer_norm" ? RawLayerNormCheckpoint() : Checkpoint(model);
        using var gemm = SpeechEncoder.Load(checkpoint, new SpeechEncoderOptions { DType = ComputeDType.BFloat16 });
        using var libtorch = SpeechEncoder.Load(checkpoint, new SpeechEncoderOptions { DType = ComputeDType.BFloat16 });
        libtorch.Model.SetConvolutionPath(DpHubert.Modules.ConvolutionPath.LibTorch);
        var x48 = StreamReference.Speech48k();
        var x16 = AudioPreprocessor.Resample(x48, 48000, 16000);
        var options = new StreamOptions { BlockSeconds = 0.25, ContextSeconds = 1 };
        var ownPath = StreamReference.WindowFrames(libtorch, x16, options, out _);
        var otherPath = StreamReference.WindowFrames(gemm, x16, options, out _);
        using var stream = libtorch.OpenStream(options);
        var got = StreamReference.Stream(stream, x48, 48000, 12000, out _);
        double own = StreamReference.MaxAbsDiff(got, ownPath), other = StreamReference.MaxAbsDiff(got, otherPath);
        output.WriteLine($"{model} bf16, LibTorch path ({stream.Reuse}): vs its own window reference {own:E2}, vs the GEMM path's {other:E2}");
        own.Should().BeLessThanOrEqualTo(1e-5);
        other.Should().BeGreaterThan(1e-3, "the paths must differ here for this test to tell them apart");
    }

    // A layer-norm extractor on the raw waveform (no waveform normalization), as wav2vec 2.0 Large's layout with
    // normalize off: random weights, the large_pre_ln architecture.
    internal static string RawLayerNormCheckpoint()
    {
        string path = System.IO.Path.Combine(TestFiles.TempDir(), "raw_layer_norm.safetensors");
        var (source, _) = DpHubert.Checkpoints.CheckpointLoader.LoadModel(Checkpoint("large_pre_ln"));
        using (source)
        {
            source.Config.ExtractorMode.Should().Be(DpHubert.Config.ExtractorMode.LayerNorm);
            using var model = ModelFactory.Build(source.Config with { NormalizeWaveform = false });
            DpHubert.Checkpoints.CheckpointWriter.SaveSafeTensors(path, model.Config, model.state_dict());
        }
        return path;
    }
}
