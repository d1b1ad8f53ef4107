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

    /// <summary>The front end for <paramref name="model"/>: with <paramref name="reuse"/>, the one that keeps the most
    /// this model allows exactly.</summary>
    public static FrontEnd For(Wav2Vec2Model model, bool reuse)
    {
        var config = model.Config;
        if (!reuse) return new WholeWindow(model);
        if (config.ExtractorMode == ExtractorMode.LayerNorm && !config.NormalizeWaveform) return new FrameCache(model);
        // The waveform statistics are taken in float32 before the cast; folding them into a reduced-precision first
        // convolution would round differently, so those models recompute.
        if (config.NormalizeWaveform && model.DType != ScalarType.Float32) return new WholeWindow(model);
        return new FirstConvCache(model);
    }

    /// <summary>What this front end keeps between windows (for reports and the benchmark).</summary>
    public abstract string Kind { get; }

    /// <summary>Conv features of samples [<paramref name="s"/>, <paramref name="e"/>) (s a multiple of the hop), owned by
    /// the caller's dispose scope.</summary>
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
        return device.type == DeviceType.CPU ? wave : wave.to(device);
    }

    /// <summary>Everything recomputed for each window: the model's own front end on the window.</summary>
    private sealed class WholeWindow(Wav2Vec2Model model) : FrontEnd(model)
    {
        public override string Kind => "none";

        public override Tensor Features(SampleBuffer samples, long s, long e, Device device) =>
            Model.ConvFeatures(Wave(samples, s, e, device), null, BatchSemantics.Original).Features;
    }

    /// <summary>Layer-norm extractors on the raw waveform: every conv block normalizes each frame over its channels, so
    /// frame k depends on samples [320k, 320k + 400) alone and is computed once, whatever window it falls in.</summary>
    private sealed class FrameCache(Wav2Vec2Model model) : FrontEnd(model)
    {
        private readonly int hop = model.Config.ExtractorConvLayerConfig.Aggregate(1, (a, c) => a * c.Stride);
        private readonly int field = model.Config.MinimumSamples;
        private readonly KeptPositions frames = new(trimStep: 256);

        public override string Kind => "conv features per frame";

        public override Tensor Features(SampleBuffer samples, long s, long e, Device device) =>
            frames.Get(s / hop, (e - field) / hop + 1, (from, to) =>
                Model.ConvFeatures(Wave(samples, from * hop, (to - 1) * hop + field, device), null, BatchSemantics.Original).Features);

        public override void DropBefore(long frame) => frames.DropBefore(frame);

        public override void Reset() => frames.Reset();

        public override void Dispose() => frames.Reset();
    }

    /// <summary>Group-norm extractors (statistics over the window) and waveform-normalizing models: the first
    /// convolution's output at position j depends on samples [5j, 5j + 10) alone, so its bias-free part is computed once;
    /// each window adds the bias and, for normalized waveforms, the window's statistics (conv(a(x − μ)) =
    /// a·conv(x) − a·μ·Σw), then runs the rest of the extractor.</summary>
    private sealed class FirstConvCache : FrontEnd
    {
        private readonly ConvLayerBlock block0;
        private readonly int stride, kernel, hop;
        private readonly bool normalize;
        private readonly KeptPositions positions = new(trimStep: 4096);

        public FirstConvCache(Wav2Vec2Model model) : base(model)
        {
            block0 = model.FeatureExtractor.ConvLayers[0];
            stride = block0.Stride;
            kernel = block0.KernelSize;
            hop = model.Config.ExtractorConvLayerConfig.Aggregate(1, (a, c) => a * c.Stride);
            normalize = model.Config.NormalizeWaveform;
        }

        public override string Kind => "first convolution";

        public override Tensor Features(SampleBuffer samples, long s, long e, Device device)
        {
            var z = positions.Get(s / stride, (e - kernel) / stride + 1, (from, to) =>
            {
                var wave = Wave(samples, from * stride, (to - 1) * stride + kernel, device);
                if (wave.dtype != Model.DType) wave = wave.to(Model.DType);
                return GemmConvolution.Conv(wave.unsqueeze(-1), block0.Conv.Weight, null, stride);
            });
            if (normalize)
            {
                // The model's layer_norm over the window: mean μ and biased variance in float32, eps 1e-5.
                using var window = Wave(samples, s, e, device);
                var mean = window.mean();
                var variance = window.Minus(mean).square().mean();
                var scale = variance.Plus(1e-5).rsqrt();
                using var wsum = block0.Conv.Weight.sum(new long[] { 1, 2 });
                z = z.mul(scale).Minus(wsum.mul(scale.mul(mean)));
            }
            if (block0.Conv.Bias is { } bias) z = z.Plus(bias);
            return Model.FeatureExtractor.ForwardFromFirstConv(z);
        }

        public override void DropBefore(long frame) => positions.DropBefore(frame * hop / stride);

        public override void Reset() => positions.Reset();

        public override void Dispose() => positions.Reset();
    }

    /// <summary>Values per position [1, n, C] kept for positions [first, first + n) of a stream, extended as windows
    /// advance and trimmed in steps of <paramref name="trimStep"/> (not a copy per block).</summary>
    private sealed class KeptPositions(long trimStep)
    {
        private Tensor? kept;
        private long first;

        /// <summary>Positions [from, to) as a view in the caller's dispose scope, computing the new ones with
        /// <paramref name="compute"/>(start, end) (a tensor [1, end − start, C] in a scope of its own).</summary>
        public Tensor Get(long from, long to, Func<long, long, Tensor> compute)
        {
            long have = kept is null ? from : first + kept.shape[1];
            if (kept is not null && (from < first || have < from))
            {
                // Not the next window of a stream (never happens from SpeechStream): start again rather than misalign.
                Reset();
                have = from;
            }
            if (kept is null) first = from;
            if (to > have)
            {
                using var scope = NewDisposeScope();
                var fresh = compute(have, to);
                var all = kept is null ? fresh : cat(new[] { kept, fresh }, 1);
                kept?.Dispose();
                kept = all.DetachFromDisposeScope();
            }
            return kept!.narrow(1, from - first, to - from);
        }

        /// <summary>No later window reads a position before <paramref name="position"/>.</summary>
        public void DropBefore(long position)
        {
            if (kept is null || position <= first) return;
            long drop = Math.Min(position - first, kept.shape[1]);
            if (drop < trimStep && drop < kept.shape[1]) return;
            var rest = kept.narrow(1, drop, kept.shape[1] - drop).contiguous();
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
