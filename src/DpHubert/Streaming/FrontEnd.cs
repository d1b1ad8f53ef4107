using System;
using System.Runtime.InteropServices;
using DpHubert.Audio;
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
    public static FrontEnd For(Wav2Vec2Model model, bool reuse) => new WholeWindow(model);

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
        public override Tensor Features(SampleBuffer samples, long s, long e, Device device) =>
            Model.ConvFeatures(Wave(samples, s, e, device), null, BatchSemantics.Original).Features;
    }
}
