using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading;
using DpHubert.Audio;
using DpHubert.Checkpoints;
using DpHubert.Modules;
using DpHubert.PyTorch;
using DpHubert.Streaming;
using TorchSharp;
using static TorchSharp.torch;

namespace DpHubert.Extraction;

/// <summary>
/// Loads a checkpoint once and turns audio into features: the library API behind the <c>dphubert extract</c> command.
/// Owns native memory, so dispose it.
/// </summary>
/// <remarks>
/// <para><b>Safe to share.</b> One instance may be used by any number of threads at once (a web service's request
/// threads, a Parallel.ForEach): every call gives exactly, bit for bit, what it gives when the calls run one after
/// another, because the model is only read while extracting and each call keeps its tensors in its own dispose scope
/// and inference mode (both are per thread). <see cref="Dispose"/> waits for calls in progress; calls after it throw
/// <see cref="ObjectDisposedException"/>. Do not call <c>Model.train()</c>, <c>Prune()</c> or load weights into
/// <see cref="Model"/> while other threads extract.</para>
/// <para><b>Process-wide.</b> libtorch's intra-op CPU thread count is one setting for the whole process:
/// <see cref="SpeechEncoderOptions.Threads"/> sets it (<c>torch.set_num_threads</c>) for every encoder and all
/// TorchSharp code, and concurrent calls share those threads, so N concurrent calls on C cores take about as long as
/// running them one by one; concurrency buys latency fairness, not throughput, on a busy CPU. On Linux (glibc) the
/// first CPU encoder also sets the C heap's mmap and trim thresholds to 256 MB (<c>mallopt</c>; each one the process was
/// started with stays), so freed activations are reused by the next pass instead of mapped and zeroed afresh, and when
/// no pass runs free C heap pages are returned (<c>malloc_trim</c>) once they exceed twice the largest recent pass's
/// need or after 10 s idle, so resident memory stays bounded over thousands of clips of varying length.</para>
/// <para><b>Cancellation.</b> The <see cref="CancellationToken"/> of the file, folder and batch methods is checked
/// between files, between forward passes (batches, chunks) and before each pass; a pass already running in libtorch
/// completes first. Cancellation throws <see cref="OperationCanceledException"/>; results already returned stay valid.</para>
/// </remarks>
/// <example>
/// <code>
/// using var encoder = SpeechEncoder.Load("DPHuBERT-sp0.75.pth");
/// FeatureArray units = encoder.ExtractFile("voice.wav");            // [frames, 768], WAV/FLAC/MP3/Ogg, any rate
/// FeatureArray layer9 = encoder.ExtractFile("voice.wav", LayerSelection.Layer(9));
/// // Many inputs, length-sorted batches of 8, recordings over 30 s in overlapping chunks:
/// var options = new ExtractionOptions { BatchSize = 8, ChunkSeconds = 30 };
/// foreach (FileFeatures f in encoder.ExtractFiles(Directory.GetFiles("wavs", "*.wav"), LayerSelection.Final, options))
///     if (f.Succeeded) Npy.WriteFloat32(Path.ChangeExtension(f.Path, ".npy"), f.Features!.Data, f.Features.Shape);
/// </code>
/// </example>
public sealed partial class SpeechEncoder : IDisposable
{
    private readonly Wav2Vec2Model model;
    private readonly FinalProjection? projection;
    private readonly long? memoryLimit;
    private readonly Action<int, long>? passObserver;
    private readonly object gate = new();
    private int inFlight; // forward passes running now, so Dispose can wait for them
    private bool disposed;

    private SpeechEncoder(Wav2Vec2Model model, LoadReport report, Device device, ScalarType dtype, SpeechEncoderOptions options,
        FinalProjection? projection, KernelCheckReport kernelCheck)
    {
        KernelCheck = kernelCheck;
        this.model = model;
        this.projection = projection;
        Units = options.Units;
        Report = report;
        Device = device;
        DType = dtype;
        memoryLimit = options.MemoryLimitBytes;
        passObserver = options.PassObserver;
        if (device.type == DeviceType.CPU) NativeHeap.Configure(); // reuse freed activations; bounded resident memory over many clips
    }

    /// <summary>The model (eval mode).</summary>
    public Wav2Vec2Model Model => model;

    /// <summary>What the kernel self-check at load found: each native operation configuration checked, any that was
    /// wrong and the verified path it was routed to, and how long it took.</summary>
    public KernelCheckReport KernelCheck { get; }

    /// <summary>What loading the checkpoint did.</summary>
    public LoadReport Report { get; }

    /// <summary>The device.</summary>
    public Device Device { get; }

    /// <summary>The compute dtype: the dtype the model's weights (and the projection's) were converted to once, at load.</summary>
    public ScalarType DType { get; }

    /// <summary>The so-vits-svc units this encoder was loaded for (<see cref="SpeechEncoderOptions.Units"/>), or null.</summary>
    public SpeechUnits? Units { get; }

    /// <summary>Whether outputs go through the checkpoint's optional projection.</summary>
    public bool ProjectsOutputs => projection is not null;

    /// <summary>The projection applied to every output, or null.</summary>
    internal FinalProjection? Projection => projection;

    /// <summary>The fewest 16 kHz samples that give one frame (the receptive field of the conv feature extractor).</summary>
    public int MinimumSamples => model.Config.MinimumSamples;

    /// <summary>Opens a stream that turns audio pushed block by block into the frames that became final (live voice
    /// conversion); see <see cref="SpeechStream"/>. Streams share this encoder and may run on different threads.</summary>
    /// <param name="options">Block, context, lookahead and output selection (null: the defaults).</param>
    /// <exception cref="ArgumentException">An option out of range or a layer past the last layer.</exception>
    public SpeechStream OpenStream(StreamOptions? options = null) => new(this, options ?? new StreamOptions());

    /// <summary>Loads a checkpoint (any supported format: file or folder, or <c>hf://ORG/REPO[@REVISION][/PATH]</c> on the
    /// Hugging Face Hub, fetched into huggingface_hub's cache by <see cref="SpeechEncoderOptions.Checkpoint"/>'s
    /// <see cref="CheckpointReadOptions.Hub"/> settings; <see cref="DpHubert.Hub.KnownModels"/> has the well-known ones).
    /// The weights are converted once, while loading, to the compute dtype (<see cref="DType"/>).</summary>
    /// <param name="checkpoint">Path or Hub reference.</param>
    /// <param name="options">Device, dtype, threads.</param>
    /// <exception cref="ArgumentException">CUDA unavailable or past the last device, or float16 on the CPU.</exception>
    /// <exception cref="FileNotFoundException">No such checkpoint.</exception>
    /// <exception cref="CheckpointFormatException">Not a readable checkpoint.</exception>
    /// <exception cref="DpHubert.Hub.HubException">A Hub reference that could not be fetched.</exception>
    public static SpeechEncoder Load(string checkpoint, SpeechEncoderOptions? options = null)
    {
        options ??= new SpeechEncoderOptions();
        var device = options.Device.ToTorchDevice();
        var dtype = options.DType.Resolve(device, options.Cpu);
        if (options.MemoryLimitBytes is { } limit && limit <= 0)
            throw new ArgumentOutOfRangeException(nameof(options), limit, "MemoryLimitBytes must be positive.");
        if (options.Threads is { } threads)
        {
            if (threads <= 0) throw new OptionText($"{ApiOption.Threads} must be >= 1.").OutOfRange(threads);
            torch.set_num_threads(threads);
        }
        bool project = options.Projection || options.Units?.Projection == true;
        // Read straight into the compute dtype: each weight is converted once, here.
        using var read = CheckpointLoader.Read(checkpoint, (options.Checkpoint ?? new CheckpointReadOptions()) with { WeightDType = dtype });
        var proj = project ? CheckpointLoader.BuildProjection(read, device, dtype) ?? throw NoProjection(options.Units, checkpoint) : null;
        Wav2Vec2Model? model = null;
        KernelCheckReport check;
        try
        {
            if (proj is not null && proj.InFeatures != read.Config.EncoderEmbedDim)
                throw new ArgumentException($"the projection of {checkpoint} takes {proj.InFeatures} features, the model gives {read.Config.EncoderEmbedDim}.");
            model = CheckpointLoader.BuildModel(read, device, dtype);
            check = model.EnsureKernelsChecked(options.KernelCheck, options.KernelFaults, proj, options.GemmTimer)!;
        }
        catch
        {
            model?.Dispose();
            proj?.Dispose();
            throw;
        }
        return new SpeechEncoder(model, read.Report, device, dtype, options, proj, check);
    }

    /// <summary>Loads a model from the Hugging Face Hub (or the cache): <c>new HubReference("ORG/REPO", revision, file)</c>,
    /// or a row of <see cref="DpHubert.Hub.KnownModels"/>; the same as <see cref="Load(string, SpeechEncoderOptions)"/>
    /// with its <c>hf://</c> form.</summary>
    /// <param name="reference">The repository, revision and optional file.</param>
    /// <param name="options">Device, dtype, threads, and <see cref="CheckpointReadOptions.Hub"/> in
    /// <see cref="SpeechEncoderOptions.Checkpoint"/>.</param>
    /// <exception cref="DpHubert.Hub.HubException">Not found, not allowed, offline without a copy, or a failed check.</exception>
    public static SpeechEncoder Load(DpHubert.Hub.HubReference reference, SpeechEncoderOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(reference);
        return Load(reference.ToString(), options);
    }

    // Units or Projection asked for a projection that the checkpoint does not carry.
    private static ArgumentException NoProjection(SpeechUnits? units, string checkpoint)
    {
        string rest = $" needs the checkpoint's optional projection (ContentVec's final_proj, HuBERT-Soft's proj), and {checkpoint} has none.";
        return (units is { } u ? new OptionText($"{ApiOption.Units} {u.Name}{rest}") : new OptionText($"{ApiOption.Projection}{rest}")).Argument();
    }

    /// <summary>Features of an audio file: WAV, FLAC, MP3, Ogg Vorbis, and M4A/AAC, Opus, WebM and more with ffmpeg
    /// (<see cref="AudioReader"/>); any channel count and rate, mixed to mono and resampled to 16 kHz.</summary>
    /// <param name="path">The audio file.</param>
    /// <param name="layers">Which output.</param>
    /// <param name="cancellationToken">Checked before reading and before the forward pass.</param>
    /// <exception cref="AudioFormatException">The file cannot be decoded (named in the message).</exception>
    /// <exception cref="ArgumentException">Audio shorter than <see cref="MinimumSamples"/>, or a layer past the last layer.</exception>
    public FeatureArray ExtractFile(string path, LayerSelection layers = default, CancellationToken cancellationToken = default)
    {
        CheckLayer(layers);
        cancellationToken.ThrowIfCancellationRequested();
        var input = Decoded(AudioPreprocessor.LoadMono16k(path), null);
        return RunOne(input, layers, null, cancellationToken);
    }

    /// <summary>Features of audio in a stream, any format <see cref="AudioReader"/> reads; the same as
    /// <see cref="Extract(Stream, string?, LayerSelection, CancellationToken)"/> without a name.</summary>
    /// <param name="stream">The audio bytes, from the stream's position to its end; it is left open.</param>
    /// <param name="layers">Which output.</param>
    /// <param name="cancellationToken">Checked before reading and before the forward pass.</param>
    public FeatureArray ExtractStream(Stream stream, LayerSelection layers = default, CancellationToken cancellationToken = default) =>
        Extract(stream, null, layers, cancellationToken);

    /// <summary>Features of audio in a stream (need not be seekable): WAV, FLAC, MP3, Ogg Vorbis, and more with ffmpeg,
    /// recognised by content.</summary>
    /// <param name="stream">The audio bytes, from the stream's position to its end; it is left open.</param>
    /// <param name="name">A name for error messages, e.g. the file name or URL (its extension helps where the content
    /// does not say).</param>
    /// <param name="layers">Which output.</param>
    /// <param name="cancellationToken">Checked before reading and before the forward pass.</param>
    /// <exception cref="AudioFormatException">The data cannot be decoded.</exception>
    public FeatureArray Extract(Stream stream, string? name = null, LayerSelection layers = default, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(stream);
        CheckLayer(layers);
        cancellationToken.ThrowIfCancellationRequested();
        var input = Decoded(AudioPreprocessor.LoadMono16k(stream, name), null);
        return RunOne(input, layers, null, cancellationToken);
    }

    /// <summary>Features of mono samples at <paramref name="sampleRate"/> held in any memory (a slice of a larger
    /// buffer, a pooled array); copied once, then as <see cref="Extract(ReadOnlyMemory{float}, int, LayerSelection)"/>.</summary>
    /// <param name="samples">Mono samples in [-1, 1].</param>
    /// <param name="sampleRate">Their rate.</param>
    /// <param name="layers">Which output.</param>
    /// <exception cref="ArgumentException">A NaN or infinite sample, or an unusable rate.</exception>
    public FeatureArray Extract(ReadOnlySpan<float> samples, int sampleRate, LayerSelection layers = default) =>
        Extract(samples.ToArray().AsMemory(), sampleRate, layers);

    /// <summary>Features of mono samples at <paramref name="sampleRate"/> held in any memory, read in place (at 16 kHz they
    /// are copied once, straight into the model's input).</summary>
    /// <param name="samples">Mono samples in [-1, 1].</param>
    /// <param name="sampleRate">Their rate.</param>
    /// <param name="layers">Which output.</param>
    public FeatureArray Extract(ReadOnlyMemory<float> samples, int sampleRate, LayerSelection layers = default)
    {
        CheckLayer(layers);
        return RunOne(AtRate(samples, sampleRate, nameof(samples), null), layers, null, default);
    }

    /// <summary>Features of mono samples at <paramref name="sampleRate"/> (resampled to 16 kHz first).</summary>
    /// <param name="samples">Mono samples in [-1, 1].</param>
    /// <param name="sampleRate">Their rate.</param>
    /// <param name="layers">Which output.</param>
    /// <exception cref="ArgumentException">A NaN or infinite sample (named by index), or a rate outside
    /// <see cref="AudioPreprocessor.MinSampleRate"/>..<see cref="AudioPreprocessor.MaxSampleRate"/>.</exception>
    public FeatureArray Extract(float[] samples, int sampleRate, LayerSelection layers = default)
    {
        ArgumentNullException.ThrowIfNull(samples);
        return Extract(samples.AsMemory(), sampleRate, layers);
    }

    /// <summary>Features of 16 kHz mono samples.</summary>
    /// <param name="samples16k">Mono samples in [-1, 1] at 16 kHz.</param>
    /// <param name="layers">Which output.</param>
    /// <exception cref="ArgumentException">Fewer samples than the model's receptive field, a NaN or infinite sample (named by
    /// index), or a layer index past the last layer.</exception>
    public FeatureArray Extract(float[] samples16k, LayerSelection layers = default) => Extract(samples16k, layers, null);

    /// <summary>Features of 16 kHz mono samples with batching/chunking options (<see cref="ExtractionOptions.ChunkSeconds"/>
    /// applies; <see cref="ExtractionOptions.BatchSize"/> batches the chunks).</summary>
    /// <param name="samples16k">Mono samples at 16 kHz.</param>
    /// <param name="layers">Which output.</param>
    /// <param name="options">Chunking and batching.</param>
    /// <param name="cancellationToken">Checked before each forward pass (chunks).</param>
    public FeatureArray Extract(float[] samples16k, LayerSelection layers, ExtractionOptions? options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(samples16k);
        options?.Validate();
        CheckLayer(layers);
        return RunOne(At16k(samples16k, nameof(samples16k), null), layers, options, cancellationToken);
    }

    /// <summary>Features of many 16 kHz mono inputs, computed in length-sorted batches; each result equals
    /// <see cref="Extract(float[], LayerSelection)"/> of that item within 1e-4.</summary>
    /// <param name="samples16k">The inputs (any lengths of at least <see cref="MinimumSamples"/>).</param>
    /// <param name="layers">Which output.</param>
    /// <param name="batchSize">Items per forward pass.</param>
    /// <param name="cancellationToken">Checked before each forward pass.</param>
    /// <returns>One result per input, in input order.</returns>
    /// <exception cref="ArgumentException">An input shorter than the receptive field (named by index), or a bad layer.</exception>
    public IReadOnlyList<FeatureArray> ExtractBatch(IReadOnlyList<float[]> samples16k, LayerSelection layers = default, int batchSize = 8,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(samples16k);
        var options = new ExtractionOptions { BatchSize = batchSize };
        options.Validate();
        CheckLayer(layers);
        var inputs = new ReadOnlyMemory<float>[samples16k.Count];
        for (int i = 0; i < inputs.Length; i++)
        {
            ArgumentNullException.ThrowIfNull(samples16k[i], $"{nameof(samples16k)}[{i}]");
            inputs[i] = At16k(samples16k[i], $"{nameof(samples16k)}[{i}]", $"input {i}");
        }
        return Run(new ExtractionRequest(inputs, layers, options), cancellationToken);
    }

    /// <summary>Features of many mono inputs at <paramref name="sampleRate"/> (each resampled to 16 kHz first), in
    /// length-sorted batches; see <see cref="ExtractBatch(IReadOnlyList{float[]}, LayerSelection, int, CancellationToken)"/>.</summary>
    /// <param name="samples">Mono samples in [-1, 1].</param>
    /// <param name="sampleRate">Their rate.</param>
    /// <param name="layers">Which output.</param>
    /// <param name="batchSize">Items per forward pass.</param>
    /// <param name="cancellationToken">Checked before each forward pass.</param>
    /// <returns>One result per input, in input order.</returns>
    public IReadOnlyList<FeatureArray> ExtractBatch(IReadOnlyList<float[]> samples, int sampleRate, LayerSelection layers = default, int batchSize = 8,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(samples);
        var options = new ExtractionOptions { BatchSize = batchSize };
        options.Validate();
        CheckLayer(layers);
        var inputs = new ReadOnlyMemory<float>[samples.Count];
        for (int i = 0; i < inputs.Length; i++)
        {
            ArgumentNullException.ThrowIfNull(samples[i], $"{nameof(samples)}[{i}]");
            inputs[i] = AtRate(samples[i], sampleRate, $"{nameof(samples)}[{i}]", $"input {i}");
        }
        return Run(new ExtractionRequest(inputs, layers, options), cancellationToken);
    }

    /// <summary>Reads (any format <see cref="AudioReader"/> reads), resamples and extracts many audio files, streaming results in input order. Whatever fails for one
    /// file (unreadable or too short audio, an unusable sample rate, NaN samples, a libtorch error, an allocation
    /// failure, a recording too long for memory) yields a result with <see cref="FileFeatures.Error"/> set; the others
    /// still succeed (a failing batch is retried item by item). Files are read <see cref="ExtractionOptions.ReadAhead"/>
    /// at a time and batched by length.</summary>
    /// <param name="paths">Audio files.</param>
    /// <param name="layers">Which output.</param>
    /// <param name="options">Batching and chunking.</param>
    /// <param name="cancellationToken">Checked before each file is read and before each forward pass; cancellation
    /// throws <see cref="OperationCanceledException"/> from the enumeration (results already yielded stay valid).</param>
    public IEnumerable<FileFeatures> ExtractFiles(IEnumerable<string> paths, LayerSelection layers = default, ExtractionOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(paths);
        options ??= new ExtractionOptions();
        options.Validate();
        CheckLayer(layers);
        return ExtractFilesCore(paths, layers, options, cancellationToken);
    }

    /// <summary>Throws unless <paramref name="layers"/> exists in this model (call it before a long job).</summary>
    /// <param name="layers">The selection.</param>
    /// <exception cref="ArgumentException">A layer index past the last layer.</exception>
    public void Validate(LayerSelection layers) => CheckLayer(layers);

    /// <summary>Disposes the model, after waiting for forward passes other threads are running.</summary>
    public void Dispose()
    {
        lock (gate)
        {
            if (disposed) return;
            disposed = true;
            while (inFlight > 0) Monitor.Wait(gate);
        }
        model.Dispose();
        projection?.Dispose();
    }

    /// <summary>Marks a forward pass as running until the lease is disposed; refuses once <see cref="Dispose"/> began.</summary>
    internal Lease Use()
    {
        lock (gate)
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            inFlight++;
        }
        return new Lease(this);
    }

    internal readonly struct Lease(SpeechEncoder owner) : IDisposable
    {
        public void Dispose()
        {
            lock (owner.gate)
            {
                if (--owner.inFlight != 0) return;
                Monitor.PulseAll(owner.gate);
            }
        }
    }
}
