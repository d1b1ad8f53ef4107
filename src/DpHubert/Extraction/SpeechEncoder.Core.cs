using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.InteropServices;
using System.Threading;
using DpHubert.Audio;
using TorchSharp;
using static TorchSharp.torch;

namespace DpHubert.Extraction;

// The one extraction core: every public entry point validates its inputs once (layer selection, options, non-finite
// samples, length), turns them into 16 kHz inputs and hands one ExtractionRequest to Run, which batches, chunks and
// runs the model without checking any of it again.
public sealed partial class SpeechEncoder
{
    /// <summary>One validated extraction: 16 kHz inputs (each at least <see cref="MinimumSamples"/> long, finite), the
    /// output wanted, and how to batch and chunk (validated options).</summary>
    private sealed record ExtractionRequest(IReadOnlyList<ReadOnlyMemory<float>> Inputs, LayerSelection Layers, ExtractionOptions Options);

    // ---- validation, once per input ----

    private void CheckLayer(LayerSelection layers)
    {
        if (layers.Index is { } i && i > model.NumLayers)
            throw new OptionText($"Layer index {i} ({ApiOption.Layers}) is past the last layer: this model has {model.NumLayers} layers (valid: 0..{model.NumLayers}, 'all').").Argument();
    }

    /// <summary>16 kHz samples given as they are: finite and long enough, or the one error for each.</summary>
    private ReadOnlyMemory<float> At16k(float[] samples16k, string paramName, string? what)
    {
        AudioPreprocessor.ThrowIfNotFinite(samples16k, paramName);
        CheckLength(samples16k.Length, what);
        return samples16k;
    }

    /// <summary>Samples at <paramref name="sampleRate"/>: checked finite, resampled to 16 kHz (not copied when already
    /// there), padded for the units and checked long enough.</summary>
    private ReadOnlyMemory<float> AtRate(ReadOnlyMemory<float> samples, int sampleRate, string paramName, string? what)
    {
        AudioPreprocessor.ThrowIfNotFinite(samples.Span, paramName);
        if (sampleRate != AudioPreprocessor.TargetSampleRate)
        {
            var whole = MemoryMarshal.TryGetArray(samples, out var segment) && segment.Offset == 0 && segment.Count == segment.Array!.Length
                ? segment.Array : samples.ToArray();
            var resampled = AudioPreprocessor.Resample(whole, sampleRate, AudioPreprocessor.TargetSampleRate);
            // Finite input can still overflow float32 in the filter when its values are huge.
            int bad = AudioPreprocessor.IndexOfNonFinite(resampled);
            if (bad >= 0)
                throw new ArgumentException($"{paramName} overflows float32 when resampled to 16 kHz (16 kHz sample {bad} is {resampled[bad]}); " +
                                            "audio samples should lie in [-1, 1]", paramName);
            samples = resampled;
        }
        return Decoded(samples, what);
    }

    /// <summary>16 kHz samples read from audio (already checked finite by the reader): padded for the units and
    /// checked long enough.</summary>
    private ReadOnlyMemory<float> Decoded(ReadOnlyMemory<float> samples16k, string? what)
    {
        if (Units is { PadSamples: > 0 } units)
        {
            var padded = new float[samples16k.Length + 2 * units.PadSamples];
            samples16k.Span.CopyTo(padded.AsSpan(units.PadSamples));
            samples16k = padded;
        }
        CheckLength(samples16k.Length, what);
        return samples16k;
    }

    // The length a padded waveform had before the units padding: what a file holds, the same whether it is extracted or resumed.
    private long Unpadded(ReadOnlyMemory<float> padded) => padded.Length - 2L * (Units?.PadSamples ?? 0);

    /// <summary>Throws the one "too short" error (<see cref="Wav2Vec2Model.TooShort"/>) when audio is shorter than
    /// <see cref="MinimumSamples"/>.</summary>
    private void CheckLength(long samples, string? what)
    {
        if (samples < MinimumSamples) throw model.TooShort(samples, what, null);
    }

    // ---- the core ----

    private FeatureArray RunOne(ReadOnlyMemory<float> input, LayerSelection layers, ExtractionOptions? options, CancellationToken cancellationToken) =>
        Run(new ExtractionRequest(new[] { input }, layers, options ?? new ExtractionOptions()), cancellationToken)[0];

    /// <summary>Extracts every input of a validated request: inputs longer than a chunk go window by window (their
    /// windows batched), the rest in length-sorted batches; results in input order.</summary>
    private FeatureArray[] Run(ExtractionRequest request, CancellationToken cancellationToken)
    {
        var inputs = request.Inputs;
        var results = new FeatureArray[inputs.Count];
        var whole = new List<int>();
        for (int i = 0; i < inputs.Count; i++)
        {
            if (Chunks(inputs[i].Length, request.Options) is { } plan) results[i] = RunChunked(inputs[i], plan, request, cancellationToken);
            else whole.Add(i);
        }
        var outs = RunSorted(whole.Select(i => inputs[i]).ToArray(), request.Layers, request.Options.BatchSize, cancellationToken);
        for (int j = 0; j < whole.Count; j++) results[whole[j]] = outs[j];
        return results;
    }

    /// <summary>Length-sorted batches of <paramref name="batchSize"/>, one forward pass each.</summary>
    private FeatureArray[] RunSorted(ReadOnlyMemory<float>[] items, LayerSelection layers, int batchSize, CancellationToken cancellationToken)
    {
        var results = new FeatureArray[items.Length];
        var order = Enumerable.Range(0, items.Length).OrderBy(i => items[i].Length).ToArray();
        for (int start = 0; start < order.Length; start += batchSize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var idx = order.AsSpan(start, Math.Min(batchSize, order.Length - start)).ToArray();
            var outs = RunBatch(idx.Select(i => items[i]).ToArray(), layers);
            for (int j = 0; j < idx.Length; j++) results[idx[j]] = outs[j];
        }
        return results;
    }

    /// <summary>Samples per frame (the product of the conv strides; 320 for every released model).</summary>
    private int Hop => model.Config.ExtractorConvLayerConfig.Aggregate(1, (a, c) => a * c.Stride);

    /// <summary>How an input of <paramref name="samples"/> is cut into chunks (frames of its own per chunk, frames of
    /// context on each side), or null when it is computed whole.</summary>
    private (long Total, long OwnFrames, long Context)? Chunks(long samples, ExtractionOptions options)
    {
        if (options.ChunkSeconds is not { } chunkSeconds) return null;
        long own = Math.Max(1, (long)Math.Round(chunkSeconds * AudioPreprocessor.TargetSampleRate / Hop));
        long ctx = Math.Max(0, (long)Math.Round(options.ChunkOverlapSeconds * AudioPreprocessor.TargetSampleRate / Hop));
        long total = model.Config.FramesForSamples(samples);
        return total <= own ? null : (total, own, ctx);
    }

    /// <summary>
    /// Overlapping-chunk inference for long recordings: the frames are split into runs of <c>ChunkSeconds</c>; each run
    /// is computed from a window that adds <c>ChunkOverlapSeconds</c> of context on both sides, cut on frame boundaries
    /// (frame t covers samples [hop·t, hop·t + receptive field)), and only the run's own frames are kept. The result has
    /// exactly the whole-file frame count; values differ from whole-file inference only through the attention's limited
    /// context (and per-chunk statistics of group-norm extractors / waveform normalization). Windows are slices of the
    /// input, not copies.
    /// </summary>
    private FeatureArray RunChunked(ReadOnlyMemory<float> samples, (long Total, long OwnFrames, long Context) plan, ExtractionRequest request,
        CancellationToken cancellationToken)
    {
        var (total, own, ctx) = plan;
        int hop = Hop, rf = MinimumSamples;
        var windows = new List<ReadOnlyMemory<float>>();
        var keep = new List<(long Skip, long Count)>();
        for (long a = 0; a < total; a += own)
        {
            long b = Math.Min(total, a + own);
            long wa = Math.Max(0, a - ctx), wb = Math.Min(total, b + ctx);
            long s0 = wa * hop, s1 = (wb - 1) * hop + rf;
            windows.Add(samples.Slice((int)s0, (int)(s1 - s0)));
            keep.Add((a - wa, b - a));
        }
        var outs = RunSorted(windows.ToArray(), request.Layers, request.Options.BatchSize, cancellationToken);
        var first = outs[0];
        long dim = first.Dim;
        long lead = first.Shape.Length == 3 ? first.Shape[0] : 1;
        var data = new float[lead * total * dim];
        long at = 0;
        for (int w = 0; w < outs.Length; w++)
        {
            var o = outs[w];
            var (skip, count) = keep[w];
            for (long l = 0; l < lead; l++)
                Array.Copy(o.Data, (l * o.Frames + skip) * dim, data, (l * total + at) * dim, count * dim);
            at += count;
        }
        return new FeatureArray(data, first.Shape.Length == 3 ? new[] { lead, total, dim } : new[] { total, dim });
    }

    /// <summary>One forward pass: the items go straight into one zero-padded float32 batch in native memory (lengths
    /// only when they differ), the model computes it with <see cref="BatchSemantics.PerItem"/> (so each row equals that
    /// item alone) and each row's valid frames, as the model counts them, come back as float32.</summary>
    private FeatureArray[] RunBatch(ReadOnlyMemory<float>[] items, LayerSelection layers)
    {
        int max = items.Max(x => x.Length);
        long estimate = EnsureFits(items.Length, max);
        using var lease = Use();
        // Ends after the scope below has freed the pass's tensors, so the trim policy sees them free.
        using var pass = Device.type == DeviceType.CPU ? NativeHeap.Pass(estimate) : (NativeHeap.PassLease?)null;
        passObserver?.Invoke(items.Length, max);
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        // Waveform statistics are taken in float32 whatever the compute dtype; the model casts after normalizing.
        var waves = Pack(items, max);
        bool equal = items.All(x => x.Length == max);
        var lengths = equal ? null : tensor(items.Select(x => (long)x.Length).ToArray());
        var outs = new FeatureArray[items.Length];
        if (layers.Index is null && !layers.All)
        {
            var (x, frameLengths) = model.ForwardChecked(waves, lengths, BatchSemantics.PerItem);
            var frames = Frames(frameLengths, items.Length, x.shape[1]);
            for (int i = 0; i < items.Length; i++) outs[i] = ToArray(x[i, ..(int)frames[i]]);
        }
        else
        {
            int? numLayers = layers.All ? null : Math.Max(1, layers.Index!.Value);
            var (all, frameLengths) = model.ExtractFeaturesChecked(waves, lengths, numLayers, BatchSemantics.PerItem);
            var frames = Frames(frameLengths, items.Length, all[0].shape[1]);
            for (int i = 0; i < items.Length; i++)
            {
                int n = (int)frames[i];
                using var row = layers.All ? stack(all.Select(t => t[i, ..n]).ToArray()) : all[layers.Index!.Value][i, ..n];
                outs[i] = ToArray(row);
            }
        }
        return outs;
    }

    /// <summary>The items as one [items, longest] float32 tensor on <see cref="Device"/>: each copied once, straight
    /// from managed into native memory, and the padding zeroed.</summary>
    private Tensor Pack(ReadOnlyMemory<float>[] items, int max)
    {
        var waves = empty(items.Length, max, dtype: ScalarType.Float32);
        var rows = MemoryMarshal.Cast<byte, float>(waves.bytes);
        for (int i = 0; i < items.Length; i++)
        {
            var row = rows.Slice(i * max, max);
            items[i].Span.CopyTo(row);
            row[items[i].Length..].Clear();
        }
        return Device.type == DeviceType.CPU ? waves : waves.to(Device);
    }

    /// <summary>Each row's valid frames as the model returned them (every row's when it was given no lengths).</summary>
    private static long[] Frames(Tensor? frameLengths, int items, long frames)
    {
        if (frameLengths is null) return Enumerable.Repeat(frames, items).ToArray();
        using var onCpu = frameLengths.to(ScalarType.Int64, CPU);
        return onCpu.data<long>().ToArray();
    }

    /// <summary>A result as a float32 array, through the projection when there is one.</summary>
    private FeatureArray ToArray(Tensor t)
    {
        using var projected = projection?.Apply(t);
        using var c = (projected ?? t).detach().to(ScalarType.Float32).cpu().contiguous();
        return new FeatureArray(MemoryMarshal.Cast<byte, float>(c.bytes).ToArray(), c.shape);
    }

    /// <summary>Estimated peak bytes of one forward pass over <paramref name="batch"/> inputs of <paramref name="samples"/> samples.</summary>
    internal long EstimatePassBytes(int batch, long samples) =>
        ForwardMemory.EstimateBytes(model.Config, batch, samples, DType == ScalarType.Float32 ? 4 : 2);

    /// <summary>Tells the test observer (if any) that a pass of <paramref name="items"/> inputs, the longest
    /// <paramref name="samples"/> long, starts; called inside the pass's lease.</summary>
    internal void PassStarting(int items, long samples) => passObserver?.Invoke(items, samples);

    /// <summary>Throws an <see cref="InsufficientMemoryException"/> before allocating when a CPU forward pass over
    /// <paramref name="batch"/> inputs of <paramref name="samples"/> samples would not fit in memory.</summary>
    /// <returns>The pass's estimated peak bytes (0 off the CPU).</returns>
    private long EnsureFits(int batch, long samples)
    {
        if (Device.type != DeviceType.CPU) return 0; // CUDA reports its own out-of-memory error, caught per input
        int elementBytes = DType == ScalarType.Float32 ? 4 : 2;
        long need = EstimatePassBytes(batch, samples);
        if (memoryLimit is null && need < 256L << 20) return need; // small passes: skip reading /proc/meminfo
        long available = memoryLimit ?? ForwardMemory.AvailableBytes();
        if (need > available) throw ForwardMemory.TooLong(model.Config, batch, samples, elementBytes, need, available);
        return need;
    }

    // ---- files: read ahead, batch by length, one file's failure fails that file alone ----

    private IEnumerable<FileFeatures> ExtractFilesCore(IEnumerable<string> paths, LayerSelection layers, ExtractionOptions options,
        CancellationToken cancellationToken)
    {
        int window = options.ReadAhead ?? options.BatchSize * 16;
        foreach (var group in paths.Chunk(window))
        {
            var loaded = new (ReadOnlyMemory<float> Samples, Exception? Error)[group.Length];
            for (int i = 0; i < group.Length; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                try
                {
                    loaded[i] = (Decoded(AudioPreprocessor.LoadMono16k(group[i]), null), null);
                }
                catch (Exception e) when (IsInputFailure(e))
                {
                    loaded[i] = (default, e);
                }
            }
            var results = new FileFeatures[group.Length];
            // Chunked (long) files go one by one (their chunks are batched); the rest are batched together.
            var whole = new List<int>();
            for (int i = 0; i < group.Length; i++)
            {
                var (samples, error) = loaded[i];
                if (error is not null)
                    results[i] = new FileFeatures(group[i], null, error, 0);
                else if (Chunks(samples.Length, options) is not null)
                    results[i] = ResultOrError(group[i], Unpadded(samples), () => RunOne(samples, layers, options, cancellationToken));
                else
                    whole.Add(i);
            }
            if (whole.Count > 0)
            {
                try
                {
                    var outs = RunSorted(whole.Select(i => loaded[i].Samples).ToArray(), layers, options.BatchSize, cancellationToken);
                    for (int j = 0; j < whole.Count; j++)
                        results[whole[j]] = new FileFeatures(group[whole[j]], outs[j], null, Unpadded(loaded[whole[j]].Samples));
                }
                catch (Exception e) when (IsInputFailure(e))
                {
                    // Isolate the failing file(s) rather than failing the whole group.
                    foreach (int i in whole)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        var samples = loaded[i].Samples;
                        results[i] = ResultOrError(group[i], Unpadded(samples), () => RunSorted(new[] { samples }, layers, 1, CancellationToken.None)[0]);
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
}
