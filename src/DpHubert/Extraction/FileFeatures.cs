using System;

namespace DpHubert.Extraction;

/// <summary>The outcome for one file of <see cref="SpeechEncoder.ExtractFiles"/>: features or the error.</summary>
/// <param name="Path">The input path.</param>
/// <param name="Features">The features, or null when <paramref name="Error"/> is set.</param>
/// <param name="Error">Why this file failed, or null: <see cref="DpHubert.Audio.AudioFormatException"/> (unreadable WAV,
/// unusable sample rate, NaN samples), <see cref="ArgumentException"/> (too short), <see cref="InsufficientMemoryException"/>
/// (too long to fit: use <see cref="ExtractionOptions.ChunkSeconds"/>), or whatever libtorch or the runtime threw
/// (e.g. <see cref="System.Runtime.InteropServices.ExternalException"/>, <see cref="OutOfMemoryException"/>).</param>
/// <param name="Samples16k">The file's length in samples after resampling to 16 kHz, before any padding of
/// <see cref="SpeechEncoderOptions.Units"/> (0 when unreadable): the same count <see cref="DpHubert.Audio.AudioPreprocessor.LoadMono16k(string)"/> gives.</param>
public sealed record FileFeatures(string Path, FeatureArray? Features, Exception? Error, long Samples16k)
{
    /// <summary>Whether extraction succeeded.</summary>
    public bool Succeeded => Error is null;
}
