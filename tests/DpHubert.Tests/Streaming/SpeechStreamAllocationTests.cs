using System;
using System.Linq;
using DpHubert.Audio;
using DpHubert.Extraction;
using DpHubert.Streaming;
using DpHubert.Tests.Support;
using FluentAssertions;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;

namespace DpHubert.Tests.Streaming;

/// <summary>In steady state a block allocates, on the managed heap, the frames it returns plus a constant: nothing that
/// grows with the window, the context, the utterance's length or the input rate. The constant is TorchSharp's: every
/// libtorch call returns a new 48-byte Tensor wrapper (286 per HuBERT Base block); beyond those a block allocates a few
/// hundred bytes (TorchSharp's own argument arrays and guards). No dispose scope runs during a block (each would grow a
/// set of what it owns) and no tensor outlives it. Measured per thread, after enough blocks that the JIT's tiering no
/// longer changes what a block allocates.</summary>
/// <remarks>Measured with BLAS products: where the <c>auto</c> GEMM backend picks oneDNN, each routed product adds a
/// TorchScript call (a few hundred bytes, <see cref="LinearKernels"/>). The backend is process-wide, so this class runs
/// alone, with the tests that switch it.</remarks>
[Collection(OneDnnSwitchCollection.Name)]
public sealed class SpeechStreamAllocationTests(ITestOutputHelper output)
{
    // Per module run in a pass (conv block or encoder layer, plus the projection and positional convolution): measured
    // 510-670 B on these fixtures (an encoder layer is 15 wrappers, 720 B at HuBERT Base's shape), so a dispose scope per
    // layer (about 1.5 KB) or a managed call per kept weight fails it.
    private const long BytesPerModule = 640;
    private const long StreamBytes = 1536;

    // What a block may allocate beyond its frames and TorchSharp's wrappers: measured 320 B on HuBERT Base.
    private const long BeyondWrappers = 1024;
    private const long WrapperBytes = 48;

    [Theory]
    [InlineData("hubert_post_ln", 16000)]
    [InlineData("hubert_post_ln", 48000)]
    [InlineData("large_pre_ln", 16000)]
    [InlineData("raw_layer_norm", 44100)]
    public void A_block_allocates_its_frames_and_a_constant_that_does_not_grow_with_the_window(string model, int rate)
    {
        string checkpoint = model == "raw_layer_norm" ? SpeechStreamTests.RawLayerNormCheckpoint()
            : TestFiles.DpHubertCase(model, "checkpoint.pth");
        using var blas = LinearKernels.Override(LinearBackend.Blas);
        using var encoder = SpeechEncoder.Load(checkpoint);
        var config = encoder.Model.Config;
        int modules = config.ExtractorConvLayerConfig.Count + config.EncoderNumLayers + 2;
        long budget = modules * BytesPerModule + StreamBytes;
        var input = AudioPreprocessor.Resample(StreamReference.Speech48k(), 48000, rate);
        var shortContext = BeyondFrames(encoder, input, rate, new StreamOptions { BlockSeconds = 0.1, ContextSeconds = 0.5 });
        var longContext = BeyondFrames(encoder, input, rate, new StreamOptions { BlockSeconds = 0.1, ContextSeconds = 2.5 });
        output.WriteLine($"{model} at {rate} Hz: managed bytes per block beyond the frames, context 0.5 s: {Describe(shortContext)}; " +
                         $"2.5 s: {Describe(longContext)}; budget {budget} ({modules} modules)");
        shortContext.Max().Should().BeLessThanOrEqualTo(budget);
        longContext.Max().Should().BeLessThanOrEqualTo(budget);
        // Five times the window (and the frames kept by a per-frame front end) costs no more managed memory per block.
        longContext.Average().Should().BeLessThanOrEqualTo(shortContext.Average() * 1.1 + 512);
        // Later blocks allocate what earlier ones did (nothing accumulates over the utterance).
        var half = longContext.Length / 2;
        longContext[half..].Average().Should().BeLessThanOrEqualTo(longContext[..half].Average() * 1.1 + 512);
    }

    /// <summary>Pushes one block at a time (looping the input) and returns, for each block after the context has filled
    /// and the JIT has settled, the bytes allocated on this thread beyond the returned frames. Each of those blocks must
    /// make no tensor inside a dispose scope and leave as many live tensors as it found.</summary>
    private static long[] BeyondFrames(SpeechEncoder encoder, float[] input, int rate, StreamOptions options)
    {
        using var stream = encoder.OpenStream(options);
        int block = (int)Math.Round(options.BlockSeconds * rate);
        // Methods called once per block are recompiled after about 30 calls, which can change what they allocate.
        int fill = Math.Max((int)Math.Ceiling((options.BlockSeconds + options.ContextSeconds) / options.BlockSeconds) + 4, 48);
        const int measured = 24;
        var result = new long[measured];
        var statistics = DisposeScopeManager.Statistics;
        for (int k = 0, at = 0; k < fill + measured; k++, at += block)
        {
            if (at + block > input.Length) at = 0;
            long inScope = statistics.CreatedInScopeCount, live = statistics.ThreadTotalLiveCount;
            long wrappers = statistics.CreatedOutsideScopeCount;
            long before = GC.GetAllocatedBytesForCurrentThread();
            var frames = stream.Push(input.AsSpan(at, block), rate);
            long bytes = GC.GetAllocatedBytesForCurrentThread() - before;
            wrappers = statistics.CreatedOutsideScopeCount - wrappers;
            if (k < fill) continue;
            (bytes - ReturnedBytes(frames) - wrappers * WrapperBytes).Should().BeLessThanOrEqualTo(BeyondWrappers,
                $"beyond its frames a block allocates its {wrappers} tensor wrappers and little else");
            frames.Count.Should().BeGreaterThan(0, "every 0.1 s block completes 5 frames once the context has filled");
            statistics.CreatedInScopeCount.Should().Be(inScope, "a block runs without dispose scopes: the modules free what they make");
            statistics.ThreadTotalLiveCount.Should().Be(live, "a block leaves no tensor behind");
            result[k - fill] = bytes - ReturnedBytes(frames);
        }
        return result;
    }

    /// <summary>What <see cref="SpeechStream.Push"/> returns: the frames' float[] and shape, the FeatureArray and the
    /// StreamFrames (64-bit .NET: 24-byte array headers, 32-byte objects of two fields).</summary>
    internal static long ReturnedBytes(StreamFrames frames) =>
        24 + frames.Features.Data.Length * 4L + 24 + frames.Features.Shape.Length * 8L + 32 + 32;

    private static string Describe(long[] bytes) => $"mean {bytes.Average():0}, max {bytes.Max()}";
}
