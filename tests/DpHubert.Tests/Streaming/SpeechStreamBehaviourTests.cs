using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using DpHubert.Audio;
using DpHubert.Extraction;
using DpHubert.Streaming;
using DpHubert.Tests.Support;
using FluentAssertions;
using Xunit;
using Xunit.Abstractions;

namespace DpHubert.Tests.Streaming;

/// <summary>What a stream promises besides the window values: any input rate, lookahead, layer selections and units
/// as Extract takes them, results independent of push sizes, threads, the async form, and clear errors.</summary>
public sealed class SpeechStreamBehaviourTests(ITestOutputHelper output)
{
    private static string Tiny => TestFiles.DpHubertCase("hubert_post_ln", "checkpoint.pth");

    [Theory]
    [InlineData(44100, 4409)]
    [InlineData(22050, 3001)]
    [InlineData(16000, 1601)]
    [InlineData(8000, 999)]
    [InlineData(44101, 5003)]
    public void Any_input_rate_in_odd_pushes_gives_the_window_reference_and_the_offline_count(int rate, int piece)
    {
        using var encoder = SpeechEncoder.Load(Tiny);
        var input = AudioPreprocessor.Resample(StreamReference.Speech48k(), 48000, rate);
        var options = new StreamOptions { BlockSeconds = 0.2, ContextSeconds = 1 };
        var expected = StreamReference.WindowFrames(encoder, AudioPreprocessor.Resample(input, rate, 16000), options, out _);
        using var stream = encoder.OpenStream(options);
        var got = StreamReference.Stream(stream, input, rate, piece, out long frames);
        frames.Should().Be(encoder.Extract(input, rate).Frames);
        double diff = StreamReference.MaxAbsDiff(got, expected);
        output.WriteLine($"{rate} Hz in pushes of {piece}: {frames} frames, max |diff| {diff:E2}");
        diff.Should().BeLessThanOrEqualTo(1e-5);
    }

    [Fact]
    public void Frames_become_final_after_their_samples_and_the_lookahead_and_depend_on_the_audio_alone()
    {
        using var encoder = SpeechEncoder.Load(Tiny);
        var x48 = StreamReference.Speech48k();
        var options = new StreamOptions { BlockSeconds = 0.15, ContextSeconds = 0.5, LookaheadFrames = 7, Layers = LayerSelection.AllLayers };
        var expected = StreamReference.WindowFrames(encoder, AudioPreprocessor.Resample(x48, 48000, 16000), options, out long count);

        using var stream = encoder.OpenStream(options);
        var perPush = new List<float>();
        long next = 0;
        for (int at = 0; at < x48.Length; at += 4800) // 0.1 s pushes: some complete a block, some do not
        {
            var r = stream.Push(x48.AsSpan(at, Math.Min(4800, x48.Length - at)), 48000);
            r.FirstFrame.Should().Be(next);
            r.Features.Shape.Should().Equal(new long[] { encoder.Model.NumLayers + 1, r.Count, 48 });
            long boundary = stream.SamplesReceived / options.BlockSamples * options.BlockSamples;
            long final = boundary < 400 + 320 * 7 ? 0 : (boundary - 400 - 320 * 7) / 320 + 1;
            r.EndFrame.Should().Be(Math.Max(next, final), "after each full block every final frame is returned, and no other");
            next = r.EndFrame;
            perPush.AddRange(Layerwise(r));
        }
        var last = stream.Flush();
        last.FirstFrame.Should().Be(next);
        last.EndFrame.Should().Be(count).And.Be(encoder.Extract(x48, 48000).Frames);
        perPush.AddRange(Layerwise(last));
        // Both frame-major ([frames, L + 1, dim]), so results cut at different places compare.
        StreamReference.MaxAbsDiff(perPush.ToArray(), expected).Should().BeLessThanOrEqualTo(1e-5);

        // The same audio pushed one sample at a time and all at once: the same frames, bit for bit.
        stream.Reset();
        var whole = stream.Push(x48, 48000);
        var wholeRest = stream.Flush();
        stream.Reset();
        var ones = new List<StreamFrames>();
        for (int i = 0; i < x48.Length; i++) { var r = stream.Push(x48.AsSpan(i, 1), 48000); if (r.Count > 0) ones.Add(r); }
        ones.Add(stream.Flush());
        ones.SelectMany(Layerwise).ToArray().Should().Equal(Layerwise(whole).Concat(Layerwise(wholeRest)).ToArray());
    }

    // [L, n, dim] to frame-major [n, L, dim], so results of different pushes can be concatenated.
    private static IEnumerable<float> Layerwise(StreamFrames r)
    {
        var shape = r.Features.Shape;
        long lead = shape[0], n = shape[1], dim = shape[2];
        for (long f = 0; f < n; f++)
            for (long l = 0; l < lead; l++)
                for (long d = 0; d < dim; d++)
                    yield return r.Features.Data[(l * n + f) * dim + d];
    }

    [Fact]
    public void Units_pad_and_project_as_extract_does()
    {
        var checkpoint = TestFiles.Fixture("published", "hubert_soft", "hubert-soft-0d54a1f4.pt");
        using var encoder = SpeechEncoder.Load(checkpoint, new SpeechEncoderOptions { Units = SpeechUnits.HubertSoft });
        var x48 = StreamReference.Speech48k()[..96000];
        var options = new StreamOptions { BlockSeconds = 0.25, ContextSeconds = 1, Layers = SpeechUnits.HubertSoft.Layers };
        var expected = StreamReference.WindowFrames(encoder, SpeechUnits.HubertSoft.Pad(AudioPreprocessor.Resample(x48, 48000, 16000)), options, out _);
        using var stream = encoder.OpenStream(options);
        var got = StreamReference.Stream(stream, x48, 48000, 7777, out long frames);
        var offline = encoder.Extract(x48, 48000, options.Layers);
        frames.Should().Be(offline.Frames);
        got.Length.Should().Be((int)(frames * offline.Dim));
        StreamReference.MaxAbsDiff(got, expected).Should().BeLessThanOrEqualTo(1e-5);
    }

    [Fact]
    public void Streams_on_many_threads_sharing_one_encoder_give_the_sequential_frames()
    {
        using var encoder = SpeechEncoder.Load(Tiny);
        var x48 = StreamReference.Speech48k()[..120000];
        var options = new[]
        {
            new StreamOptions { BlockSeconds = 0.1, ContextSeconds = 0.5 },
            new StreamOptions { BlockSeconds = 0.25, ContextSeconds = 1, Layers = LayerSelection.Layer(2) },
            new StreamOptions { BlockSeconds = 0.5, ContextSeconds = 2.5, LookaheadFrames = 3 },
        };
        float[] Run(StreamOptions o) { using var s = encoder.OpenStream(o); return StreamReference.Stream(s, x48, 48000, 3333, out _); }
        var sequential = options.Select(Run).ToArray();
        var concurrent = new float[options.Length][];
        Parallel.For(0, options.Length, new ParallelOptions { MaxDegreeOfParallelism = options.Length }, i => concurrent[i] = Run(options[i]));
        for (int i = 0; i < options.Length; i++) concurrent[i].Should().Equal(sequential[i]);
    }

    [Fact]
    public async Task One_stream_used_by_two_threads_at_once_is_a_clear_error()
    {
        using var inside = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        bool holding = true;
        using var encoder = SpeechEncoder.Load(Tiny, new SpeechEncoderOptions { PassObserver = (_, _) =>
        {
            if (!Volatile.Read(ref holding)) return;
            inside.Set();
            release.Wait(TimeSpan.FromSeconds(30));
        } });
        using var stream = encoder.OpenStream(new StreamOptions { BlockSeconds = 0.1, ContextSeconds = 0.5 });
        var block = new float[1600];
        var first = Task.Run(() => stream.Push(block, 16000));
        inside.Wait(TimeSpan.FromSeconds(30)).Should().BeTrue();
        var act = () => stream.Push(block, 16000);
        act.Should().Throw<InvalidOperationException>().WithMessage("*one call at a time*");
        stream.Invoking(s => s.Reset()).Should().Throw<InvalidOperationException>();
        release.Set();
        var firstFrames = await first;
        firstFrames.Count.Should().BeGreaterThan(0);
        Volatile.Write(ref holding, false);
        stream.Push(block, 16000).FirstFrame.Should().Be(firstFrames.EndFrame, "the stream still works once the first call returned");
    }

    [Fact]
    public async Task The_async_form_yields_the_frames_of_the_sync_form_and_honours_cancellation()
    {
        using var encoder = SpeechEncoder.Load(Tiny);
        var x48 = StreamReference.Speech48k()[..96000];
        var options = new StreamOptions { BlockSeconds = 0.25, ContextSeconds = 1 };
        float[] sync;
        using (var s = encoder.OpenStream(options)) sync = StreamReference.Stream(s, x48, 48000, 4000, out _);

        async IAsyncEnumerable<ReadOnlyMemory<float>> Source([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct = default)
        {
            for (int at = 0; at < x48.Length; at += 4000)
            {
                await Task.Yield();
                yield return x48.AsMemory(at, Math.Min(4000, x48.Length - at));
            }
        }
        var got = new List<float>();
        long next = 0;
        await foreach (var f in encoder.StreamAsync(Source(), 48000, options))
        {
            f.FirstFrame.Should().Be(next);
            next = f.EndFrame;
            got.AddRange(f.Features.Data);
        }
        got.Should().Equal(sync);

        using var cts = new CancellationTokenSource();
        int yielded = 0;
        Func<Task> cancelled = async () =>
        {
            await foreach (var f in encoder.StreamAsync(Source(), 48000, options, cts.Token))
                if (++yielded == 2) cts.Cancel();
        };
        await cancelled.Should().ThrowAsync<OperationCanceledException>();
        yielded.Should().Be(2);
    }

    [Fact]
    public void Bad_input_and_misuse_are_clear_errors()
    {
        using var encoder = SpeechEncoder.Load(Tiny);
        encoder.Invoking(e => e.OpenStream(new StreamOptions { BlockSeconds = 0 })).Should().Throw<ArgumentOutOfRangeException>().WithMessage("*BlockSeconds*");
        encoder.Invoking(e => e.OpenStream(new StreamOptions { ContextSeconds = -1 })).Should().Throw<ArgumentOutOfRangeException>().WithMessage("*ContextSeconds*");
        encoder.Invoking(e => e.OpenStream(new StreamOptions { ContextSeconds = double.NaN })).Should().Throw<ArgumentOutOfRangeException>().WithMessage("*ContextSeconds*");
        encoder.Invoking(e => e.OpenStream(new StreamOptions { LookaheadFrames = -1 })).Should().Throw<ArgumentOutOfRangeException>().WithMessage("*LookaheadFrames*");
        encoder.Invoking(e => e.OpenStream(new StreamOptions { Layers = LayerSelection.Layer(9) })).Should().Throw<ArgumentException>().WithMessage("*Layer index 9*");

        using var stream = encoder.OpenStream(new StreamOptions { BlockSeconds = 0.1, ContextSeconds = 0.5 });
        var bad = new float[100];
        bad[42] = float.NaN;
        stream.Invoking(s => s.Push(bad, 16000)).Should().Throw<ArgumentException>().WithMessage("*[42] is NaN*");
        stream.Invoking(s => s.Push(new float[10], 999)).Should().Throw<ArgumentOutOfRangeException>().WithMessage("*999 Hz*");
        stream.Push(new float[9600], 48000).Count.Should().BeGreaterThan(0);
        stream.Invoking(s => s.Push(new float[10], 44100)).Should().Throw<ArgumentException>().WithMessage("*48000 Hz*44100 Hz*Reset*");
        stream.Flush();
        stream.Invoking(s => s.Push(new float[10], 48000)).Should().Throw<InvalidOperationException>().WithMessage("*flushed*Reset*");
        stream.Flush().Count.Should().Be(0);
        stream.Reset();
        var again = stream.Push(new float[1600], 16000);
        again.FirstFrame.Should().Be(0, "a reset starts the frame indices again");
        again.Count.Should().Be(4);
        stream.Flush().Count.Should().Be(0, "1600 samples hold 4 complete frames");
        stream.Reset();
        stream.Push(new float[399], 16000).Count.Should().Be(0);
        stream.Flush().Count.Should().Be(0, "fewer samples than one frame needs give no frame, as offline gives none");
        stream.Dispose();
        stream.Invoking(s => s.Push(new float[1], 16000)).Should().Throw<ObjectDisposedException>();
        using var other = encoder.OpenStream(new StreamOptions());
        encoder.Dispose();
        other.Invoking(s => s.Push(new float[16000], 16000)).Should().Throw<ObjectDisposedException>();
    }
}
