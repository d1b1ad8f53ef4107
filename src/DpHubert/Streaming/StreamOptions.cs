using System;
using DpHubert.Audio;
using DpHubert.Extraction;

namespace DpHubert.Streaming;

/// <summary>How a <see cref="SpeechStream"/> cuts the audio into windows and what it returns (the CLI's
/// <c>dphubert stream --block --context --lookahead --layer</c>).</summary>
public sealed record StreamOptions
{
    /// <summary>Seconds of audio per block (default 0.25 s, RVC's default): after each full block the stream returns
    /// every frame that became final. Rounded to whole 16 kHz samples; any length of at least one sample.</summary>
    public double BlockSeconds { get; init; } = 0.25;

    /// <summary>Seconds of past audio the model sees before each block (default 2.5 s, RVC's default extra context).</summary>
    public double ContextSeconds { get; init; } = 2.5;

    /// <summary>Frames (20 ms each) of audio after a frame that must have arrived before it is final (default 0): more
    /// right context for the attention at the cost of 20 ms of latency each.</summary>
    public int LookaheadFrames { get; init; }

    /// <summary>Which output, as <see cref="SpeechEncoder.Extract(float[], LayerSelection)"/> takes it (default the
    /// model's final output). The encoder's projection and so-vits-svc units padding apply as they do there.</summary>
    public LayerSelection Layers { get; init; }

    /// <summary>Keep what provably does not change between windows instead of recomputing it (default true): the
    /// convolutional front end's per-frame outputs for layer-norm extractors without waveform normalization, the first
    /// convolution's outputs otherwise. The frames equal those computed without reuse within float rounding.</summary>
    public bool ReuseFrontEnd { get; init; } = true;

    /// <summary>The block in 16 kHz samples.</summary>
    public int BlockSamples => (int)Math.Round(BlockSeconds * AudioPreprocessor.TargetSampleRate);

    /// <summary>The context in 16 kHz samples.</summary>
    public long ContextSamples => (long)Math.Round(ContextSeconds * AudioPreprocessor.TargetSampleRate);

    /// <summary>Checks the values.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A value out of range, named (and as data: <see cref="OptionText.Of"/>).</exception>
    public void Validate()
    {
        if (!(double.IsFinite(BlockSeconds) && BlockSeconds > 0 && BlockSeconds <= 3600 && BlockSamples >= 1))
            throw new OptionText($"{ApiOption.BlockSeconds} must be a number of seconds from 1/16000 (one 16 kHz sample) to 3600.").OutOfRange(BlockSeconds);
        if (!(double.IsFinite(ContextSeconds) && ContextSeconds >= 0 && ContextSeconds <= 3600))
            throw new OptionText($"{ApiOption.ContextSeconds} must be a number of seconds from 0 to 3600.").OutOfRange(ContextSeconds);
        if (LookaheadFrames is < 0 or > 1_000_000)
            throw new OptionText($"{ApiOption.LookaheadFrames} must be a number of frames from 0 to 1000000.").OutOfRange(LookaheadFrames);
    }
}

/// <summary>Frames a <see cref="SpeechStream"/> returned: consecutive frames starting at the absolute frame index
/// <see cref="FirstFrame"/> (frame k covers 16 kHz samples [320k, 320k + 400) of the utterance since the stream was
/// opened or reset).</summary>
/// <param name="FirstFrame">Absolute index of the first frame.</param>
/// <param name="Features">[frames, dim], or [layers + 1, frames, dim] for <see cref="LayerSelection.AllLayers"/>;
/// no frames when nothing became final.</param>
public sealed record StreamFrames(long FirstFrame, FeatureArray Features)
{
    /// <summary>Number of frames.</summary>
    public int Count => (int)Features.Frames;

    /// <summary>Absolute index one past the last frame.</summary>
    public long EndFrame => FirstFrame + Count;

    /// <summary>The features of absolute frame <paramref name="frame"/> (for one selected layer; with
    /// <see cref="LayerSelection.AllLayers"/>, of layer 0 — index <see cref="Features"/> for the others).</summary>
    /// <param name="frame">An index from <see cref="FirstFrame"/> to <see cref="EndFrame"/> - 1.</param>
    public ReadOnlySpan<float> Frame(long frame)
    {
        if (frame < FirstFrame || frame >= EndFrame)
            throw new ArgumentOutOfRangeException(nameof(frame), frame, $"frame {frame} is not among these frames [{FirstFrame}, {EndFrame}).");
        int dim = (int)Features.Dim;
        return Features.Data.AsSpan((int)(frame - FirstFrame) * dim, dim);
    }
}
