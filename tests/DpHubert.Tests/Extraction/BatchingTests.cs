using System;
using System.Collections.Generic;
using System.Linq;
using DpHubert.Audio;
using DpHubert.Checkpoints;
using DpHubert.Config;
using DpHubert.Extraction;
using DpHubert.PyTorch;
using DpHubert.Tests.Support;
using FluentAssertions;
using Xunit;
using Xunit.Abstractions;

namespace DpHubert.Tests.Extraction;

/// <summary>Batched and chunked extraction against one-by-one, whole-file extraction, on every fixture model.</summary>
public class BatchingTests(ITestOutputHelper output)
{
    public static TheoryData<string> Cases => new() { "hubert_post_ln", "large_pre_ln", "pruned_uneven", "wavlm_pruned", "wavlm_pre_ln" };

    internal static float[] Speech(string name) => WavReader.Read(TestFiles.DpHubertCase(name, "input.wav")).Samples;

    internal static double MaxAbsDiff(FeatureArray a, FeatureArray b)
    {
        a.Shape.Should().Equal(b.Shape);
        double m = 0;
        for (int i = 0; i < a.Data.Length; i++) m = Math.Max(m, Math.Abs(a.Data[i] - b.Data[i]));
        return m;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Batches_of_mixed_lengths_equal_one_by_one(string name)
    {
        using var encoder = SpeechEncoder.Load(TestFiles.DpHubertCase(name, "checkpoint.pth"));
        var speech = Speech(name);
        // Mixed lengths (some equal, some not a whole number of frames), including the shortest possible input.
        var items = new List<float[]>
        {
            speech, speech[..(speech.Length * 2 / 3)], speech[1000..], speech[..(speech.Length / 2 + 7)],
            speech[..encoder.MinimumSamples], speech[500..(500 + speech.Length * 2 / 3)], speech.Reverse().ToArray(),
        };
        foreach (var layers in new[] { LayerSelection.Final, LayerSelection.AllLayers })
        {
            var single = items.Select(x => encoder.Extract(x, layers)).ToArray();
            foreach (int batch in new[] { 4 })
            {
                var batched = encoder.ExtractBatch(items, layers, batch);
                double worst = items.Select((_, i) => MaxAbsDiff(single[i], batched[i])).Max();
                output.WriteLine($"{name} layer {layers} batch {batch}: max |batched - single| = {worst:E2}");
                worst.Should().BeLessThan(1e-4);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Chunked_extraction_keeps_the_frame_count_and_stays_close(string name)
    {
        using var encoder = SpeechEncoder.Load(TestFiles.DpHubertCase(name, "checkpoint.pth"));
        var speech = Speech(name);
        var longer = speech.Concat(speech).Concat(speech).ToArray(); // 3 s
        var whole = encoder.Extract(longer, LayerSelection.Final);
        // A chunk longer than the file is whole-file inference.
        MaxAbsDiff(whole, encoder.Extract(longer, LayerSelection.Final, new ExtractionOptions { ChunkSeconds = 10 })).Should().Be(0);
        foreach (var (chunk, overlap) in new[] { (1.0, 0.5), (0.5, 0.25), (1.0, 0.0) })
        {
            var chunked = encoder.Extract(longer, LayerSelection.Final, new ExtractionOptions { ChunkSeconds = chunk, ChunkOverlapSeconds = overlap, BatchSize = 4 });
            chunked.Shape.Should().Equal(whole.Shape);
            double diff = MaxAbsDiff(whole, chunked);
            double cos = FeatureSimilarity.MeanFrameCosine(chunked.Data, whole.Data, checked((int)whole.Dim));
            double rel = FeatureSimilarity.RelativeRmsError(chunked.Data, whole.Data);
            output.WriteLine($"{name} chunk {chunk} s overlap {overlap} s: max |chunked - whole| = {diff:E2}, mean frame cosine {cos:F5}, RMS error / RMS {rel:E2}");
            chunked.Data.Should().OnlyContain(v => float.IsFinite(v));
            // A chunk sees only its own window, so features differ where the context is cut. Measured worst over these
            // cases (deterministic, float32): cosine 0.9955 and RMS ratio 0.095 at 1 s chunks without overlap.
            cos.Should().BeGreaterThanOrEqualTo(0.99, $"{name}, chunk {chunk} s, overlap {overlap} s: mean per-frame cosine to the whole file");
            rel.Should().BeLessThanOrEqualTo(0.15, $"{name}, chunk {chunk} s, overlap {overlap} s: RMS error relative to the whole file's RMS");
        }
    }

    [Fact]
    public void Chunks_are_stitched_on_frame_boundaries()
    {
        // A layer-norm extractor without waveform normalization is local: the transformer input (layer 0) of frame t
        // depends only on samples [320t, 320t + 400), so chunked and whole-file layer 0 must agree.
        Wav2Vec2Config config;
        using (var fixture = SpeechEncoder.Load(TestFiles.DpHubertCase("large_pre_ln", "checkpoint.pth")))
            config = fixture.Model.Config with { NormalizeWaveform = false };
        config.ExtractorMode.Should().Be(ExtractorMode.LayerNorm);
        string path = System.IO.Path.Combine(TestFiles.TempDir(), "local.pth");
        TorchSharp.torch.manual_seed(3);
        using (var model = ModelFactory.Build(config))
        {
            var state = new PyDict(PyDict.OrderedDict);
            foreach (var (k, v) in model.state_dict()) state[k] = v;
            var cfg = new PyDict();
            foreach (var (k, v) in config.ToDictionary()) cfg[k] = v;
            var root = new PyDict { ["config"] = cfg, ["state_dict"] = state };
            TorchCheckpointWriter.Save(path, root);
        }
        using var encoder = SpeechEncoder.Load(path);
        var speech = Speech("large_pre_ln");
        var longer = speech.Concat(speech.Reverse()).Concat(speech).ToArray();
        var options = new ExtractionOptions { ChunkSeconds = 0.7, ChunkOverlapSeconds = 0.3, BatchSize = 3 };
        var whole = encoder.Extract(longer, LayerSelection.AllLayers);
        var chunked = encoder.Extract(longer, LayerSelection.AllLayers, options);
        chunked.Shape.Should().Equal(whole.Shape);
        long layer0 = whole.Frames * whole.Dim;
        double d0 = whole.Data.Take((int)layer0).Zip(chunked.Data.Take((int)layer0), (a, b) => (double)Math.Abs(a - b)).Max();
        output.WriteLine($"layer 0 chunked vs whole: {d0:E2}");
        d0.Should().BeLessThan(1e-5);
        MaxAbsDiff(encoder.Extract(longer, LayerSelection.Layer(0), options), encoder.Extract(longer, LayerSelection.Layer(0))).Should().BeLessThan(1e-5);
    }

    [Fact]
    public void Batches_at_another_rate_are_resampled_like_single_items()
    {
        using var encoder = SpeechEncoder.Load(TestFiles.DpHubertCase("wavlm_pruned", "checkpoint.pth"));
        var at22k = new[] { Speech("wavlm_pruned"), Speech("wavlm_pruned")[..9000] }
            .Select(x => AudioPreprocessor.Resample(x, 16000, 22050)).ToArray();
        var batched = encoder.ExtractBatch(at22k, 22050, LayerSelection.Layer(1), batchSize: 2);
        for (int i = 0; i < at22k.Length; i++)
            MaxAbsDiff(batched[i], encoder.Extract(at22k[i], 22050, LayerSelection.Layer(1))).Should().BeLessThan(1e-4);
    }

    [Fact]
    public void Too_short_audio_names_the_numbers()
    {
        using var encoder = SpeechEncoder.Load(TestFiles.DpHubertCase("hubert_post_ln", "checkpoint.pth"));
        int min = encoder.MinimumSamples;
        var act = () => encoder.ExtractBatch(new[] { new float[min], new float[min - 1] });
        act.Should().Throw<ArgumentException>().WithMessage($"*input 1*{min - 1} samples*receptive field is {min} samples*");
        var single = () => encoder.Extract(new float[100], LayerSelection.Final);
        single.Should().Throw<ArgumentException>().WithMessage($"*100 samples*{min} samples*");
    }

    [Fact]
    public void ExtractFiles_reports_bad_files_and_keeps_going()
    {
        using var encoder = SpeechEncoder.Load(TestFiles.DpHubertCase("hubert_post_ln", "checkpoint.pth"));
        var dir = TestFiles.TempDir();
        string good = System.IO.Path.Combine(dir, "good.wav"), bad = System.IO.Path.Combine(dir, "bad.wav"), shortWav = System.IO.Path.Combine(dir, "short.wav");
        WavWriter.WritePcm16(good, Speech("hubert_post_ln"), 16000);
        System.IO.File.WriteAllText(bad, "not audio");
        WavWriter.WritePcm16(shortWav, new float[200], 16000);
        var results = encoder.ExtractFiles(new[] { good, bad, shortWav, good }, LayerSelection.Final, new ExtractionOptions { BatchSize = 4 }).ToList();
        results.Select(r => r.Succeeded).Should().Equal(true, false, false, true);
        results[2].Error!.Message.Should().Contain("200 samples");
        MaxAbsDiff(results[0].Features!, encoder.ExtractFile(good)).Should().BeLessThan(1e-4);
    }

    [Fact]
    public void Reduced_precision_dtypes_write_float32_close_to_float32()
    {
        string ckpt = TestFiles.DpHubertCase("hubert_post_ln", "checkpoint.pth");
        var speech = Speech("hubert_post_ln");
        using var f32 = SpeechEncoder.Load(ckpt);
        var reference = f32.Extract(speech);
        // float16 is refused on a CPU (DTypeSelectionTests); "auto" told it has AMX takes bfloat16.
        var amx = CpuFeatures.FromCpuInfo("flags\t\t: fpu sse2 avx2 amx_tile amx_bf16\n");
        foreach (var dtype in new[] { ComputeDType.BFloat16, ComputeDType.Auto })
        {
            using var e = SpeechEncoder.Load(ckpt, new SpeechEncoderOptions { DType = dtype, Cpu = amx });
            e.DType.Should().Be(TorchSharp.torch.ScalarType.BFloat16);
            var f = e.Extract(speech);
            f.Shape.Should().Equal(reference.Shape);
            f.Data.Should().OnlyContain(v => float.IsFinite(v));
            ReducedPrecisionBounds.Check("bfloat16", f.Data, reference.Data, checked((int)reference.Dim), output);
        }
    }
}
