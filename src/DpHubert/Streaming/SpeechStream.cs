using System;
using System.Diagnostics;
using System.Linq;
using System.Runtime.InteropServices;
using System.Threading;
using DpHubert.Audio;
using DpHubert.Extraction;
using TorchSharp;
using static TorchSharp.torch;

namespace DpHubert.Streaming;

/// <summary>
/// Turns audio pushed as it arrives (live voice conversion) into the frames that became final, with their absolute
/// indices. Open one with <see cref="SpeechEncoder.OpenStream"/>; dispose it when done.
/// </summary>
/// <remarks>
/// <para><b>Frames.</b> Frame k covers 16 kHz samples [320k, 320k + 400) and is final once those samples and
/// <see cref="StreamOptions.LookaheadFrames"/> × 320 samples more have arrived. Samples are counted at 16 kHz after
/// resampling; the streamed resampling equals resampling the whole recording, so it holds back the few samples its
/// filter still needs input for (under 0.5 ms). After each full block (every
/// <see cref="StreamOptions.BlockSamples"/> samples since the start, whatever sizes the pushes have), every final frame
/// not yet returned is returned; a push that completes several blocks handles each in turn, so the frames depend on the
/// audio alone, never on how it was cut into pushes. <see cref="Flush"/> returns the remaining complete frames, so
/// all the frames of an utterance are exactly those offline extraction gives.</para>
/// <para><b>Window mode.</b> At a block ending at sample e, the frames are computed on samples [s, e), with
/// s = max(0, e − block − context) rounded down to a multiple of 320 (moved back further only when the context is
/// shorter than a frame plus the lookahead and a frame to return starts before it), and equal within float rounding
/// frame k − s / 320 of the model's output on that window: what RVC and w-okada's voice changer compute, without the
/// hand-made windowing. <see cref="Flush"/> uses the window that ends at the end of input. What provably does not
/// change between windows is kept (<see cref="StreamOptions.ReuseFrontEnd"/>).</para>
/// <para><b>Threads.</b> Any number of streams may share one encoder, each on its own thread. One stream takes one
/// call at a time: a call made while another thread's call on the same stream is running throws
/// <see cref="InvalidOperationException"/> (use it from one thread, or serialize the calls).</para>
/// </remarks>
/// <example>
/// <code>
/// using var encoder = SpeechEncoder.Load("DPHuBERT-sp0.75.pth");
/// using var stream = encoder.OpenStream(new StreamOptions { BlockSeconds = 0.25, ContextSeconds = 1 });
/// foreach (float[] block in microphone)                     // 48 kHz mono blocks of any size
///     Send(stream.Push(block, 48000));                     // frames that became final, with absolute indices
/// Send(stream.Flush());                                    // the rest at the end of the utterance
/// </code>
/// </example>
public sealed class SpeechStream : IDisposable
{
    private readonly SpeechEncoder encoder;
    private readonly Wav2Vec2Model model;
    private readonly StreamOptions options;
    private readonly int hop, field, block, padSamples, lead, dim;
    private readonly long context, lookaheadSamples;
    private readonly SampleBuffer samples = new();
    private readonly FrontEnd frontEnd;
    private StreamingResampler? resampler;
    private readonly StreamFrames empty;
    private (long End, long Frames)[] windows = new (long, long)[4]; // reused: a push allocates only the frames it returns
    private long nextBoundary, nextFrame;
    private bool started, flushed, disposed;
    private int busy;

    internal SpeechStream(SpeechEncoder encoder, StreamOptions options)
    {
        ArgumentNullException.ThrowIfNull(encoder);
        options.Validate();
        encoder.Validate(options.Layers);
        this.encoder = encoder;
        this.options = options;
        model = encoder.Model;
        var config = model.Config;
        hop = config.ExtractorConvLayerConfig.Aggregate(1, (a, c) => a * c.Stride);
        field = config.MinimumSamples;
        block = options.BlockSamples;
        context = options.ContextSamples;
        lookaheadSamples = (long)options.LookaheadFrames * hop;
        padSamples = encoder.Units?.PadSamples ?? 0;
        var layers = options.Layers;
        lead = layers.All ? model.NumLayers + 1 : 1;
        dim = encoder.Projection is { } p ? (int)p.OutFeatures
            : layers.Index is null && !layers.All && config.AuxNumOut is { } aux ? aux : config.EncoderEmbedDim;
        frontEnd = FrontEnd.For(model, options.ReuseFrontEnd);
        empty = new StreamFrames(0, new FeatureArray(Array.Empty<float>(), lead > 1 ? new long[] { lead, 0, dim } : new long[] { 0, dim }));
        nextBoundary = block;
    }

    /// <summary>The options.</summary>
    public StreamOptions Options => options;

    /// <summary>16 kHz samples received in this utterance (after resampling, including the units padding).</summary>
    public long SamplesReceived => samples.End;

    /// <summary>Absolute index of the next frame to be returned.</summary>
    public long NextFrame => nextFrame;

    /// <summary>What the stream keeps between windows: "conv features per frame", "first convolution" or "none".</summary>
    public string Reuse => frontEnd.Kind;

    /// <summary>The input rate of this utterance, or null before the first push.</summary>
    public int? SampleRate => resampler?.FromRate;

    /// <summary>Takes the next samples of the utterance and returns the frames that became final.</summary>
    /// <param name="samples">Mono samples in [-1, 1], any number (none is fine).</param>
    /// <param name="sampleRate">Their rate (the same for the whole utterance; <see cref="Reset"/> to change it).</param>
    /// <returns>The frames completed by the blocks this push filled (often none).</returns>
    /// <exception cref="ArgumentException">A NaN or infinite sample (named by index), or a rate other than the
    /// utterance's.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A rate outside <see cref="AudioPreprocessor.MinSampleRate"/>..
    /// <see cref="AudioPreprocessor.MaxSampleRate"/>.</exception>
    /// <exception cref="InvalidOperationException">Another thread is inside a call on this stream, or the stream was
    /// flushed (call <see cref="Reset"/> first).</exception>
    public StreamFrames Push(ReadOnlySpan<float> samples, int sampleRate)
    {
        Enter();
        try
        {
            if (flushed)
                throw new InvalidOperationException("This SpeechStream was flushed (its utterance ended); call Reset() to start a new one.");
            if (sampleRate is < AudioPreprocessor.MinSampleRate or > AudioPreprocessor.MaxSampleRate)
                throw new ArgumentOutOfRangeException(nameof(sampleRate), sampleRate,
                    $"sample rate {sampleRate} Hz is outside the supported {AudioPreprocessor.MinSampleRate}..{AudioPreprocessor.MaxSampleRate} Hz");
            if (resampler is { } r && r.FromRate != sampleRate)
                throw new ArgumentException($"This utterance is at {r.FromRate} Hz, but {sampleRate} Hz samples were pushed; call Reset() to start a new utterance at another rate.", nameof(sampleRate));
            AudioPreprocessor.ThrowIfNotFinite(samples, nameof(samples));
            resampler ??= new StreamingResampler(sampleRate);
            Start();
            resampler.Push(samples, this.samples);
            return Blocks();
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>Ends the utterance: returns every remaining complete frame, computed on the window that ends at the end
    /// of input (after the blocks the resampler's last samples complete). The stream then takes no more samples until
    /// <see cref="Reset"/>.</summary>
    /// <exception cref="InvalidOperationException">Another thread is inside a call on this stream.</exception>
    public StreamFrames Flush()
    {
        Enter();
        try
        {
            if (flushed) return Empty();
            flushed = true;
            if (!started) return Empty();
            resampler!.Flush(samples);
            samples.AppendZeros(padSamples);
            var blocks = Blocks();
            long e = samples.End;
            long end = Math.Max(nextFrame, FramesIn(e));
            if (end == nextFrame) return blocks;
            windows[0] = (e, end);
            return Merge(blocks, Compute(1));
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>Starts a new utterance: forgets every sample and kept value; frame indices start at 0 again and the next
    /// push may have another rate.</summary>
    /// <exception cref="InvalidOperationException">Another thread is inside a call on this stream.</exception>
    public void Reset()
    {
        Enter();
        try
        {
            samples.Clear();
            resampler = null;
            frontEnd.Reset();
            nextBoundary = block;
            nextFrame = 0;
            started = flushed = false;
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>Frees what the stream keeps (the encoder stays open).</summary>
    /// <exception cref="InvalidOperationException">Another thread is inside a call on this stream.</exception>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref busy, 1) != 0)
            throw new InvalidOperationException("This SpeechStream is in a call on another thread; dispose it after that call returns.");
        try
        {
            if (disposed) return;
            disposed = true;
            frontEnd.Dispose();
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>Runs the model once on a full window of silence (block + context) without changing the stream, so the
    /// first real block does not pay for libtorch's first pass and kernel choices.</summary>
    /// <exception cref="InvalidOperationException">Another thread is inside a call on this stream.</exception>
    public void WarmUp()
    {
        Enter();
        try
        {
            long length = Math.Max(field, block + context) / hop * hop + field - hop;
            var window = new SampleBuffer();
            window.AppendZeros((int)length);
            using var warm = FrontEnd.For(model, reuse: false);
            using var lease = encoder.Use();
            using var scope = NewDisposeScope();
            using var mode = inference_mode();
            var features = warm.Features(window, 0, length, encoder.Device);
            using var y = model.Encode(features, null);
        }
        finally
        {
            Exit();
        }
    }

    private void Start()
    {
        if (started) return;
        started = true;
        samples.AppendZeros(padSamples); // so-vits-svc units pad the utterance's start and end
    }

    /// <summary>Complete frames in the first <paramref name="e"/> samples.</summary>
    private long FramesIn(long e) => e < field ? 0 : (e - field) / hop + 1;

    /// <summary>Handles every block boundary the received samples reached.</summary>
    private StreamFrames Blocks()
    {
        long e = samples.End;
        if (e < nextBoundary) return Empty();
        long count = (e - nextBoundary) / block + 1;
        if (windows.Length < count) windows = new (long, long)[Math.Max(count, 2 * windows.Length)];
        int n = 0;
        for (long k = 0; k < count; k++)
        {
            long b = nextBoundary + k * block;
            long final = FramesIn(b - lookaheadSamples);
            if (final > (n == 0 ? nextFrame : windows[n - 1].Frames)) windows[n++] = (b, final);
        }
        nextBoundary += count * block;
        return n == 0 ? Empty() : Compute(n);
    }

    // No frames: one shared empty array (nothing allocated when a push completes no block).
    private StreamFrames Empty() => empty.FirstFrame == nextFrame ? empty : empty with { FirstFrame = nextFrame };

    private static StreamFrames Merge(StreamFrames a, StreamFrames b)
    {
        if (a.Count == 0) return b;
        int lead = a.Features.Shape.Length == 3 ? (int)a.Features.Shape[0] : 1;
        long dim = a.Features.Dim, n = a.Count + b.Count;
        var data = new float[lead * n * dim];
        for (int l = 0; l < lead; l++)
        {
            a.Features.Data.AsSpan((int)(l * a.Count * dim), (int)(a.Count * dim)).CopyTo(data.AsSpan((int)(l * n * dim)));
            b.Features.Data.AsSpan((int)(l * b.Count * dim), (int)(b.Count * dim)).CopyTo(data.AsSpan((int)((l * n + a.Count) * dim)));
        }
        return new StreamFrames(a.FirstFrame, new FeatureArray(data, lead > 1 ? new[] { lead, n, dim } : new[] { n, dim }));
    }

    /// <summary>Computes the frames [nextFrame, windows[i].Frames) for the first <paramref name="n"/> windows, each on
    /// the samples that end at windows[i].End, into one result.</summary>
    private StreamFrames Compute(int n)
    {
        long first = nextFrame, total = windows[n - 1].Frames - first;
        var data = new float[lead * total * dim];
        using var lease = encoder.Use();
        // Ends after every window's tensors are freed, so the trim policy sees them free.
        using var pass = encoder.Device.type == DeviceType.CPU ? NativeHeap.Pass(encoder.EstimatePassBytes(1, block + context + hop)) : (NativeHeap.PassLease?)null;
        for (int i = 0; i < n; i++)
        {
            var (e, end) = windows[i];
            long s = Math.Max(0, e - block - context) / hop * hop;
            s = Math.Min(s, nextFrame * hop);
            encoder.PassStarting(1, e - s);
            ComputeWindow(s, e, nextFrame, end, data, (int)(nextFrame - first), (int)total);
            nextFrame = end;
            samples.DropBefore(s); // later windows start at s or after
            frontEnd.DropBefore(s / hop);
        }
        return new StreamFrames(first, new FeatureArray(data, lead > 1 ? new[] { (long)lead, total, dim } : new[] { total, dim }));
    }

    /// <summary>The model on samples [s, e); frames [from, to) (absolute) into <paramref name="data"/> at frame
    /// <paramref name="at"/> of <paramref name="total"/>.</summary>
    private void ComputeWindow(long s, long e, long from, long to, float[] data, int at, int total)
    {
        // No dispose scope: the modules free their intermediates as they go and this frees what it gets, so a block
        // allocates no managed set of owned tensors (SpeechStreamAllocationTests).
        using var mode = inference_mode();
        using var features = frontEnd.Features(samples, s, e, encoder.Device);
        long skip = from - s / hop, count = to - from;
        var layers = options.Layers;
        Tensor selected; // [lead, count, dim] or [1, count, dim]: the same memory as the frames' layout
        if (layers.Index is null && !layers.All)
        {
            using var y = model.Encode(features, null);
            selected = y.narrow(1, skip, count);
        }
        else
        {
            int numLayers = layers.All ? model.NumLayers : Math.Max(1, layers.Index!.Value);
            var all = model.Encoder.ExtractFeatures(features, null, numLayers);
            try
            {
                if (layers.All)
                {
                    var parts = new Tensor[all.Count];
                    try
                    {
                        for (int i = 0; i < parts.Length; i++) parts[i] = all[i].narrow(1, skip, count);
                        selected = cat(parts, 0);
                    }
                    finally
                    {
                        foreach (var p in parts) p?.Dispose();
                    }
                }
                else selected = all[layers.Index!.Value].narrow(1, skip, count);
            }
            finally
            {
                foreach (var t in all) t.Dispose();
            }
        }
        try
        {
            if (encoder.Projection is { } projection) selected = Scopes.Replace(selected, projection.Apply(selected), null);
            // Only the conversions needed (each call is a new wrapper object, managed garbage per block).
            if (selected.dtype != ScalarType.Float32) selected = Scopes.Replace(selected, selected.to(ScalarType.Float32), null);
            if (selected.device_type != DeviceType.CPU) selected = Scopes.Replace(selected, selected.cpu(), null);
            if (!selected.is_contiguous()) selected = Scopes.Replace(selected, selected.contiguous(), null);
            var values = MemoryMarshal.Cast<byte, float>(selected.bytes);
            for (int l = 0; l < lead; l++)
                values.Slice((int)(l * count * dim), (int)(count * dim)).CopyTo(data.AsSpan((int)(((long)l * total + at) * dim)));
        }
        finally
        {
            selected.Dispose();
        }
    }

    private void Enter()
    {
        if (Interlocked.Exchange(ref busy, 1) != 0)
            throw new InvalidOperationException(
                "This SpeechStream is already in a call on another thread: a stream takes one call at a time. Use one stream per thread (streams may share one SpeechEncoder), or serialize the calls.");
        if (disposed)
        {
            Volatile.Write(ref busy, 0);
            throw new ObjectDisposedException(nameof(SpeechStream));
        }
    }

    private void Exit() => Volatile.Write(ref busy, 0);
}
