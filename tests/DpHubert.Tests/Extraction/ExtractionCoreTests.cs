using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using DpHubert.Audio;
using DpHubert.Checkpoints;
using DpHubert.Extraction;
using DpHubert.Tests.Support;
using FluentAssertions;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DpHubert.Tests.Extraction;

/// <summary>Every public entry point validates once, before any forward pass, and gives the same typed error for the
/// same bad input; the core takes frame counts from the model; weights are converted to the compute dtype once, at load.</summary>
public sealed class ExtractionCoreTests(ITestOutputHelper output)
{
    private static string Checkpoint => TestFiles.DpHubertCase("hubert_post_ln", "checkpoint.pth");

    /// <summary>An encoder that counts the forward passes it starts.</summary>
    private static SpeechEncoder Counting(out Func<int> passes, SpeechEncoderOptions? options = null)
    {
        int count = 0;
        passes = () => count;
        return SpeechEncoder.Load(Checkpoint, (options ?? new SpeechEncoderOptions()) with { PassObserver = (_, _) => count++ });
    }

    /// <summary>Every way to extract one input of 16 kHz samples, each returning that input's features.</summary>
    private static IEnumerable<(string Name, Func<FeatureArray> Run)> EntryPoints(SpeechEncoder encoder, float[] samples, LayerSelection layers)
    {
        string wav = Path.Combine(TestFiles.TempDir(), "input.wav");
        WavWriter.WriteFloat32(wav, samples.Select(v => float.IsFinite(v) ? v : 0).ToArray(), 16000);
        yield return ("Extract(float[])", () => encoder.Extract(samples, layers));
        yield return ("Extract(float[], options)", () => encoder.Extract(samples, layers, new ExtractionOptions { ChunkSeconds = 30 }));
        yield return ("Extract(float[], rate)", () => encoder.Extract(samples, 16000, layers));
        yield return ("Extract(ReadOnlyMemory, rate)", () => encoder.Extract(samples.AsMemory(), 16000, layers));
        yield return ("Extract(ReadOnlySpan, rate)", () => encoder.Extract(samples.AsSpan(), 16000, layers));
        yield return ("ExtractBatch", () => encoder.ExtractBatch(new[] { samples }, layers)[0]);
        yield return ("ExtractBatch(rate)", () => encoder.ExtractBatch(new[] { samples }, 16000, layers)[0]);
        if (samples.All(float.IsFinite))
        {
            // Files hold finite samples only; the file entry points see the same length and layer errors.
            yield return ("ExtractFile", () => encoder.ExtractFile(wav, layers));
            yield return ("Extract(Stream)", () => { using var s = File.OpenRead(wav); return encoder.Extract(s, "input.wav", layers); });
            yield return ("ExtractFiles", () => encoder.ExtractFiles(new[] { wav }, layers).Single() is { Error: { } e } ? throw e : encoder.ExtractFiles(new[] { wav }, layers).Single().Features!);
        }
    }

    [Fact]
    public void Too_short_audio_gives_one_ArgumentException_with_the_same_message_from_every_entry_point()
    {
        using var encoder = Counting(out var passes);
        int min = encoder.MinimumSamples;
        var messages = new List<string>();
        foreach (var (name, run) in EntryPoints(encoder, Enumerable.Repeat(0.1f, min - 1).ToArray(), LayerSelection.Final))
        {
            var e = run.Should().Throw<ArgumentException>(name).Which;
            e.Should().BeOfType<ArgumentException>(name);
            // The batch forms name the input by its index in front of the same words.
            messages.Add(e.Message.StartsWith("input 0: audio", StringComparison.Ordinal) ? "Audio" + e.Message["input 0: audio".Length..] : e.Message);
        }
        messages.Distinct().Should().ContainSingle().Which.Should().Match($"Audio too short: {min - 1} samples*receptive field is {min} samples*");
        passes().Should().Be(0, "validation comes before any forward pass");
        // The model itself says the same for the same length.
        using var wave = zeros(1, min - 1);
        var fromModel = FluentActions.Invoking(() => encoder.Model.forward(wave, null)).Should().Throw<ArgumentException>().Which;
        fromModel.Message.Should().StartWith(messages[0]);
    }

    [Fact]
    public void A_layer_past_the_last_gives_one_message_from_every_entry_point_before_any_pass()
    {
        using var encoder = Counting(out var passes);
        var layer = LayerSelection.Layer(encoder.Model.NumLayers + 1);
        var messages = EntryPoints(encoder, BatchingTests.Speech("hubert_post_ln"), layer)
            .Select(p => p.Run.Should().Throw<ArgumentException>(p.Name).Which.Message).ToList();
        messages.Add(FluentActions.Invoking(() => encoder.ExtractFiles(new[] { "never-read.wav" }, layer)).Should().Throw<ArgumentException>().Which.Message);
        messages.Add(FluentActions.Invoking(() => encoder.Validate(layer)).Should().Throw<ArgumentException>().Which.Message);
        messages.Distinct().Should().ContainSingle().Which.Should().Match($"Layer index {encoder.Model.NumLayers + 1} *is past the last layer*");
        passes().Should().Be(0);
    }

    [Fact]
    public void A_non_finite_sample_is_named_by_index_before_any_pass_from_every_entry_point()
    {
        using var encoder = Counting(out var passes);
        var samples = BatchingTests.Speech("hubert_post_ln").ToArray();
        samples[1234] = float.NaN;
        foreach (var (name, run) in EntryPoints(encoder, samples, LayerSelection.Final))
            run.Should().Throw<ArgumentException>(name).Which.Message.Should().Match("*[1234] is NaN; audio samples must be finite numbers*", name);
        passes().Should().Be(0);
    }

    [Fact]
    public void A_bad_input_late_in_a_batch_fails_the_batch_before_any_pass_and_is_named_by_index()
    {
        using var encoder = Counting(out var passes);
        var speech = BatchingTests.Speech("hubert_post_ln");
        var act = () => encoder.ExtractBatch(new[] { speech, speech, new float[10] }, LayerSelection.Final, batchSize: 1);
        act.Should().Throw<ArgumentException>().WithMessage("input 2: audio too short: 10 samples*");
        passes().Should().Be(0);
    }

    [Fact]
    public void Frame_counts_are_the_models_own()
    {
        using var encoder = SpeechEncoder.Load(Checkpoint);
        var speech = BatchingTests.Speech("hubert_post_ln");
        var items = new[] { speech, speech[..(speech.Length - 700)], speech[..(encoder.MinimumSamples + 320)] };
        var batched = encoder.ExtractBatch(items, LayerSelection.AllLayers, batchSize: 3);
        // The model's own lengths for the same padded batch.
        using var waves = zeros(3, speech.Length);
        for (int i = 0; i < items.Length; i++) waves[i, ..items[i].Length] = tensor(items[i]);
        using var lengths = tensor(items.Select(x => (long)x.Length).ToArray());
        using var mode = inference_mode();
        var (output, frames) = encoder.Model.forward(waves, lengths, BatchSemantics.PerItem);
        using (output)
        using (frames)
        {
            var expected = frames!.data<long>().ToArray();
            batched.Select(f => f.Frames).Should().Equal(expected);
            batched.Select(f => f.Shape[0]).Should().OnlyContain(n => n == encoder.Model.NumLayers + 1);
            expected[2].Should().Be(2, "receptive field + one hop is exactly two frames");
        }
    }

    [Fact]
    public void A_bfloat16_encoder_holds_its_weights_and_projection_in_bfloat16_converted_once_from_the_checkpoint()
    {
        // A float16 checkpoint with a projection: loading it for bfloat16 converts each stored value once, float16 ->
        // bfloat16, and keeps no float32 copy of any weight.
        string path = Path.Combine(TestFiles.TempDir(), "fp16.pth");
        Dictionary<string, Tensor> stored;
        using (var source = CheckpointLoader.Read(Checkpoint))
        {
            stored = source.StateDict.ToDictionary(kv => kv.Key, kv => kv.Value.is_floating_point() ? kv.Value.to(ScalarType.Float16) : kv.Value.clone());
            var dim = source.Config.EncoderEmbedDim;
            manual_seed(7);
            var proj = new StateDict { ["weight"] = randn(16, dim).to(ScalarType.Float16), ["bias"] = randn(16).to(ScalarType.Float16) };
            CheckpointWriter.SaveDpHubert(path, source.Config, stored, null, proj);
            stored["proj.weight"] = proj["weight"].clone();
            proj.Dispose();
        }
        using var bf16 = SpeechEncoder.Load(path, new SpeechEncoderOptions { DType = ComputeDType.BFloat16, Projection = true });
        bf16.DType.Should().Be(ScalarType.BFloat16);
        var floating = bf16.Model.state_dict().Where(kv => kv.Value.is_floating_point()).ToList();
        floating.Should().NotBeEmpty();
        floating.Should().OnlyContain(kv => kv.Value.dtype == ScalarType.BFloat16, "every weight is held in the compute dtype");
        bf16.Projection!.Weight.dtype.Should().Be(ScalarType.BFloat16);
        bf16.Report.Notes.Should().Contain(n => n.Contains("converted to bfloat16"));
        foreach (var (key, value) in floating.Where(kv => stored.ContainsKey(kv.Key)))
        {
            using var once = stored[key].to(ScalarType.BFloat16);
            value.allclose(once, 0, 0).Should().BeTrue($"{key} is the stored float16 value converted once");
        }
        using (var once = stored["proj.weight"].to(ScalarType.BFloat16))
            bf16.Projection.Weight.allclose(once, 0, 0).Should().BeTrue();

        using var f32 = SpeechEncoder.Load(path, new SpeechEncoderOptions { Projection = true });
        f32.Model.state_dict().Where(kv => kv.Value.is_floating_point()).Should().OnlyContain(kv => kv.Value.dtype == ScalarType.Float32);
        f32.Projection!.Weight.dtype.Should().Be(ScalarType.Float32);
        var speech = BatchingTests.Speech("hubert_post_ln");
        var reference = f32.Extract(speech);
        var reduced = bf16.Extract(speech);
        reduced.Shape.Should().Equal(reference.Shape).And.Equal(new long[] { reference.Frames, 16 });
        ReducedPrecisionBounds.Check("bfloat16", reduced.Data, reference.Data, 16, output);
        foreach (var t in stored.Values) t.Dispose();
    }
}
