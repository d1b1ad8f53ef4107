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
    /// <summary>Estimated peak bytes of one forward pass over <paramref name="batch"/> items of at most
    /// <paramref name="samples"/> 16 kHz samples each, under inference mode (as <see cref="SpeechEncoder"/> runs it).</summary>
    /// <remarks>
    /// Each conv block and encoder layer frees its intermediates before the next starts, so the peak is that of the
    /// largest stage, not a sum: for long recordings the first conv block (512 channels at 3,200 frames per second)
    /// dominates. Attention is fused (no [heads, frames, frames] weights) except for WavLM, whose relative position bias
    /// is itself [heads, frames, frames]. Every layer's output is counted as kept (the all-layers selection).
    /// Against HuBERT Base, fp32, whole-process peak RSS of <c>dphubert extract</c> (weights and runtime about 0.55 GB):
    /// 64 s measured 1.60 GB.
    /// </remarks>
    public static long EstimateBytes(Wav2Vec2Config config, int batch, long samples, int elementBytes)
    {
        long frames = config.FramesForSamples(samples);
        double convPeak = 0;
        long n = samples;
        int inChannels = 1;
        foreach (var conv in config.ExtractorConvLayerConfig)
        {
            long m = Math.Max(0, (n - conv.KernelSize) / conv.Stride + 1);
            // The block's input, its convolution output and the normalised output (GELU runs in place).
            convPeak = Math.Max(convPeak, (double)inChannels * n + 2.0 * conv.OutChannels * m);
            n = m;
            inChannels = conv.OutChannels;
        }
        int e = config.EncoderEmbedDim;
        bool wavlm = config.AttentionKind == AttentionKind.WavLM;
        double layerPeak = 0;
        for (int i = 0; i < config.EncoderNumLayers; i++)
        {
            int heads = config.HeadsOfLayer(i);
            int ff = config.EncoderLayers[i].FfIntermFeatures;
            double attention = 4.0 * heads * (heads > 0 ? config.HeadDimOfLayer(i) : 0) * (double)frames           // q, k, v and the fused output
                + (wavlm ? 2.0 * heads * (double)frames * frames : 0);           // position bias and its gated copy
            layerPeak = Math.Max(layerPeak, 6.0 * e * frames + ff * (double)frames + attention);
        }
        double kept = (config.EncoderNumLayers + 1.0) * e * frames;
        double elements = Math.Max(convPeak, layerPeak) + kept;
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
        string what = batch > 1
            ? string.Create(CultureInfo.InvariantCulture, $"a batch of {batch} inputs of up to {samples / 16000.0:0.#} s")
            : string.Create(CultureInfo.InvariantCulture, $"{samples / 16000.0:0.#} s of audio");
        string head = string.Create(CultureInfo.InvariantCulture,
            $"{what} needs about {need / 1e9:0.0} GB for one forward pass, but {available / 1e9:0.0} GB is available; ");
        int? fits = null;
        foreach (int seconds in new[] { 120, 60, 30, 20, 10, 5 })
        {
            // A chunk adds 1 s of context on each side by default; leave half the memory for everything else.
            if (EstimateBytes(config, 1, (seconds + 2) * 16000L, elementBytes) <= available / 2)
            {
                fits = seconds;
                break;
            }
        }
        var text = (fits, batch > 1) switch
        {
            (null, false) => new OptionText($"{head}split it into chunks ({ApiOption.ChunkSeconds})."),
            (null, true) => new OptionText($"{head}use a smaller {ApiOption.BatchSize} or split it into chunks ({ApiOption.ChunkSeconds})."),
            ({ } s, false) => new OptionText($"{head}split it into chunks of {s} s ({ApiOption.ChunkSeconds})."),
            ({ } s, true) => new OptionText($"{head}split it into chunks of {s} s ({ApiOption.ChunkSeconds}) or use a smaller {ApiOption.BatchSize}."),
        };
        return text.Attach(new InsufficientMemoryException(text.ToString()));
    }
}
