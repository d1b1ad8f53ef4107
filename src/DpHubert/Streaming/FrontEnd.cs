using System;
using System.Runtime.InteropServices;
using System.Linq;
using DpHubert.Audio;
using DpHubert.Config;
using DpHubert.Modules;
using TorchSharp;
using static TorchSharp.torch;

namespace DpHubert.Streaming;

/// <summary>The convolutional front end of a stream's windows: conv features [1, frames, C] of samples [s, e), with
/// whatever can be kept between windows kept.</summary>
internal abstract class FrontEnd : IDisposable
{
    protected FrontEnd(Wav2Vec2Model model) => Model = model;

    protected Wav2Vec2Model Model { get; }

    /// <summary>The front end for <paramref name="model"/>: with <paramref name="reuse"/>, the one that keeps what this
    /// model allows exactly and what pays. Only layer-norm extractors on the raw waveform keep anything (each frame's conv
    /// features, 12% less compute per block for HuBERT Large); keeping the first convolution of group-norm or
    /// waveform-normalizing extractors cost 1-4% (their statistics span the window, so everything after the first
    /// convolution is recomputed, and the default path already fuses the first two layers), so they recompute.</summary>
    public static FrontEnd For(Wav2Vec2Model model, bool reuse)
    {
        var config = model.Config;
        if (reuse && config.ExtractorMode == ExtractorMode.LayerNorm && !config.NormalizeWaveform) return new FrameCache(model);
        return new WholeWindow(model);
    }

    /// <summary>What this front end keeps between windows (for reports and the benchmark).</summary>
    public abstract string Kind { get; }

    /// <summary>Conv features of samples [<paramref name="s"/>, <paramref name="e"/>) (s a multiple of the hop); the caller
    /// disposes them (no dispose scope is needed around a block).</summary>
    public abstract Tensor Features(SampleBuffer samples, long s, long e, Device device);

    /// <summary>No later window starts before frame <paramref name="frame"/>.</summary>
    public virtual void DropBefore(long frame) { }

    /// <summary>A new utterance.</summary>
    public virtual void Reset() { }

    public virtual void Dispose() { }

    /// <summary>Samples [from, to) as a float32 [1, n] tensor on <paramref name="device"/>.</summary>
    protected static Tensor Wave(SampleBuffer samples, long from, long to, Device device)
    {
        var wave = empty(1, to - from, dtype: ScalarType.Float32);
        samples.Slice(from, (int)(to - from)).CopyTo(MemoryMarshal.Cast<byte, float>(wave.bytes));
        if (device.type == DeviceType.CPU) return wave;
        using (wave) return wave.to(device);
    }

    /// <summary>Everything recomputed for each window: the model's own front end on the window.</summary>
    private sealed class WholeWindow(Wav2Vec2Model model) : FrontEnd(model)
    {
        public override string Kind => "none";

        public override Tensor Features(SampleBuffer samples, long s, long e, Device device)
        {
            using var wave = Wave(samples, s, e, device);
            return Model.ConvFeatures(wave, null, BatchSemantics.Original).Features;
        }
    }

    /// <summary>Layer-norm extractors on the raw waveform: every conv block normalizes each frame over its channels, so
    /// frame k depends on samples [320k, 320k + 400) alone and is computed once, whatever window it falls in. The model's
    /// own extractor computes the new frames, so its <see cref="ConvolutionPath"/> holds here too.</summary>
    private sealed class FrameCache(Wav2Vec2Model model) : FrontEnd(model)
    {
        private readonly int hop = model.Config.ExtractorConvLayerConfig.Aggregate(1, (a, c) => a * c.Stride);
        private readonly int field = model.Config.MinimumSamples;
        private readonly KeptPositions frames = new(trimStep: 256);

        public override string Kind => "conv features per frame";

        public override Tensor Features(SampleBuffer samples, long s, long e, Device device)
        {
            long from = s / hop, to = (e - field) / hop + 1;
            long fresh = frames.FirstMissing(from);
            if (to > fresh)
            {
                using var wave = Wave(samples, fresh * hop, (to - 1) * hop + field, device);
                using var computed = Model.ConvFeatures(wave, null, BatchSemantics.Original).Features;
                frames.Append(computed);
            }
            return frames.View(from, to);
        }

        public override void DropBefore(long frame) => frames.DropBefore(frame);

        public override void Reset() => frames.Reset();

        public override void Dispose() => frames.Reset();
    }

    /// <summary>Values per position [1, n, C] kept for positions [first, first + n) of a stream, extended as windows
    /// advance and trimmed in steps of <paramref name="trimStep"/> (not a copy per block).</summary>
    private sealed class KeptPositions(long trimStep)
    {
        private Tensor? kept;
        private long first;

        /// <summary>The first position not kept, for a window starting at <paramref name="from"/>: the caller computes
        /// the positions from there and <see cref="Append"/>s them.</summary>
        public long FirstMissing(long from)
        {
            long have = kept is null ? from : first + kept.size(1);
            if (kept is not null && (from < first || have < from))
            {
                // Not the next window of a stream (never happens from SpeechStream): start again rather than misalign.
                Reset();
                have = from;
            }
            if (kept is null) first = from;
            return have;
        }

        /// <summary>Keeps <paramref name="fresh"/> [1, m, C] as the positions after those kept (a copy; the caller
        /// still owns <paramref name="fresh"/>).</summary>
        public void Append(Tensor fresh)
        {
            var all = kept is null ? fresh.alias() : cat(new[] { kept, fresh }, 1);
            kept?.Dispose();
            kept = all.DetachFromDisposeScope();
        }

        /// <summary>Positions [from, to) as a view the caller disposes.</summary>
        public Tensor View(long from, long to) => kept!.narrow(1, from - first, to - from);

        /// <summary>No later window reads a position before <paramref name="position"/>.</summary>
        public void DropBefore(long position)
        {
            if (kept is null || position <= first) return;
            long n = kept.size(1), drop = Math.Min(position - first, n);
            if (drop < trimStep && drop < n) return;
            Tensor rest;
            using (var view = kept.narrow(1, drop, n - drop)) rest = view.contiguous();
            kept.Dispose();
            kept = rest.DetachFromDisposeScope();
            first += drop;
        }

        public void Reset()
        {
            kept?.Dispose();
            kept = null;
            first = 0;
        }
    }
}
