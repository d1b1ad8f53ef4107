using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Tasks;
using DpHubert.Extraction;

namespace DpHubert.Streaming;

/// <summary>The asynchronous form of <see cref="SpeechStream"/>: blocks from an async source (a microphone callback
/// queue, a socket) in, final frames out.</summary>
public static class SpeechStreamAsync
{
    /// <summary>Streams <paramref name="blocks"/> through a new <see cref="SpeechStream"/>: yields the frames each block
    /// completes (blocks that complete none yield nothing) and, when the source ends, the remaining frames
    /// (<see cref="SpeechStream.Flush"/>). Together they are exactly offline extraction's frames.</summary>
    /// <param name="encoder">The encoder (shared; any number of these may run at once).</param>
    /// <param name="blocks">Mono samples in [-1, 1], in order, any sizes.</param>
    /// <param name="sampleRate">Their rate.</param>
    /// <param name="options">Block, context, lookahead and output (null: the defaults).</param>
    /// <param name="cancellationToken">Checked before each block is pushed and before the flush, and passed to the
    /// source; cancellation throws <see cref="OperationCanceledException"/> (frames already yielded stay valid).</param>
    /// <example>
    /// <code>
    /// await foreach (StreamFrames f in encoder.StreamAsync(microphone.ReadAllAsync(ct), 48000, new StreamOptions(), ct))
    ///     await SendAsync(f.FirstFrame, f.Features);
    /// </code>
    /// </example>
    public static async IAsyncEnumerable<StreamFrames> StreamAsync(this SpeechEncoder encoder, IAsyncEnumerable<ReadOnlyMemory<float>> blocks,
        int sampleRate, StreamOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(encoder);
        ArgumentNullException.ThrowIfNull(blocks);
        using var stream = encoder.OpenStream(options);
        await foreach (var block in blocks.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var frames = stream.Push(block.Span, sampleRate);
            if (frames.Count > 0) yield return frames;
        }
        cancellationToken.ThrowIfCancellationRequested();
        var rest = stream.Flush();
        if (rest.Count > 0) yield return rest;
    }
}
