using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using DpHubert.Config;
using DpHubert.Modules;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DpHubert;

/// <summary>Result of <see cref="Wav2Vec2Model.ExtractFeatures"/>.</summary>
/// <param name="Layers">The projection output (index 0, before the positional convolution) and each layer's output
/// (index i = after layer i), each [batch, frames, E].</param>
/// <param name="Lengths">Valid frame counts [batch], or null when no lengths were given.</param>
public sealed record LayerFeatures(IReadOnlyList<Tensor> Layers, Tensor? Lengths);

/// <summary>How <see cref="Wav2Vec2Model"/> computes a padded batch with lengths.</summary>
public enum BatchSemantics
{
    /// <summary>As the original: group-norm conv extractors (HuBERT / wav2vec 2.0 Base) take their statistics over
    /// each whole padded row, so a padded row differs from the same audio alone. For parity with the original.</summary>
    Original,

    /// <summary>Every row gives what it gives alone (one-by-one extraction, within float rounding): group-norm conv
    /// extractors run row by row over the valid samples only. Everything else is already per row.</summary>
    PerItem,
}

/// <summary>
/// The DPHuBERT / wav2vec 2.0 / HuBERT / WavLM speech encoder: waveform [batch, samples] at 16 kHz to features
/// [batch, frames, E] (or aux logits). Keys: <c>feature_extractor.*</c>, <c>encoder.*</c>, <c>aux.*</c> (if any).
/// </summary>
/// <remarks>
/// <para>Mirrors DPHuBERT <c>model.Wav2Vec2Model</c>. Build one with <see cref="ModelFactory"/> or load one with
/// <c>CheckpointLoader</c>; both return it in eval mode (deterministic: no dropout, no LayerDrop). Call
/// <c>train()</c> only to train HardConcrete masks.</para>
/// <para>Public methods move only their results out of their own dispose scopes, and every intermediate is freed as
/// soon as its last use is done (each conv block and each encoder layer runs in its own scope), so a pass holds one
/// layer's activations at a time; the caller owns (and should dispose) the returned tensors. Without autograd
/// (<c>inference_mode</c> / <c>no_grad</c>, eval mode) attention runs fused (<c>scaled_dot_product_attention</c>),
/// never holding the [heads, frames, frames] weights, so memory grows linearly with the recording's length.</para>
/// <example>
/// <code>
/// using var model = ModelFactory.Build(Wav2Vec2Config.HubertBase);
/// using var wave = torch.randn(1, 16000);
/// using var _ = torch.inference_mode();
/// var (features, _) = model.forward(wave, null);   // [1, 49, 768]
/// </code>
/// </example>
/// </remarks>
public sealed class Wav2Vec2Model : nn.Module<Tensor, Tensor?, (Tensor Output, Tensor? Lengths)>
{
    private readonly FeatureExtractor feature_extractor;
    private readonly Encoder encoder;
    private readonly Linear? aux;

    /// <summary>Creates the model from built parts; prefer <see cref="ModelFactory.Build"/>.</summary>
    /// <param name="config">The config the parts were built from.</param>
    /// <param name="featureExtractor">Conv feature extractor.</param>
    /// <param name="encoder">Encoder.</param>
    /// <param name="aux">Auxiliary head, or null.</param>
    public Wav2Vec2Model(Wav2Vec2Config config, FeatureExtractor featureExtractor, Encoder encoder, Linear? aux = null)
        : base(nameof(Wav2Vec2Model))
    {
        Config = config ?? throw new ArgumentNullException(nameof(config));
        feature_extractor = featureExtractor;
        this.encoder = encoder;
        this.aux = aux;
        RegisterComponents();
        OneDnn.ApplyEnvironmentOnce();
    }

    /// <summary>The architecture (updated by <see cref="Prune"/>).</summary>
    public Wav2Vec2Config Config { get; private set; }

    /// <summary>Whether waveforms are standardized first.</summary>
    public bool NormalizeWaveform => Config.NormalizeWaveform;

    /// <summary>The conv feature extractor.</summary>
    public FeatureExtractor FeatureExtractor => feature_extractor;

    /// <summary>Sets how every convolution of the feature extractor is computed (<see cref="FeatureExtractor.SetPath"/>);
    /// <see cref="ConvolutionPath.Gemm"/> is the default.</summary>
    /// <param name="path">The path.</param>
    /// <remarks>The kernel self-check runs again before the next pass, for the new path.</remarks>
    public void SetConvolutionPath(ConvolutionPath path)
    {
        feature_extractor.SetPath(path);
        lock (checkGate) kernelCheck = null;
    }

    /// <summary>The encoder.</summary>
    public Encoder Encoder => encoder;

    /// <summary>The auxiliary (CTC) head, or null.</summary>
    public Linear? Aux => aux;

    /// <summary>Number of transformer layers.</summary>
    public int NumLayers => encoder.Transformer.Layers.Count;

    /// <summary>The device of the parameters.</summary>
    public Device Device => feature_extractor.DummyWeight.device;

    /// <summary>The dtype of the parameters.</summary>
    public ScalarType DType => feature_extractor.DummyWeight.dtype;

    // normalize_waveform statistics in the input's dtype (float32 for SpeechEncoder even under bf16), then the parameters' dtype.
    // No dispose scope (its set of owned tensors is garbage per pass): the one intermediate is freed by Replace.
    private Tensor PrepareWaveforms(Tensor waveforms, Tensor? lengths)
    {
        var x = NormalizeWaveformRows(waveforms, lengths);
        if (x.dtype != DType) x = Scopes.Replace(x, x.to(DType), waveforms);
        return x;
    }

    private Tensor NormalizeWaveformRows(Tensor waveforms, Tensor? lengths)
    {
        if (!NormalizeWaveform) return waveforms;
        if (lengths is null)
            return nn.functional.layer_norm(waveforms, new[] { waveforms.size(-1) });
        using var scope = NewDisposeScope();
        return NormalizeValidRows(waveforms, lengths).MoveToOuterDisposeScope();
    }

    private Tensor NormalizeValidRows(Tensor waveforms, Tensor lengths)
    {
        // Each row over its own valid samples, then re-padded to max(lengths) like pad_sequence.
        var lens = lengths.cpu().data<long>().ToArray();
        long max = lens.Max();
        var rows = new List<Tensor>();
        for (int i = 0; i < lens.Length; i++)
        {
            // An empty row has no statistics: it stays all zeros (the original would fail inside layer_norm).
            var row = lens[i] > 0 ? nn.functional.layer_norm(waveforms[i, ..(int)lens[i]], new[] { lens[i] })
                : zeros(0, dtype: waveforms.dtype, device: waveforms.device);
            rows.Add(nn.functional.pad(row, new[] { 0L, max - lens[i] }));
        }
        return stack(rows);
    }

    /// <summary>Conv features [batch, frames, C] to <see cref="forward(Tensor, Tensor?)"/>'s output: the encoder, then the
    /// aux head if any. The features stay the caller's.</summary>
    internal Tensor Encode(Tensor features, Tensor? frameLengths)
    {
        var y = encoder.call(features, frameLengths);
        return aux is null ? y : Scopes.Replace(y, aux.call(y), features);
    }

    // Waveform to conv features [batch, frames, C] and frame counts; the normalized wave is freed once used.
    internal (Tensor Features, Tensor? Lengths) ConvFeatures(Tensor waveforms, Tensor? lengths, BatchSemantics semantics)
    {
        var x = PrepareWaveforms(waveforms, lengths);
        var (features, frames) = semantics == BatchSemantics.PerItem && lengths is not null && Config.ExtractorMode == ExtractorMode.GroupNorm
            ? ConvFeaturesPerRow(x, lengths)
            : feature_extractor.call(x, lengths);
        Scopes.Replace(x, features, waveforms);
        return (features, frames);
    }

    // Group norm takes statistics over the whole time axis: each row alone over its valid samples, zero-padded to the
    // batch's frame count (the encoder masks those frames), exactly as one-by-one extraction computes it.
    private (Tensor Features, Tensor? Lengths) ConvFeaturesPerRow(Tensor waveforms, Tensor lengths)
    {
        var lens = lengths.cpu().data<long>().ToArray();
        long frames = Config.FramesForSamples(waveforms.shape[1]);
        long channels = feature_extractor.DummyWeight.shape[0];
        var rows = new Tensor[lens.Length];
        for (int i = 0; i < lens.Length; i++)
        {
            using var scope = NewDisposeScope();
            long own = Config.FramesForSamples(lens[i]);
            var row = own == 0
                ? zeros(1, frames, channels, dtype: DType, device: waveforms.device)
                : nn.functional.pad(feature_extractor.call(waveforms[i..(i + 1), ..(int)lens[i]], null).Output,
                    new[] { 0L, 0, 0, frames - own });
            rows[i] = row.MoveToOuterDisposeScope();
        }
        var features = cat(rows, 0);
        foreach (var r in rows) r.Dispose();
        Tensor? frameLengths = tensor(lens.Select(Config.FramesForSamples).ToArray(), device: lengths.device);
        return (features, frameLengths);
    }

    // Lengths may come from the CPU while the audio is on a GPU (or vice versa): the masks are built where the audio is.
    private static Tensor? OnDeviceOf(Tensor? lengths, Tensor waveforms) =>
        lengths is null ? null : lengths.to(ScalarType.Int64, waveforms.device);

    private void CheckInput(Tensor waveforms, Tensor? lengths)
    {
        if (waveforms.ndim != 2)
            throw new ArgumentException($"Expected waveforms of shape [batch, samples]; got {Shapes.Format(waveforms)}.", nameof(waveforms));
        if (!waveforms.is_floating_point())
            throw new ArgumentException($"Expected floating-point waveforms; got {waveforms.dtype}.", nameof(waveforms));
        if (lengths is not null)
        {
            if (lengths.ndim != 1 || lengths.shape[0] != waveforms.shape[0])
                throw new ArgumentException($"Expected lengths of shape [{waveforms.shape[0]}]; got {Shapes.Format(lengths)}.", nameof(lengths));
            long[] lens;
            using (var onCpu = lengths.to(int64, CPU)) lens = onCpu.data<long>().ToArray();
            foreach (var (len, i) in lens.Select((l, i) => (l, i)))
                if (len < 0 || len > waveforms.shape[1])
                    throw new ArgumentException($"lengths[{i}] = {len} is outside [0, {waveforms.shape[1]}].", nameof(lengths));
        }
        if (waveforms.shape[1] < Config.MinimumSamples) throw TooShort(waveforms.shape[1], null, nameof(waveforms));
    }

    /// <summary>The one error for audio shorter than the receptive field, whichever entry point finds it.</summary>
    /// <param name="samples">The input's length in 16 kHz samples.</param>
    /// <param name="what">Which input (e.g. "input 3"), or null for the only one.</param>
    /// <param name="paramName">The argument at fault.</param>
    internal ArgumentException TooShort(long samples, string? what, string? paramName)
    {
        int min = Config.MinimumSamples;
        return new ArgumentException(
            $"{(what is null ? "Audio" : what + ": audio")} too short: {samples} samples ({samples / 16.0:0.#} ms at 16 kHz), " +
            $"but the model's receptive field is {min} samples ({min / 16.0:0.#} ms); no output frame can be computed.", paramName);
    }

    /// <summary>Encodes waveforms.</summary>
    /// <param name="waveforms">[batch, samples], 16 kHz, amplitude in [-1, 1].</param>
    /// <param name="lengths">Valid samples per row [batch] (int64), or null when every row is full.</param>
    /// <returns>Features [batch, frames, E] (or aux logits [batch, frames, aux_num_out]) and valid frame counts
    /// (null when <paramref name="lengths"/> is null). Frames past a row's length are unspecified.</returns>
    /// <exception cref="ArgumentException">Wrong shape or dtype, bad lengths, or audio shorter than the receptive field.</exception>
    public override (Tensor Output, Tensor? Lengths) forward(Tensor waveforms, Tensor? lengths) =>
        forward(waveforms, lengths, BatchSemantics.Original);

    /// <summary>Encodes waveforms with the chosen batch semantics.</summary>
    /// <param name="waveforms">[batch, samples], 16 kHz, amplitude in [-1, 1]; any floating dtype (cast to the
    /// parameters' dtype after waveform normalization).</param>
    /// <param name="lengths">Valid samples per row [batch] (int64), or null when every row is full.</param>
    /// <param name="semantics"><see cref="BatchSemantics.Original"/> (as the original) or
    /// <see cref="BatchSemantics.PerItem"/> (each row as it would be alone).</param>
    /// <returns>Features [batch, frames, E] (or aux logits) and valid frame counts (null without lengths).</returns>
    /// <exception cref="ArgumentException">Wrong shape or dtype, bad lengths, or audio shorter than the receptive field.</exception>
    public (Tensor Output, Tensor? Lengths) forward(Tensor waveforms, Tensor? lengths, BatchSemantics semantics)
    {
        CheckInput(waveforms, lengths);
        return ForwardChecked(waveforms, lengths, semantics);
    }

    /// <summary><see cref="forward(Tensor, Tensor?, BatchSemantics)"/> for inputs the caller has already validated
    /// (float [batch, samples] of at least the receptive field, int64 lengths within it).</summary>
    internal (Tensor Output, Tensor? Lengths) ForwardChecked(Tensor waveforms, Tensor? lengths, BatchSemantics semantics)
    {
        EnsureKernelsChecked();
        using var scope = NewDisposeScope();
        var (x, len) = ConvFeatures(waveforms, OnDeviceOf(lengths, waveforms), semantics);
        x = Scopes.Replace(x, Encode(x, len), waveforms);
        Scopes.Keep(scope, x, len);
        return (x, len);
    }

    /// <summary>What the kernel self-check found for the device and dtype this model last ran on (see
    /// <see cref="DpHubert.KernelCheck"/>), or null before its first forward pass in eval mode.</summary>
    public KernelCheckReport? KernelCheck => Volatile.Read(ref kernelCheck)?.Report;

    /// <summary>Runs the kernel self-check unless it already ran for this model's current device and dtype (in eval
    /// mode only: a training pass samples its masks, so it has no fixed reference). The forward methods call it first;
    /// thread-safe.</summary>
    /// <param name="mode">On, Off or Force (the environment's <c>DPHUBERT_KERNEL_CHECK</c> overrides it).</param>
    /// <returns>The report, or null in training mode.</returns>
    /// <exception cref="KernelCheckException">A kernel that is wrong with every fallback.</exception>
    public KernelCheckReport? EnsureKernelsChecked(KernelCheckMode mode = KernelCheckMode.On) => EnsureKernelsChecked(mode, null, null, null);

    internal KernelCheckReport? EnsureKernelsChecked(KernelCheckMode mode, KernelCheck.FaultInjector? faults, FinalProjection? projection,
        LinearKernels.GemmTimer? timer)
    {
        if (training) return null;
        var state = (Device.type, DType);
        if (Volatile.Read(ref kernelCheck) is { } done && done.State == state) return done.Report;
        lock (checkGate)
        {
            if (kernelCheck is { } again && again.State == state) return again.Report;
            var report = DpHubert.KernelCheck.RunCore(this, mode, faults, projection, timer);
            Volatile.Write(ref kernelCheck, new CheckedState(state, report));
            return report;
        }
    }

    private sealed record CheckedState((DeviceType Device, ScalarType DType) State, KernelCheckReport Report);

    private readonly object checkGate = new();
    private CheckedState? kernelCheck;

    /// <summary>Features of every layer (no aux head, no final LayerNorm of pre-norm models).</summary>
    /// <param name="waveforms">[batch, samples].</param>
    /// <param name="lengths">Valid samples per row, or null.</param>
    /// <param name="numLayers">Stop after this many layers (1..L), or null for all.</param>
    /// <param name="semantics">Batch semantics (see <see cref="BatchSemantics"/>).</param>
    /// <returns><c>numLayers + 1</c> tensors: index 0 is the transformer's input, index i the output of layer i.</returns>
    public LayerFeatures ExtractFeatures(Tensor waveforms, Tensor? lengths = null, int? numLayers = null,
        BatchSemantics semantics = BatchSemantics.Original)
    {
        CheckInput(waveforms, lengths);
        if (numLayers is { } n && (n <= 0 || n > NumLayers))
            throw new ArgumentOutOfRangeException(nameof(numLayers), n, $"num_layers must be between 1 and {NumLayers}.");
        return ExtractFeaturesChecked(waveforms, lengths, numLayers, semantics);
    }

    /// <summary><see cref="ExtractFeatures"/> for inputs and a layer count the caller has already validated.</summary>
    internal LayerFeatures ExtractFeaturesChecked(Tensor waveforms, Tensor? lengths, int? numLayers, BatchSemantics semantics)
    {
        EnsureKernelsChecked();
        using var scope = NewDisposeScope();
        var (x, len) = ConvFeatures(waveforms, OnDeviceOf(lengths, waveforms), semantics);
        var layers = encoder.ExtractFeatures(x, len, numLayers);
        Scopes.Replace(x, layers[0], waveforms);
        Scopes.Keep(scope, layers.Append(len).ToArray());
        return new LayerFeatures(layers, len);
    }

    /// <summary>
    /// The pruning-aware size estimate of the original <c>get_num_params()</c>: exact counts where there are no masks,
    /// expectations (L0 norms) where there are. It excludes the aux head and, like the original, WavLM's relative
    /// position parameters.
    /// </summary>
    public double GetNumParams()
    {
        using var scope = NewDisposeScope();
        return GetNumParamsTensor().item<double>();
    }

    /// <summary><see cref="GetNumParams"/> as a differentiable float64 scalar (gradients reach <c>log_alpha</c>),
    /// for the sparsity constraint in training.</summary>
    public Tensor GetNumParamsTensor()
    {
        using var scope = NewDisposeScope();
        var (fe, channels) = feature_extractor.GetNumParamsAndFinalOutChannels();
        return fe.Plus(encoder.GetNumParams(channels)).MoveToOuterDisposeScope();
    }

    /// <summary>The plain parameter count, <c>sum(p.numel())</c> over every parameter (HardConcrete and
    /// <c>dummy_weight</c> included).</summary>
    public long NumParameters() => parameters().Sum(p => p.numel());

    /// <summary>
    /// DPHuBERT's <c>prune()</c>: switches to eval mode, turns every HardConcrete mask into smaller weights in place
    /// (folding the soft mask values into the following weights), removes the masks and blocks pruned to nothing, and
    /// returns the new config (as <c>prune.py</c> writes it; prune flags cleared). The pruned model keeps running and
    /// its state_dict loads into <c>ModelFactory.Build(newConfig)</c>.
    /// </summary>
    /// <remarks>As in the original, pruning conv channels is not exactly output-preserving (the feature projection's
    /// LayerNorm then normalizes over fewer channels), and a layer whose heads are all pruned loses its out_proj bias.</remarks>
    public Wav2Vec2Config Prune()
    {
        eval();
        lock (checkGate) kernelCheck = null; // new shapes: checked again before the next pass
        using var scope = NewDisposeScope();
        var (convConfig, index) = feature_extractor.Prune();
        var t = encoder.Prune(index);
        var old = Config;
        bool wavlm = old.AttentionKind == AttentionKind.WavLM;
        var config = old with
        {
            ExtractorConvLayerConfig = EquatableArray.From(convConfig),
            EncoderLayers = Enumerable.Range(0, t.UseAttention.Count).Select(i => old.EncoderLayers[i] with
            {
                UseAttention = t.UseAttention[i],
                UseFeedForward = t.UseFeedForward[i],
                FfIntermFeatures = t.FfIntermFeatures[i] ?? old.EncoderLayers[i].FfIntermFeatures,
                NumHeads = wavlm ? null : t.KeptHeads[i].Count,
                RemainingHeads = wavlm ? EquatableArray.From(t.KeptHeads[i]) : null,
            }).ToEquatableArray(),
            ExtractorPruneConvChannels = false,
            EncoderPruneAttentionHeads = false,
            EncoderPruneAttentionLayer = false,
            EncoderPruneFeedForwardIntermediate = false,
            EncoderPruneFeedForwardLayer = false,
        };
        Config = config;
        return config;
    }
}
