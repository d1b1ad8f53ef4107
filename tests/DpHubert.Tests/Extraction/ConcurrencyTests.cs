using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using DpHubert.Audio;
using DpHubert.Checkpoints;
using DpHubert.Extraction;
using DpHubert.Tests.Support;
using FluentAssertions;
using Xunit;
using Xunit.Abstractions;

namespace DpHubert.Tests.Extraction;

/// <summary>One <see cref="SpeechEncoder"/> shared by many threads gives exactly the sequential results; Dispose waits
/// for calls in progress; file, folder and batch extraction honour a <see cref="CancellationToken"/>.</summary>
public sealed class ConcurrencyTests(ITestOutputHelper output)
{
    private static string TinyCheckpoint => TestFiles.DpHubertCase("hubert_post_ln", "checkpoint.pth");

    private static float[] Clip(int samples, int seed)
    {
        var speech = BatchingTests.Speech("hubert_post_ln");
        var rng = new Random(seed);
        return Enumerable.Range(0, samples).Select(i => speech[(i + seed * 997) % speech.Length] + (float)(rng.NextDouble() - 0.5) * 0.01f).ToArray();
    }

    [Fact]
    public void Eight_threads_sharing_one_hubert_base_encoder_get_exactly_the_sequential_results()
    {
        // HuBERT Base with random weights: the real size (95 M parameters, 12 layers of 768 with 12 heads), so the
        // concurrent calls overlap inside large multi-threaded libtorch kernels. Clips of 0.5-1.2 s keep the 8 x 2
        // concurrent and 8 sequential passes within ~30 s on 2 cores; length does not change what is shared.
        string dir = TestFiles.TempDir();
        string path = Path.Combine(dir, "hubert_base.safetensors");
        var clock = Stopwatch.StartNew();
        using (var model = ModelFactory.HubertBase())
            CheckpointWriter.SaveSafeTensors(path, model.Config, model.state_dict());
        using var encoder = SpeechEncoder.Load(path);
        File.Delete(path);
        output.WriteLine($"HuBERT Base built, saved and loaded in {clock.Elapsed.TotalSeconds:F1} s; libtorch threads {TorchSharp.torch.get_num_threads()}");

        const int threads = 8;
        var selections = new[] { LayerSelection.Final, LayerSelection.Layer(6), LayerSelection.AllLayers, LayerSelection.Layer(0) };
        var work = Enumerable.Range(0, threads).Select(t => (Clip(8000 + 1600 * t % 11200, t), selections[t % selections.Length])).ToArray();
        clock.Restart();
        var sequential = work.Select(w => encoder.Extract(w.Item1, w.Item2)).ToArray();
        output.WriteLine($"{threads} sequential passes: {clock.Elapsed.TotalSeconds:F1} s");

        var concurrent = new FeatureArray[threads, 2];
        using var start = new Barrier(threads);
        clock.Restart();
        RunThreads(threads, t =>
        {
            start.SignalAndWait();
            for (int k = 0; k < 2; k++)
            {
                var (clip, selection) = work[(t + k) % threads];
                concurrent[(t + k) % threads, k] = encoder.Extract(clip, selection);
            }
        });
        output.WriteLine($"{threads} threads x 2 concurrent passes: {clock.Elapsed.TotalSeconds:F1} s");

        for (int i = 0; i < threads; i++)
            for (int k = 0; k < 2; k++)
            {
                concurrent[i, k].Shape.Should().Equal(sequential[i].Shape);
                concurrent[i, k].Data.Should().Equal(sequential[i].Data, $"item {i} (pass {k}) must be bit-identical to the sequential result");
            }
    }

    [Fact]
    public void Threads_mixing_every_entry_point_on_the_tiny_model_match_sequential()
    {
        using var encoder = SpeechEncoder.Load(TinyCheckpoint);
        var clips = Enumerable.Range(0, 6).Select(i => Clip(4000 + 1777 * i, i)).ToArray();
        Func<FeatureArray[]>[] calls =
        {
            () => new[] { encoder.Extract(clips[0]) },
            () => new[] { encoder.Extract(clips[1], LayerSelection.AllLayers) },
            () => encoder.ExtractBatch(clips, LayerSelection.Final, 3).ToArray(),
            () => new[] { encoder.Extract(clips[5], 22050, LayerSelection.Layer(1)) },
            () => new[] { encoder.Extract(clips[4], LayerSelection.Final, new ExtractionOptions { ChunkSeconds = 0.1, BatchSize = 2 }) },
        };
        var expected = calls.Select(c => c()).ToArray();
        var failures = new ConcurrentBag<string>();

        Parallel.For(0, 8 * calls.Length, new ParallelOptions { MaxDegreeOfParallelism = 8 }, n =>
        {
            var got = calls[n % calls.Length]();
            for (int j = 0; j < got.Length; j++)
                if (!got[j].Data.SequenceEqual(expected[n % calls.Length][j].Data)) failures.Add($"call {n % calls.Length} item {j}");
        });

        failures.Should().BeEmpty();
    }

    [Fact]
    public async Task Dispose_waits_for_calls_in_progress_and_later_calls_are_refused()
    {
        // Every thread's first pass is held inside the model until Dispose has begun, so Dispose meets four calls in
        // progress whatever the scheduling; each of them must complete with the right features, every later call be refused.
        using var inside = new CountdownEvent(4);
        using var release = new ManualResetEventSlim();
        bool holding = false;
        var encoder = SpeechEncoder.Load(TinyCheckpoint, new SpeechEncoderOptions { PassObserver = (_, _) =>
        {
            if (!Volatile.Read(ref holding)) return;
            inside.Signal();
            release.Wait();
        } });
        var clip = Clip(16000, 1);
        var expected = encoder.Extract(clip);
        Volatile.Write(ref holding, true);
        int completed = 0, refused = 0;
        var threads = StartThreads(4, _ =>
        {
            for (int k = 0; k < 50; k++)
            {
                try
                {
                    encoder.Extract(clip).Data.Should().Equal(expected.Data);
                    Interlocked.Increment(ref completed);
                }
                catch (ObjectDisposedException)
                {
                    Interlocked.Increment(ref refused);
                    return;
                }
            }
        });
        inside.Wait();
        var disposing = Task.Run(encoder.Dispose);
        // Dispose has begun once a new call is refused; it cannot finish while the four passes are held.
        while (true)
        {
            try
            {
                encoder.Use().Dispose();
            }
            catch (ObjectDisposedException)
            {
                break;
            }
            Thread.Yield();
        }
        disposing.IsCompleted.Should().BeFalse("Dispose waits for the calls in progress");
        release.Set();

        await disposing;
        threads.Join();
        output.WriteLine($"{completed} calls completed, {refused} refused after Dispose");
        completed.Should().Be(4, "the calls in progress when Dispose began complete");
        refused.Should().BeGreaterThan(0);
        FluentActions.Invoking(() => encoder.Extract(clip)).Should().Throw<ObjectDisposedException>();
        encoder.Dispose(); // twice is harmless
    }

    private sealed class Threads(Thread[] threads, ConcurrentQueue<Exception> errors)
    {
        public void Join()
        {
            foreach (var t in threads) t.Join();
            if (!errors.IsEmpty) throw new AggregateException(errors);
        }
    }

    private static Threads StartThreads(int count, Action<int> body)
    {
        var errors = new ConcurrentQueue<Exception>();
        var threads = Enumerable.Range(0, count).Select(i => new Thread(() =>
        {
            try
            {
                body(i);
            }
            catch (Exception e)
            {
                errors.Enqueue(e);
            }
        })).ToArray();
        foreach (var t in threads) t.Start();
        return new Threads(threads, errors);
    }

    private static void RunThreads(int count, Action<int> body) => StartThreads(count, body).Join();

    private static string[] Files(int count, out string dir)
    {
        dir = TestFiles.TempDir();
        var speech = BatchingTests.Speech("hubert_post_ln");
        var paths = new string[count];
        for (int i = 0; i < count; i++)
        {
            paths[i] = Path.Combine(dir, $"f{i:D3}.wav");
            WavWriter.WritePcm16(paths[i], speech.AsSpan(0, speech.Length - 37 * i), 16000);
        }
        return paths;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void ExtractFiles_stops_at_the_next_pass_when_cancelled_and_keeps_what_it_returned(int batchSize)
    {
        var paths = Files(12, out _);
        using var cts = new CancellationTokenSource();
        int passes = 0;
        bool counting = true;
        // Cancelled while the third pass starts.
        using var encoder = SpeechEncoder.Load(TinyCheckpoint, new SpeechEncoderOptions { PassObserver = (_, _) => { if (counting && ++passes == 3) cts.Cancel(); } });
        var got = new List<FileFeatures>();

        var act = () =>
        {
            foreach (var r in encoder.ExtractFiles(paths, LayerSelection.Final, new ExtractionOptions { BatchSize = batchSize, ReadAhead = 3 }, cts.Token))
                got.Add(r);
        };

        act.Should().Throw<OperationCanceledException>();
        passes.Should().Be(3, "no forward pass starts after cancellation");
        got.Should().NotBeEmpty().And.HaveCountLessThan(paths.Length);
        got.Should().OnlyContain(r => r.Succeeded);
        counting = false;
        foreach (var r in got) r.Features!.Data.Should().Equal(encoder.ExtractFile(r.Path).Data);
    }

    [Fact]
    public void Every_entry_point_with_a_token_refuses_to_start_once_cancelled()
    {
        var paths = Files(2, out _);
        using var encoder = SpeechEncoder.Load(TinyCheckpoint);
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        var clip = Clip(16000, 2);

        FluentActions.Invoking(() => encoder.ExtractFile(paths[0], LayerSelection.Final, cts.Token)).Should().Throw<OperationCanceledException>();
        FluentActions.Invoking(() => encoder.ExtractStream(File.OpenRead(paths[0]), LayerSelection.Final, cts.Token)).Should().Throw<OperationCanceledException>();
        FluentActions.Invoking(() => encoder.ExtractFiles(paths, cancellationToken: cts.Token).ToArray()).Should().Throw<OperationCanceledException>();
        FluentActions.Invoking(() => encoder.ExtractBatch(new[] { clip, clip }, LayerSelection.Final, 1, cts.Token)).Should().Throw<OperationCanceledException>();
        FluentActions.Invoking(() => encoder.ExtractBatch(new[] { clip }, 22050, LayerSelection.Final, 1, cts.Token)).Should().Throw<OperationCanceledException>();
        FluentActions.Invoking(() => encoder.Extract(clip, LayerSelection.Final, new ExtractionOptions { ChunkSeconds = 0.2 }, cts.Token))
            .Should().Throw<OperationCanceledException>();
        // Without cancellation the same calls work.
        encoder.ExtractFile(paths[0], LayerSelection.Final, CancellationToken.None).Frames.Should().BeGreaterThan(0);
    }

    [Fact]
    public void A_long_recording_in_chunks_stops_between_chunks()
    {
        using var cts = new CancellationTokenSource();
        int passes = 0;
        using var encoder = SpeechEncoder.Load(TinyCheckpoint, new SpeechEncoderOptions { PassObserver = (_, _) => { if (++passes == 2) cts.Cancel(); } });

        FluentActions.Invoking(() => encoder.Extract(Clip(5 * 16000, 3), LayerSelection.Final, new ExtractionOptions { ChunkSeconds = 0.5 }, cts.Token))
            .Should().Throw<OperationCanceledException>();
        passes.Should().Be(2);
    }
}
