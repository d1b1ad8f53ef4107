using System;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using DpHubert.Audio;
using DpHubert.Config;
using DpHubert.Extraction;
using DpHubert.Tests.Support;
using FluentAssertions;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DpHubert.Tests.Extraction;

/// <summary>One bad input never ends a run of many: native libtorch errors, allocation failures and recordings too long
/// for memory fail that input alone.</summary>
public sealed class FailureIsolationTests(ITestOutputHelper output)
{
    private static string Checkpoint => TestFiles.DpHubertCase("hubert_post_ln", "checkpoint.pth");

    /// <summary>Five WAVs of distinct lengths; the one of <paramref name="poisonSamples"/> samples is the poisoned one.</summary>
    private static string[] Folder(out int poisonSamples)
    {
        string dir = TestFiles.TempDir();
        var speech = BatchingTests.Speech("hubert_post_ln");
        var lengths = new[] { speech.Length, speech.Length - 321, speech.Length - 999, speech.Length - 1500, speech.Length - 2000 };
        poisonSamples = lengths[2];
        return lengths.Select((n, i) =>
        {
            string path = Path.Combine(dir, $"clip{i}.wav");
            WavWriter.WriteFloat32(path, speech.AsSpan(0, n), 16000);
            return path;
        }).ToArray();
    }

    /// <summary>A real libtorch error (TorchSharp raises it as <see cref="ExternalException"/>): an mm of mismatched shapes.</summary>
    private static void NativeFailure()
    {
        using var a = zeros(2, 3);
        using var b = zeros(4, 5);
        using var c = a.mm(b);
    }

    public static TheoryData<string, int> Failures()
    {
        var data = new TheoryData<string, int>();
        foreach (var kind in new[] { "libtorch", "out-of-memory", "other" })
            foreach (int batch in new[] { 1, 2, 8 })
                data.Add(kind, batch);
        return data;
    }

    [Theory]
    [MemberData(nameof(Failures))]
    public void A_failure_inside_one_forward_pass_fails_that_file_alone(string kind, int batchSize)
    {
        var paths = Folder(out int poison);
        bool armed = false;
        using var encoder = SpeechEncoder.Load(Checkpoint, new SpeechEncoderOptions { PassObserver = (items, samples) =>
        {
            if (!armed) return;
            if (items == 1 && samples != poison) return;
            if (items > 1 && samples < poison) return; // a batch holding the poisoned file (sorted by length) fails as a whole
            switch (kind)
            {
                case "libtorch": NativeFailure(); break;
                case "out-of-memory": throw new OutOfMemoryException("injected allocation failure");
                default: throw new InvalidOperationException("injected failure");
            }
        } });
        var expected = paths.Select(p => encoder.ExtractFile(p)).ToArray();
        armed = true;

        var results = encoder.ExtractFiles(paths, LayerSelection.Final, new ExtractionOptions { BatchSize = batchSize }).ToArray();

        results.Select(r => r.Path).Should().Equal(paths);
        var failed = results.Single(r => !r.Succeeded);
        failed.Path.Should().Be(paths[2]);
        output.WriteLine($"{kind}, batch {batchSize}: {failed.Error!.GetType().Name}: {failed.Error.Message.Split('\n')[0]}");
        switch (kind)
        {
            case "libtorch": failed.Error.Should().BeAssignableTo<ExternalException>(); break;
            case "out-of-memory": failed.Error.Should().BeOfType<OutOfMemoryException>(); break;
            default: failed.Error.Should().BeOfType<InvalidOperationException>(); break;
        }
        foreach (int i in new[] { 0, 1, 3, 4 })
        {
            results[i].Succeeded.Should().BeTrue();
            results[i].Features!.Shape.Should().Equal(expected[i].Shape);
            // Batches may differ from one-by-one by float rounding (documented 1e-4); unbatched runs are identical.
            BatchingTests.MaxAbsDiff(results[i].Features!, expected[i]).Should().BeLessThan(1e-4);
        }
    }

    [Fact]
    public void Cancellation_is_not_swallowed_as_a_per_file_failure()
    {
        var paths = Folder(out _);
        using var encoder = SpeechEncoder.Load(Checkpoint, new SpeechEncoderOptions { PassObserver = (_, _) => throw new OperationCanceledException() });

        FluentActions.Invoking(() => encoder.ExtractFiles(paths).ToArray()).Should().Throw<OperationCanceledException>();
    }

    /// <summary>Half the estimated memory of the test model's 60 s forward pass (and more than 20 s takes).</summary>
    private static long HalfOfAMinute()
    {
        using var encoder = SpeechEncoder.Load(Checkpoint);
        long minute = ForwardMemory.EstimateBytes(encoder.Model.Config, 1, 60 * 16000, 4);
        ForwardMemory.EstimateBytes(encoder.Model.Config, 1, 20 * 16000, 4).Should().BeLessThan(minute / 2);
        return minute / 2;
    }

    [Fact]
    public void A_recording_too_long_for_memory_fails_before_allocating_and_suggests_chunking()
    {
        // A limit of half what the test model's 60 s pass needs: the minute cannot fit, a 1 s clip and 5 s chunks can.
        using var encoder = SpeechEncoder.Load(Checkpoint, new SpeechEncoderOptions { MemoryLimitBytes = HalfOfAMinute() });
        var speech = BatchingTests.Speech("hubert_post_ln");
        var minute = Enumerable.Repeat(speech, 60 * 16000 / speech.Length + 1).SelectMany(x => x).Take(60 * 16000).ToArray();

        var e = FluentActions.Invoking(() => encoder.Extract(minute)).Should().Throw<InsufficientMemoryException>().Which;
        output.WriteLine(e.Message);
        e.Message.Should().Contain("60 s of audio needs about").And.Contain("ExtractionOptions.ChunkSeconds").And.Contain("GB is available");

        // The short clip fits, and so does the minute in chunks.
        encoder.Extract(speech).Frames.Should().BeGreaterThan(0);
        var chunked = encoder.Extract(minute, LayerSelection.Final, new ExtractionOptions { ChunkSeconds = 5 });
        chunked.Frames.Should().Be(encoder.Model.Config.FramesForSamples(minute.Length));
    }

    [Fact]
    public void In_a_folder_the_long_recording_fails_and_the_rest_are_written()
    {
        using var encoder = SpeechEncoder.Load(Checkpoint, new SpeechEncoderOptions { MemoryLimitBytes = HalfOfAMinute() });
        var paths = Folder(out _).ToList();
        var speech = BatchingTests.Speech("hubert_post_ln");
        string longPath = Path.Combine(Path.GetDirectoryName(paths[0])!, "long.wav");
        WavWriter.WritePcm16(longPath, Enumerable.Repeat(speech, 60 * 16000 / speech.Length + 1).SelectMany(x => x).Take(60 * 16000).ToArray(), 16000);
        paths.Insert(2, longPath);

        foreach (int batch in new[] { 1, 4 })
        {
            var results = encoder.ExtractFiles(paths, LayerSelection.Final, new ExtractionOptions { BatchSize = batch }).ToArray();
            results.Where(r => !r.Succeeded).Select(r => r.Path).Should().Equal(longPath);
            results[2].Error.Should().BeOfType<InsufficientMemoryException>().Which.Message.Should().Contain("ExtractionOptions.ChunkSeconds");
        }
    }

    [Fact]
    public void The_estimate_tracks_the_measured_peak_of_hubert_base()
    {
        // Whole-process peak RSS of `dphubert extract` on HuBERT Base fp32 is the runtime and weights (about 0.55 GB)
        // plus one pass: 64.26 s measured 1.60 GB, so the pass took about 1.05 GB.
        double gb60 = ForwardMemory.EstimateBytes(Wav2Vec2Config.HubertBase, 1, (long)(64.26 * 16000), 4) / 1e9;
        double gb20 = ForwardMemory.EstimateBytes(Wav2Vec2Config.HubertBase, 1, 20 * 16000, 4) / 1e9;
        double gb300 = ForwardMemory.EstimateBytes(Wav2Vec2Config.HubertBase, 1, 300 * 16000, 4) / 1e9;
        output.WriteLine($"HuBERT Base estimate: 20 s {gb20:F2} GB, 64 s {gb60:F2} GB, 300 s {gb300:F2} GB");
        gb60.Should().BeInRange(0.85, 1.25);
        // Layers free their intermediates and attention is fused, so HuBERT's memory grows linearly with the length.
        (gb300 / gb20).Should().BeInRange(14.0, 16.0);
        // WavLM's relative position bias is [heads, frames, frames] itself: quadratic.
        (ForwardMemory.EstimateBytes(Wav2Vec2Config.WavLMBase, 1, 300 * 16000, 4) / 1e9).Should().BeGreaterThan(3 * gb300);
        // Batching multiplies; bf16 halves every term.
        ForwardMemory.EstimateBytes(Wav2Vec2Config.HubertBase, 4, 20 * 16000, 4).Should().Be(4 * ForwardMemory.EstimateBytes(Wav2Vec2Config.HubertBase, 1, 20 * 16000, 4));
        ForwardMemory.EstimateBytes(Wav2Vec2Config.HubertBase, 1, 20 * 16000, 2).Should().BeInRange((long)(gb20 * 0.5e9), (long)(gb20 * 1e9));
        ForwardMemory.AvailableBytes().Should().BeGreaterThan(0);
    }
}
