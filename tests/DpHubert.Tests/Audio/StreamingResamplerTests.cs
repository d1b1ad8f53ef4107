using System;
using System.Linq;
using DpHubert.Audio;
using FluentAssertions;
using Xunit;
using Xunit.Abstractions;

namespace DpHubert.Tests.Audio;

/// <summary>Resampling block by block equals resampling the whole recording (≤ 1e-6), for the torchaudio kernel table
/// and the direct filter alike, whatever the block sizes: no edge effects at block joins.</summary>
public sealed class StreamingResamplerTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(48000)]
    [InlineData(44100)]
    [InlineData(22050)]
    [InlineData(8000)]
    [InlineData(96000)]
    [InlineData(44101)]
    [InlineData(16000)]
    public void Streamed_resampling_equals_whole_file_resampling(int rate)
    {
        var speech = AudioPreprocessor.Resample(Streaming.StreamReference.Speech48k()[..96000], 48000, rate);
        var whole = AudioPreprocessor.Resample(speech, rate, 16000);
        foreach (int piece in new[] { 1, 7, 441, 4096, 12345, speech.Length })
        {
            if (piece == 1 && speech.Length > 50_000 && rate != 8000) continue; // one-sample pushes: once is enough
            var resampler = new StreamingResampler(rate);
            var streamed = new SampleBuffer();
            for (int at = 0; at < speech.Length; at += piece)
                resampler.Push(speech.AsSpan(at, Math.Min(piece, speech.Length - at)), streamed);
            long beforeFlush = streamed.End;
            resampler.Flush(streamed);
            streamed.End.Should().Be(whole.Length, $"{rate} Hz in pieces of {piece}");
            streamed.Start.Should().Be(0);
            double diff = streamed.Span.ToArray().Zip(whole, (a, b) => Math.Abs((double)a - b)).Max();
            output.WriteLine($"{rate} Hz, pieces of {piece}: {whole.Length} samples, {whole.Length - beforeFlush} held back until the end, max |diff| {diff:E2}");
            diff.Should().BeLessThanOrEqualTo(1e-6, $"{rate} Hz in pieces of {piece}");
        }
    }
}
