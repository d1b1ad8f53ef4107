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
    /// <summary>[batch, heads, frames, frames] tensors alive in a WavLM pass: the relative position bias every layer
    /// shares, its gated copy and the combined additive mask. Standard attention runs fused
    /// (scaled_dot_product_attention) and never holds one.</summary>
    private const int WavLMBiasCopies = 3;

    /// <summary>Estimated peak bytes of one inference pass over <paramref name="batch"/> items of at most
    /// <paramref name="samples"/> 16 kHz samples each, for the forward path that frees each conv block's and each
    /// encoder layer's intermediates as the next starts: the largest conv block (output, normalised, activated), the
    /// encoder's linear activations of one layer, and for WavLM the [heads, frames, frames] position bias (float32).</summary>
    public static long EstimateBytes(Wav2Vec2Config config, int batch, long samples, int elementBytes)
    {
        long frames = config.FramesForSamples(samples);
        double conv = 0;
        long n = samples;
        foreach (var c in config.ExtractorConvLayerConfig)
        {
            n = Math.Max(0, (n - c.KernelSize) / c.Stride + 1);
            conv = Math.Max(conv, 3.0 * c.OutChannels * n);
        }
        int e = config.EncoderEmbedDim;
        double layer = 0;
        int biasHeads = 0;
        for (int i = 0; i < config.EncoderNumLayers; i++)
        {
            int ff = config.EncoderFfIntermFeatures.Count > i ? config.EncoderFfIntermFeatures[i] : 0;
            layer = Math.Max(layer, (12.0 * e + 3.0 * ff) * frames);
            if (config.AttentionKind == Config.AttentionKind.WavLM && config.EncoderTotalNumHeads is { } total && total.Count > i)
                biasHeads = Math.Max(biasHeads, total[i]);
        }
        double encoder = 8.0 * e * frames + layer
            + WavLMBiasCopies * (double)biasHeads * frames * frames * Math.Max(4, elementBytes) / elementBytes;
        double bytes = Math.Max(conv, encoder) * batch * elementBytes;
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
