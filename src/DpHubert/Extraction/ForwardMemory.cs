using System;
using System.Globalization;
using System.IO;
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
    /// <summary>Whether the forward pass keeps every layer's intermediates until it ends (one dispose scope around the
    /// pass) rather than freeing each layer's as the next starts.</summary>
    internal const bool AllLayersAlive = true;

    /// <summary>[batch, heads, frames, frames] attention tensors alive per layer: scores, shifted scores and softmax.</summary>
    private const int AttentionCopies = 3;

    /// <summary>Estimated peak bytes of one forward pass over <paramref name="batch"/> items of at most
    /// <paramref name="samples"/> 16 kHz samples each.</summary>
    /// <remarks>Against HuBERT Base, fp32, whole-process peak RSS of <c>dphubert extract</c>: 20 s measured 3.66 GB
    /// (estimate 3.4 GB + 0.4 GB of weights), 60 s 19.5 GB (estimate 20.6 GB).</remarks>
    public static long EstimateBytes(Wav2Vec2Config config, int batch, long samples, int elementBytes)
    {
        long frames = config.FramesForSamples(samples);
        double elements = 0;
        long n = samples;
        foreach (var conv in config.ExtractorConvLayerConfig)
        {
            n = Math.Max(0, (n - conv.KernelSize) / conv.Stride + 1);
            elements += 3.0 * conv.OutChannels * n; // convolution, normalisation and GELU outputs
        }
        int e = config.EncoderEmbedDim;
        elements += 8.0 * e * frames; // projection, positional convolution, layer norm
        double layers = 0, largest = 0;
        for (int i = 0; i < config.EncoderNumLayers; i++)
        {
            int heads = config.EncoderUseAttention.Count > i ? config.HeadsOfLayer(i) : 0;
            int ff = config.EncoderFfIntermFeatures.Count > i ? config.EncoderFfIntermFeatures[i] : 0;
            double layer = AttentionCopies * (double)heads * frames * frames * Math.Max(4, elementBytes) / elementBytes
                + (12.0 * e + 3.0 * ff) * frames;
            layers += layer;
            largest = Math.Max(largest, layer);
        }
        elements += AllLayersAlive ? layers : largest;
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
