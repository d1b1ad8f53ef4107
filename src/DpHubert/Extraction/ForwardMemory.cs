using System;
using System.Globalization;
using System.IO;
using System.Linq;
using DpHubert.Config;

namespace DpHubert.Extraction;

/// <summary>
/// How much memory one forward pass takes, estimated from the recording's length and the model's shape before anything
/// is allocated, and how much the machine has: a recording that cannot fit fails on its own with a message that says
/// what to do, instead of taking the whole machine (Linux overcommits, so the kernel's OOM killer, not an exception,
/// would end the process).
/// </summary>
internal static class ForwardMemory
{
    /// <summary>Conv stage: a block's output and its norm's output are alive together, plus libtorch's transient
    /// convolution buffer (fitted to the measured peaks below).</summary>
    private const double ConvCopies = 2.5;

    /// <summary>WavLM's [batch · heads, frames, frames] tensors alive in a layer: the position bias every layer reads,
    /// the gated bias and the mask taken from it.</summary>
    private const int WavLMBiasCopies = 3;

    /// <summary>Estimated peak bytes of one inference forward pass over <paramref name="batch"/> items of at most
    /// <paramref name="samples"/> 16 kHz samples each (weights not included). A pass frees each block's and layer's
    /// intermediates as it goes and attention runs fused, so the peak is the larger of the first conv blocks and one
    /// encoder layer, linear in the length (WavLM's relative position bias aside, which is quadratic).</summary>
    /// <remarks>Against HuBERT Base, fp32, whole-process peak RSS of <c>dphubert extract</c> (weights and runtime
    /// about 0.6 GB on top): 20 s measured 0.95 GB, 60 s 1.53 GB, 5 min 5.45 GB.</remarks>
    public static long EstimateBytes(Wav2Vec2Config config, int batch, long samples, int elementBytes)
    {
        long frames = config.FramesForSamples(samples);
        double conv = 0;
        long n = samples;
        foreach (var c in config.ExtractorConvLayerConfig)
        {
            n = Math.Max(0, (n - c.KernelSize) / c.Stride + 1);
            conv = Math.Max(conv, ConvCopies * c.OutChannels * n);
        }
        int e = config.EncoderEmbedDim;
        double largest = 0;
        for (int i = 0; i < config.EncoderNumLayers; i++)
        {
            int ff = config.EncoderFfIntermFeatures.Count > i ? config.EncoderFfIntermFeatures[i] : 0;
            largest = Math.Max(largest, (12.0 * e + 3.0 * ff) * frames);
        }
        // The padding mask of a batch with lengths, and WavLM's bias, are [frames, frames] per item (and head).
        double square = (double)frames * frames * Math.Max(4, elementBytes) / elementBytes;
        double attention = batch > 1 ? square : 0;
        if (config.AttentionKind == AttentionKind.WavLM && config.EncoderTotalNumHeads is { Count: > 0 } heads)
            attention += WavLMBiasCopies * heads.Max() * square;
        double elements = Math.Max(conv, 8.0 * e * frames + largest + attention);
        double bytes = elements * batch * elementBytes;
        return bytes >= long.MaxValue ? long.MaxValue : (long)bytes;
    }

    /// <summary>Memory this process may still take: Linux's MemAvailable, bounded by the GC's view of the limit
    /// (which honours container limits) less what the process already uses.</summary>
    public static long AvailableBytes()
    {
        long gcLimit = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        long available = Math.Max(0, gcLimit - Environment.WorkingSet);
        if (OperatingSystem.IsLinux() && ReadMemAvailable() is long meminfo)
        {
            available = Math.Min(available, meminfo);
        }
        return available;
    }

    private static long? ReadMemAvailable()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/meminfo"))
            {
                if (!line.StartsWith("MemAvailable:", StringComparison.Ordinal)) continue;
                var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return parts.Length >= 2 && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out long kb)
                    ? kb * 1024 : null;
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return null;
    }

    /// <summary>The error for a pass that does not fit, with a <c>--chunk-seconds</c> value that does.</summary>
    public static InsufficientMemoryException TooLong(Wav2Vec2Config config, int batch, long samples, int elementBytes, long need, long available)
    {
        string what = batch > 1 ? $"a batch of {batch} inputs of up to {samples / 16000.0:0.#} s" : $"{samples / 16000.0:0.#} s of audio";
        string advice = (batch > 1 ? "use a smaller ExtractionOptions.BatchSize or " : "") + "split it into chunks (ExtractionOptions.ChunkSeconds)";
        foreach (int seconds in new[] { 120, 60, 30, 20, 10, 5 })
        {
            // A chunk adds 1 s of context on each side by default; leave half the memory for everything else.
            if (EstimateBytes(config, 1, (seconds + 2) * 16000L, elementBytes) <= available / 2)
            {
                advice = $"split it into chunks of {seconds} s (ExtractionOptions.ChunkSeconds)" + (batch > 1 ? " or use a smaller ExtractionOptions.BatchSize" : "");
                break;
            }
        }
        return new InsufficientMemoryException(string.Create(CultureInfo.InvariantCulture,
            $"{what} needs about {need / 1e9:0.0} GB for one forward pass, but {available / 1e9:0.0} GB is available; {advice}."));
    }
}
