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
        _ => throw NotALayer(text),
    };

    private static FormatException NotALayer(string text)
    {
        var message = new OptionText($"{ApiOption.Layers} must be a layer number, 'all' or 'final'; got '{text}'.");
        return message.Attach(new FormatException(message.ToString()));
    }

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
    /// <summary>The CPU (default) or a CUDA device; <see cref="ComputeDevice.Parse"/> reads <c>cpu</c>, <c>cuda</c>,
    /// <c>cuda:N</c>.</summary>
    public ComputeDevice Device { get; init; } = ComputeDevice.Cpu;

    /// <summary>Weights and compute dtype: float32 (default, matches PyTorch), bfloat16, auto (bfloat16 where the CPU's
    /// bf16 kernels are fast: AMX, or AVX-512 BF16 when a short probe confirms it; float32 elsewhere) or, on CUDA only,
    /// float16; <see cref="ComputeDTypes.Parse"/> reads their names. Outputs are float32 whatever the compute dtype.</summary>
    public ComputeDType DType { get; init; } = ComputeDType.Float32;

    /// <summary>The CPU facts <see cref="ComputeDType.Auto"/> decides on (null: this machine's, <see cref="CpuFeatures.Current"/>).</summary>
    public CpuFeatures? Cpu { get; init; }

    /// <summary>CPU threads for libtorch (null leaves libtorch's default).</summary>
    public int? Threads { get; init; }

    /// <summary>Hints for checkpoints that need them (bare torchaudio state_dicts).</summary>
    public CheckpointReadOptions? Checkpoint { get; init; }

    /// <summary>
    /// Apply the checkpoint's optional projection (ContentVec's <c>final_proj</c>, HuBERT-Soft's <c>proj</c>) to every
    /// output, whichever layer is selected. Loading fails if the checkpoint has none.
    /// </summary>
    public bool Projection { get; init; }

    /// <summary>
    /// so-vits-svc units (<see cref="SpeechUnits"/>): sets <see cref="Projection"/> and the waveform padding of that set;
    /// pass <see cref="SpeechEncoder.Units"/>'s <see cref="SpeechUnits.Layers"/> as the selection. The padding is applied
    /// to what the file, stream and resampling overloads read; the 16 kHz sample overloads take their samples as given
    /// (pad them with <see cref="SpeechUnits.Pad"/>).
    /// </summary>
    public SpeechUnits? Units { get; init; }

    /// <summary>The most memory (bytes) one forward pass may take on the CPU; a longer input fails with an
    /// <see cref="InsufficientMemoryException"/> that suggests <see cref="ExtractionOptions.ChunkSeconds"/>
    /// before anything is allocated. Null: the memory available when the pass starts (Linux MemAvailable, bounded by
    /// the GC's container-aware limit).</summary>
    public long? MemoryLimitBytes { get; init; }

    /// <summary>The kernel self-check before the first forward pass (<see cref="DpHubert.KernelCheck"/>): on (default,
    /// each configuration once per process), off, or force (again even if verified); the environment variable
    /// <c>DPHUBERT_KERNEL_CHECK</c> overrides it.</summary>
    public KernelCheckMode KernelCheck { get; init; } = KernelCheckMode.On;

    /// <summary>Test hook: configurations the kernel check must treat as wrong.</summary>
    internal DpHubert.KernelCheck.FaultInjector? KernelFaults { get; init; }
}

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
    private readonly object gate = new();
    private int inFlight; // forward passes running now, so Dispose can wait for them
    private bool disposed;

    private SpeechEncoder(Wav2Vec2Model model, LoadReport report, Device device, ScalarType dtype, long? memoryLimit,
        FinalProjection? projection, SpeechUnits? units, KernelCheckReport kernelCheck)
    {
        KernelCheck = kernelCheck;
        this.model = model;
        this.projection = projection;
        Units = units;
        Report = report;
        Device = device;
        DType = dtype;
        this.memoryLimit = memoryLimit;
        if (device.type == DeviceType.CPU) NativeHeap.Configure(); // reuse freed activations; bounded resident memory over many clips
    }

    /// <summary>Test seam: runs before each forward pass with (items, longest input in samples); lets a test inject a
    /// native failure for one input of a run.</summary>
    internal Action<int, long>? BeforeForward { get; set; }

    /// <summary>The model (eval mode).</summary>
    public Wav2Vec2Model Model => model;

    /// <summary>What the kernel self-check at load found: each native operation configuration checked, any that was
    /// wrong and the verified path it was routed to, and how long it took.</summary>
    public KernelCheckReport KernelCheck { get; }

    /// <summary>What loading the checkpoint did.</summary>
    public LoadReport Report { get; }

    /// <summary>The device.</summary>
    public Device Device { get; }

    /// <summary>The compute dtype.</summary>
    public ScalarType DType { get; }

    /// <summary>The so-vits-svc units this encoder was loaded for (<see cref="SpeechEncoderOptions.Units"/>), or null.</summary>
    public SpeechUnits? Units { get; }

    /// <summary>Whether outputs go through the checkpoint's optional projection.</summary>
    public bool ProjectsOutputs => projection is not null;

    /// <summary>The projection applied to every output, or null.</summary>
    internal FinalProjection? Projection => projection;

    /// <summary>Opens a stream that turns audio pushed block by block into the frames that became final (live voice
    /// conversion); see <see cref="SpeechStream"/>. Streams share this encoder and may run on different threads.</summary>
    /// <param name="options">Block, context, lookahead and output selection (null: the defaults).</param>
    /// <exception cref="ArgumentException">An option out of range or a layer past the last layer.</exception>
    public SpeechStream OpenStream(StreamOptions? options = null) => new(this, options ?? new StreamOptions());

    /// <summary>Loads a checkpoint (any supported format: file or folder, or <c>hf://ORG/REPO[@REVISION][/PATH]</c> on the
    /// Hugging Face Hub, fetched into huggingface_hub's cache by <see cref="SpeechEncoderOptions.Checkpoint"/>'s
    /// <see cref="CheckpointReadOptions.Hub"/> settings; <see cref="DpHubert.Hub.KnownModels"/> has the well-known ones).</summary>
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
        using var read = CheckpointLoader.Read(checkpoint, options.Checkpoint);
        var proj = project ? FinalProjection.FromCheckpoint(read) ?? throw NoProjection(options.Units, checkpoint) : null;
        Wav2Vec2Model? model = null;
        KernelCheckReport check;
        try
        {
            if (proj is not null && proj.InFeatures != read.Config.EncoderEmbedDim)
                throw new ArgumentException($"the projection of {checkpoint} takes {proj.InFeatures} features, the model gives {read.Config.EncoderEmbedDim}.");
            model = CheckpointLoader.BuildModel(read, device);
            if (dtype != ScalarType.Float32) model.to(dtype);
            check = model.EnsureKernelsChecked(options.KernelCheck, options.KernelFaults, proj)!;
        }
        catch
        {
            model?.Dispose();
            proj?.Dispose();
            throw;
        }
        return new SpeechEncoder(model, read.Report, device, dtype, options.MemoryLimitBytes, proj, options.Units, check);
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
    public FeatureArray ExtractFile(string path, LayerSelection layers = default, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var samples = Pad(AudioPreprocessor.LoadMono16k(path));
        cancellationToken.ThrowIfCancellationRequested();
        return Extract(samples, layers);
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
        cancellationToken.ThrowIfCancellationRequested();
        var samples = Pad(AudioPreprocessor.LoadMono16k(stream, name));
        cancellationToken.ThrowIfCancellationRequested();
        return Extract(samples, layers);
    }

    /// <summary>Features of mono samples at <paramref name="sampleRate"/> held in any memory (a slice of a larger
    /// buffer, a pooled array); copied once, then as <see cref="Extract(float[], int, LayerSelection)"/>.</summary>
    /// <param name="samples">Mono samples in [-1, 1].</param>
    /// <param name="sampleRate">Their rate.</param>
    /// <param name="layers">Which output.</param>
    /// <exception cref="ArgumentException">A NaN or infinite sample, or an unusable rate.</exception>
    public FeatureArray Extract(ReadOnlySpan<float> samples, int sampleRate, LayerSelection layers = default) =>
        Extract(samples.ToArray(), sampleRate, layers);

    /// <summary>Features of mono samples at <paramref name="sampleRate"/>; see
    /// <see cref="Extract(ReadOnlySpan{float}, int, LayerSelection)"/>.</summary>
    /// <param name="samples">Mono samples in [-1, 1].</param>
    /// <param name="sampleRate">Their rate.</param>
    /// <param name="layers">Which output.</param>
    public FeatureArray Extract(ReadOnlyMemory<float> samples, int sampleRate, LayerSelection layers = default) =>
        Extract(samples.Span, sampleRate, layers);

    /// <summary>Features of mono samples at <paramref name="sampleRate"/> (resampled to 16 kHz first).</summary>
    /// <param name="samples">Mono samples in [-1, 1].</param>
    /// <param name="sampleRate">Their rate.</param>
    /// <param name="layers">Which output.</param>
    /// <exception cref="ArgumentException">A NaN or infinite sample (named by index), or a rate outside
    /// <see cref="AudioPreprocessor.MinSampleRate"/>..<see cref="AudioPreprocessor.MaxSampleRate"/>.</exception>
    public FeatureArray Extract(float[] samples, int sampleRate, LayerSelection layers = default)
    {
        ArgumentNullException.ThrowIfNull(samples);
        AudioPreprocessor.ThrowIfNotFinite(samples, nameof(samples));
        return Extract(Pad(AudioPreprocessor.Resample(samples, sampleRate, AudioPreprocessor.TargetSampleRate)), layers);
    }

    /// <summary>Features of 16 kHz mono samples.</summary>
    /// <param name="samples16k">Mono samples in [-1, 1] at 16 kHz.</param>
    /// <param name="layers">Which output.</param>
    /// <exception cref="ArgumentException">Fewer samples than the model's receptive field, a NaN or infinite sample (named by
    /// index), or a layer index past the last layer.</exception>
    public FeatureArray Extract(float[] samples16k, LayerSelection layers = default)
    {
        ArgumentNullException.ThrowIfNull(samples16k);
        AudioPreprocessor.ThrowIfNotFinite(samples16k, nameof(samples16k));
        CheckLayer(layers);
        return RunBatch(new[] { samples16k }, layers)[0];
    }

    /// <summary>Throws unless <paramref name="layers"/> exists in this model (call it before a long job).</summary>
    /// <param name="layers">The selection.</param>
    /// <exception cref="ArgumentException">A layer index past the last layer.</exception>
    public void Validate(LayerSelection layers) => CheckLayer(layers);

    /// <summary>The fewest 16 kHz samples that give one frame (the receptive field of the conv feature extractor).</summary>
    public int MinimumSamples => model.Config.MinimumSamples;

    private void CheckLayer(LayerSelection layers)
    {
        if (layers.Index is { } i && i > model.NumLayers)
            throw new OptionText($"Layer index {i} ({ApiOption.Layers}) is past the last layer: this model has {model.NumLayers} layers (valid: 0..{model.NumLayers}, 'all').").Argument();
    }

    private float[] Pad(float[] samples16k) => Units?.Pad(samples16k) ?? samples16k;

    // The length a padded waveform had before Pad: what a file holds, the same whether it is extracted or resumed.
    private long Unpadded(float[] padded) => padded.Length - 2L * (Units?.PadSamples ?? 0);

    /// <summary>A result as a float32 array, through the projection when there is one.</summary>
    private FeatureArray ToArray(Tensor t)
    {
        using var projected = projection?.Apply(t);
        using var c = (projected ?? t).detach().to(ScalarType.Float32).cpu().contiguous();
        return new FeatureArray(c.data<float>().ToArray(), c.shape);
    }

    /// <summary>Estimated peak bytes of one forward pass over <paramref name="batch"/> inputs of <paramref name="samples"/> samples.</summary>
    internal long EstimatePassBytes(int batch, long samples) =>
        ForwardMemory.EstimateBytes(model.Config, batch, samples, DType == ScalarType.Float32 ? 4 : 2);

    /// <summary>Throws an <see cref="InsufficientMemoryException"/> before allocating when a CPU forward pass over
    /// <paramref name="batch"/> inputs of <paramref name="samples"/> samples would not fit in memory.</summary>
    /// <returns>The pass's estimated peak bytes (0 off the CPU).</returns>
    private long EnsureFits(int batch, long samples)
    {
        BeforeForward?.Invoke(batch, samples);
        if (Device.type != DeviceType.CPU) return 0; // CUDA reports its own out-of-memory error, caught per input
        int elementBytes = DType == ScalarType.Float32 ? 4 : 2;
        long need = EstimatePassBytes(batch, samples);
        if (memoryLimit is null && need < 256L << 20) return need; // small passes: skip reading /proc/meminfo
        long available = memoryLimit ?? ForwardMemory.AvailableBytes();
        if (need > available) throw ForwardMemory.TooLong(model.Config, batch, samples, elementBytes, need, available);
        return need;
    }

    /// <summary>Throws an <see cref="ArgumentException"/> that gives the numbers when audio is shorter than
    /// <see cref="MinimumSamples"/>.</summary>
    private void CheckLength(long samples, string? what = null)
    {
        int min = MinimumSamples;
        if (samples < min)
            throw new ArgumentException(
                $"{(what is null ? "" : what + ": ")}audio too short: {samples} samples ({samples / 16.0:0.#} ms at 16 kHz), " +
                $"but the model's receptive field is {min} samples ({min / 16.0:0.#} ms); no output frame can be computed.");
    }

    /// <summary>Features of 16 kHz mono samples with batching/chunking options (<see cref="ExtractionOptions.ChunkSeconds"/>
    /// applies; <see cref="ExtractionOptions.BatchSize"/> batches the chunks).</summary>
    /// <param name="samples16k">Mono samples at 16 kHz.</param>
    /// <param name="layers">Which output.</param>
    /// <param name="options">Chunking and batching.</param>
    /// <param name="cancellationToken">Checked before each forward pass (chunks).</param>
    public FeatureArray Extract(float[] samples16k, LayerSelection layers, ExtractionOptions? options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(samples16k);
        options ??= new ExtractionOptions();
        options.Validate();
        CheckLayer(layers);
        CheckLength(samples16k.Length);
        AudioPreprocessor.ThrowIfNotFinite(samples16k, nameof(samples16k));
        return options.ChunkSeconds is { } s
            ? ExtractChunked(samples16k, layers, s, options.ChunkOverlapSeconds, options.BatchSize, cancellationToken)
            : Extract(samples16k, layers);
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
        if (batchSize < 1) throw new OptionText($"{ApiOption.BatchSize} must be >= 1.").OutOfRange(batchSize);
        CheckLayer(layers);
        for (int i = 0; i < samples16k.Count; i++)
        {
            ArgumentNullException.ThrowIfNull(samples16k[i], $"{nameof(samples16k)}[{i}]");
            CheckLength(samples16k[i].Length, $"input {i}");
            AudioPreprocessor.ThrowIfNotFinite(samples16k[i], $"{nameof(samples16k)}[{i}]");
        }
        var results = new FeatureArray[samples16k.Count];
        var order = Enumerable.Range(0, samples16k.Count).OrderBy(i => samples16k[i].Length).ToArray();
        for (int start = 0; start < order.Length; start += batchSize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var idx = order.Skip(start).Take(batchSize).ToArray();
            var outs = RunBatch(idx.Select(i => samples16k[i]).ToArray(), layers);
            for (int j = 0; j < idx.Length; j++) results[idx[j]] = outs[j];
        }
        return results;
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
        for (int i = 0; i < samples.Count; i++)
        {
            ArgumentNullException.ThrowIfNull(samples[i], $"{nameof(samples)}[{i}]");
            AudioPreprocessor.ThrowIfNotFinite(samples[i], $"{nameof(samples)}[{i}]");
        }
        return ExtractBatch(samples.Select(x => Pad(AudioPreprocessor.Resample(x, sampleRate, AudioPreprocessor.TargetSampleRate))).ToArray(), layers, batchSize, cancellationToken);
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
        int window = options.ReadAhead ?? options.BatchSize * 16;
        return ExtractFilesCore(paths, layers, options, window, cancellationToken);
    }

    private IEnumerable<FileFeatures> ExtractFilesCore(IEnumerable<string> paths, LayerSelection layers, ExtractionOptions options, int window,
        CancellationToken cancellationToken)
    {
        foreach (var group in paths.Chunk(window))
        {
            var loaded = new (float[]? Samples, Exception? Error)[group.Length];
            for (int i = 0; i < group.Length; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                try
                {
                    var samples = Pad(AudioPreprocessor.LoadMono16k(group[i]));
                    CheckLength(samples.Length);
                    loaded[i] = (samples, null);
                }
                catch (Exception e) when (IsInputFailure(e))
                {
                    loaded[i] = (null, e);
                }
            }
            var results = new FileFeatures[group.Length];
            // Chunked (long) files go one by one (their chunks are batched); the rest are batched together.
            var plain = new List<int>();
            for (int i = 0; i < group.Length; i++)
            {
                var (samples, error) = loaded[i];
                if (samples is null)
                    results[i] = new FileFeatures(group[i], null, error, 0);
                else if (options.ChunkSeconds is { } s && samples.Length > ChunkLayout(samples.Length, s, options.ChunkOverlapSeconds).OwnFrames * Hop)
                    results[i] = ResultOrError(group[i], Unpadded(samples), () => ExtractChunked(samples, layers, s, options.ChunkOverlapSeconds, options.BatchSize, cancellationToken));
                else
                    plain.Add(i);
            }
            if (plain.Count > 0)
            {
                try
                {
                    var outs = ExtractBatch(plain.Select(i => loaded[i].Samples!).ToArray(), layers, options.BatchSize, cancellationToken);
                    for (int j = 0; j < plain.Count; j++)
                        results[plain[j]] = new FileFeatures(group[plain[j]], outs[j], null, Unpadded(loaded[plain[j]].Samples!));
                }
                catch (Exception e) when (IsInputFailure(e))
                {
                    // Isolate the failing file(s) rather than failing the whole group.
                    foreach (int i in plain)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        results[i] = ResultOrError(group[i], Unpadded(loaded[i].Samples!), () => Extract(loaded[i].Samples!, layers));
                    }
                }
            }
            foreach (var r in results) yield return r;
        }
    }

    // Runs one file's extraction and turns an input failure into a result that carries the error.
    private static FileFeatures ResultOrError(string path, long samples, Func<FeatureArray> run)
    {
        try
        {
            return new FileFeatures(path, run(), null, samples);
        }
        catch (Exception e) when (IsInputFailure(e))
        {
            return new FileFeatures(path, null, e, samples);
        }
    }

    /// <summary>Whatever goes wrong with one input (unreadable audio, libtorch's ExternalException, an allocation
    /// failure, too long to fit) fails that input alone; only cancellation ends the run.</summary>
    private static bool IsInputFailure(Exception e) => e is not OperationCanceledException;

    /// <summary>Samples per frame (the product of the conv strides; 320 for every released model).</summary>
    private int Hop => model.Config.ExtractorConvLayerConfig.Aggregate(1, (a, c) => a * c.Stride);

    private (long OwnFrames, long Context) ChunkLayout(long samples, double chunkSeconds, double overlapSeconds)
    {
        long own = Math.Max(1, (long)Math.Round(chunkSeconds * AudioPreprocessor.TargetSampleRate / Hop));
        long ctx = Math.Max(0, (long)Math.Round(overlapSeconds * AudioPreprocessor.TargetSampleRate / Hop));
        return (own, ctx);
    }

    /// <summary>
    /// Overlapping-chunk inference for long recordings: the frames are split into runs of <c>chunkSeconds</c>; each run
    /// is computed from a window that adds <c>overlapSeconds</c> of context on both sides, cut on frame boundaries
    /// (frame t covers samples [hop·t, hop·t + receptive field)), and only the run's own frames are kept. The result has
    /// exactly the whole-file frame count; values differ from whole-file inference only through the attention's limited
    /// context (and per-chunk statistics of group-norm extractors / waveform normalization).
    /// </summary>
    private FeatureArray ExtractChunked(float[] samples, LayerSelection layers, double chunkSeconds, double overlapSeconds, int batchSize,
        CancellationToken cancellationToken)
    {
        long total = model.Config.FramesForSamples(samples.Length);
        var (own, ctx) = ChunkLayout(samples.Length, chunkSeconds, overlapSeconds);
        if (total <= own) return Extract(samples, layers);
        int hop = Hop, rf = MinimumSamples;
        var windows = new List<float[]>();
        var keep = new List<(long Skip, long Count)>();
        for (long a = 0; a < total; a += own)
        {
            long b = Math.Min(total, a + own);
            long wa = Math.Max(0, a - ctx), wb = Math.Min(total, b + ctx);
            long s0 = wa * hop, s1 = (wb - 1) * hop + rf;
            windows.Add(samples.AsSpan((int)s0, (int)(s1 - s0)).ToArray());
            keep.Add((a - wa, b - a));
        }
        var outs = ExtractBatch(windows, layers, batchSize, cancellationToken);
        var first = outs[0];
        long dim = first.Dim;
        long lead = first.Shape.Length == 3 ? first.Shape[0] : 1;
        var data = new float[lead * total * dim];
        long at = 0;
        for (int w = 0; w < outs.Count; w++)
        {
            var o = outs[w];
            var (skip, count) = keep[w];
            for (long l = 0; l < lead; l++)
                Array.Copy(o.Data, (l * o.Frames + skip) * dim, data, (l * total + at) * dim, count * dim);
            at += count;
        }
        return new FeatureArray(data, first.Shape.Length == 3 ? new[] { lead, total, dim } : new[] { total, dim });
    }

    /// <summary>One forward pass: packs the items into a zero-padded float32 batch (lengths only when they differ),
    /// lets the model compute it with <see cref="BatchSemantics.PerItem"/> (so each row equals that item alone) and
    /// unpacks each row's valid frames.</summary>
    private FeatureArray[] RunBatch(float[][] items, LayerSelection layers)
    {
        long estimate = EnsureFits(items.Length, items.Max(x => (long)x.Length));
        using var lease = Use();
        // Ends after the scope below has freed the pass's tensors, so the trim policy sees them free.
        using var pass = Device.type == DeviceType.CPU ? NativeHeap.Pass(estimate) : (NativeHeap.PassLease?)null;
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        int max = items.Max(x => x.Length);
        var packed = new float[(long)items.Length * max];
        for (int i = 0; i < items.Length; i++) items[i].CopyTo(packed, (long)i * max);
        bool equal = items.All(x => x.Length == max);
        // Waveform statistics are taken in float32 whatever the compute dtype; the model casts after normalizing.
        var waves = tensor(packed, new long[] { items.Length, max }).to(Device);
        var lengths = equal ? null : tensor(items.Select(x => (long)x.Length).ToArray(), device: Device);
        var frames = items.Select(x => (int)model.Config.FramesForSamples(x.Length)).ToArray();
        var outs = new FeatureArray[items.Length];
        if (layers.Index is null && !layers.All)
        {
            var x = model.forward(waves, lengths, BatchSemantics.PerItem).Output;
            for (int i = 0; i < items.Length; i++) outs[i] = ToArray(x[i, ..frames[i]]);
        }
        else
        {
            int? numLayers = layers.All ? null : Math.Max(1, layers.Index!.Value);
            var all = model.ExtractFeatures(waves, lengths, numLayers, BatchSemantics.PerItem).Layers;
            for (int i = 0; i < items.Length; i++)
            {
                int n = frames[i];
                using var row = layers.All ? stack(all.Select(t => t[i, ..n]).ToArray()) : all[layers.Index!.Value][i, ..n];
                outs[i] = ToArray(row);
            }
        }
        return outs;
    }

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
