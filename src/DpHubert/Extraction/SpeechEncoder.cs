using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using DpHubert.Audio;
using DpHubert.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace DpHubert.Extraction;

/// <summary>Which output of the model to return.</summary>
public readonly record struct LayerSelection
{
    private LayerSelection(int? index, bool all)
    {
        Index = index;
        All = all;
    }

    /// <summary>The model's final output, <c>model(wave)[0]</c> (aux logits when the model has an aux head).</summary>
    public static LayerSelection Final { get; } = new(null, false);

    /// <summary>Every <c>extract_features</c> output stacked: [layers + 1, frames, dim].</summary>
    public static LayerSelection AllLayers { get; } = new(null, true);

    /// <summary><c>extract_features</c> index <paramref name="index"/>: 0 = the transformer's input, N = after layer N.</summary>
    /// <param name="index">0..L.</param>
    public static LayerSelection Layer(int index) => index >= 0 ? new(index, false)
        : throw new ArgumentOutOfRangeException(nameof(index), index, "A layer index must be >= 0.");

    /// <summary>The <c>extract_features</c> index, or null for <see cref="Final"/> / <see cref="AllLayers"/>.</summary>
    public int? Index { get; }

    /// <summary>Whether every layer is selected.</summary>
    public bool All { get; }

    /// <summary>Parses <c>final</c>, <c>all</c> or a layer number (as the CLI's <c>--layer</c>).</summary>
    /// <param name="text">The text.</param>
    /// <exception cref="FormatException">Anything else.</exception>
    public static LayerSelection Parse(string? text) => text switch
    {
        null or "" or "final" => Final,
        "all" => AllLayers,
        _ when int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int n) => Layer(n),
        _ => throw new FormatException($"--layer must be a layer number, 'all' or 'final'; got '{text}'."),
    };

    /// <inheritdoc/>
    public override string ToString() => All ? "all" : Index?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "final";
}

/// <summary>Features of one input as a dense float32 array in C order.</summary>
/// <param name="Data">Values.</param>
/// <param name="Shape">[frames, dim], or [layers + 1, frames, dim] for <see cref="LayerSelection.AllLayers"/>.</param>
public sealed record FeatureArray(float[] Data, long[] Shape)
{
    /// <summary>Number of frames.</summary>
    public long Frames => Shape[^2];

    /// <summary>Feature dimension.</summary>
    public long Dim => Shape[^1];
}

/// <summary>Options for <see cref="SpeechEncoder"/>.</summary>
public sealed record SpeechEncoderOptions
{
    /// <summary><c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>.</summary>
    public string Device { get; init; } = "cpu";

    /// <summary>Weights and compute dtype: <c>float32</c> (default, matches PyTorch), <c>bfloat16</c> or <c>float16</c>.</summary>
    public string DType { get; init; } = "float32";

    /// <summary>CPU threads for libtorch (null leaves libtorch's default).</summary>
    public int? Threads { get; init; }

    /// <summary>Hints for checkpoints that need them (bare torchaudio state_dicts).</summary>
    public CheckpointReadOptions? Checkpoint { get; init; }
}

/// <summary>
/// Loads a checkpoint once and turns audio into features: the library API behind the <c>dphubert extract</c> command.
/// Thread-safe for sequential use from one thread at a time; owns native memory, so dispose it.
/// </summary>
/// <example>
/// <code>
/// using var encoder = SpeechEncoder.Load("DPHuBERT-sp0.75.pth");
/// FeatureArray units = encoder.ExtractFile("voice.wav");            // [frames, 768], any WAV, any rate
/// FeatureArray layer9 = encoder.ExtractFile("voice.wav", LayerSelection.Layer(9));
/// </code>
/// </example>
public sealed class SpeechEncoder : IDisposable
{
    private readonly Wav2Vec2Model model;

    private SpeechEncoder(Wav2Vec2Model model, LoadReport report, Device device, ScalarType dtype)
    {
        this.model = model;
        Report = report;
        Device = device;
        DType = dtype;
    }

    /// <summary>The model (eval mode).</summary>
    public Wav2Vec2Model Model => model;

    /// <summary>What loading the checkpoint did.</summary>
    public LoadReport Report { get; }

    /// <summary>The device.</summary>
    public Device Device { get; }

    /// <summary>The compute dtype.</summary>
    public ScalarType DType { get; }

    /// <summary>Loads a checkpoint (any supported format: file or folder).</summary>
    /// <param name="checkpoint">Path.</param>
    /// <param name="options">Device, dtype, threads.</param>
    /// <exception cref="ArgumentException">Bad device or dtype, or CUDA unavailable.</exception>
    /// <exception cref="FileNotFoundException">No such checkpoint.</exception>
    /// <exception cref="CheckpointFormatException">Not a readable checkpoint.</exception>
    public static SpeechEncoder Load(string checkpoint, SpeechEncoderOptions? options = null)
    {
        options ??= new SpeechEncoderOptions();
        var device = Devices.Parse(options.Device);
        var dtype = Devices.ParseDType(options.DType);
        if (options.Threads is { } threads)
        {
            if (threads <= 0) throw new ArgumentOutOfRangeException(nameof(options), threads, "--threads must be >= 1.");
            torch.set_num_threads(threads);
        }
        var (model, report) = CheckpointLoader.LoadModel(checkpoint, device, options.Checkpoint);
        if (dtype != ScalarType.Float32) model.to(dtype);
        return new SpeechEncoder(model, report, device, dtype);
    }

    /// <summary>Features of a WAV file (any encoding, channel count and rate; mixed to mono, resampled to 16 kHz).</summary>
    /// <param name="path">The WAV file.</param>
    /// <param name="layers">Which output.</param>
    public FeatureArray ExtractFile(string path, LayerSelection layers = default) =>
        Extract(AudioPreprocessor.LoadMono16k(path), layers);

    /// <summary>Features of WAV data in a stream.</summary>
    /// <param name="stream">WAV bytes.</param>
    /// <param name="layers">Which output.</param>
    public FeatureArray ExtractStream(Stream stream, LayerSelection layers = default) =>
        Extract(AudioPreprocessor.LoadMono16k(stream), layers);

    /// <summary>Features of mono samples at <paramref name="sampleRate"/> (resampled to 16 kHz first).</summary>
    /// <param name="samples">Mono samples in [-1, 1].</param>
    /// <param name="sampleRate">Their rate.</param>
    /// <param name="layers">Which output.</param>
    public FeatureArray Extract(float[] samples, int sampleRate, LayerSelection layers = default) =>
        Extract(AudioPreprocessor.Resample(samples, sampleRate, AudioPreprocessor.TargetSampleRate), layers);

    /// <summary>Features of 16 kHz mono samples.</summary>
    /// <param name="samples16k">Mono samples in [-1, 1] at 16 kHz.</param>
    /// <param name="layers">Which output.</param>
    /// <exception cref="ArgumentException">Fewer samples than the model's receptive field, or a layer index past the last layer.</exception>
    public FeatureArray Extract(float[] samples16k, LayerSelection layers = default)
    {
        ArgumentNullException.ThrowIfNull(samples16k);
        CheckLayer(layers);
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        var wave = tensor(samples16k).unsqueeze(0).to(DType, Device);
        Tensor result;
        if (layers.Index is null && !layers.All)
            result = model.forward(wave, null).Output[0];
        else
        {
            int? numLayers = layers.All ? null : Math.Max(1, layers.Index!.Value);
            var all = model.ExtractFeatures(wave, null, numLayers).Layers;
            result = layers.All ? stack(all.Select(t => t[0]).ToArray()) : all[layers.Index!.Value][0];
        }
        return ToArray(result);
    }

    private void CheckLayer(LayerSelection layers)
    {
        if (layers.Index is { } i && i > model.NumLayers)
            throw new ArgumentException($"--layer {i} is past the last layer: this model has {model.NumLayers} layers (valid: 0..{model.NumLayers}, 'all').");
    }

    internal static FeatureArray ToArray(Tensor t)
    {
        using var c = t.detach().to(ScalarType.Float32).cpu().contiguous();
        return new FeatureArray(c.data<float>().ToArray(), c.shape);
    }

    /// <summary>Disposes the model.</summary>
    public void Dispose() => model.Dispose();
}
