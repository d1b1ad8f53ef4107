using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using DpHubert.Audio;
using DpHubert.Extraction;
using DpHubert.Tests.Audio;
using DpHubert.Tests.Support;
using FluentAssertions;
using Xunit;

namespace DpHubert.Tests.Extraction;

/// <summary>The inputs .NET code has: samples in spans and memory, streams of any format, and folders extracted
/// asynchronously with progress and cancellation.</summary>
public sealed class AsyncExtractionTests
{
    private static string Checkpoint => TestFiles.DpHubertCase("hubert_post_ln", "checkpoint.pth");

    [Fact]
    public void Spans_memory_and_streams_give_what_arrays_and_files_give()
    {
        using var encoder = SpeechEncoder.Load(Checkpoint);
        var speech = AudioTools.Voice(30000, 1, 22050, seed: 3);
        var buffer = new float[speech.Length + 500];
        speech.CopyTo(buffer, 250);
        var expected = encoder.Extract(speech, 22050);
        encoder.Extract(buffer.AsSpan(250, speech.Length), 22050).Data.Should().Equal(expected.Data);
        encoder.Extract(new ReadOnlyMemory<float>(buffer, 250, speech.Length), 22050, LayerSelection.Final).Data.Should().Equal(expected.Data);

        string wav = AudioTools.Temp("s.wav");
        WavWriter.WriteFloat32(wav, speech, 22050);
        var fromFile = encoder.ExtractFile(wav);
        encoder.Extract(new NonSeekableStream(File.ReadAllBytes(wav)), "s.wav").Data.Should().Equal(fromFile.Data);
        using (var s = File.OpenRead(wav)) encoder.ExtractStream(s).Data.Should().Equal(fromFile.Data);
        FluentActions.Invoking(() => encoder.Extract(new MemoryStream(new byte[100]), "junk.bin")).Should().Throw<AudioFormatException>()
            .Which.Message.Should().Contain("junk.bin");
    }

    private static string Corpus(int good)
    {
        string dir = TestFiles.TempDir();
        for (int i = 0; i < good; i++)
        {
            string sub = Path.Combine(dir, $"s{i % 2}");
            Directory.CreateDirectory(sub);
            WavWriter.WritePcm16(Path.Combine(sub, $"{i:D2}.wav"), AudioTools.Voice(8000 + 1000 * i, 1, 16000, seed: i), 16000);
        }
        File.WriteAllText(Path.Combine(dir, "broken.flac"), "not a flac");
        File.WriteAllText(Path.Combine(dir, "notes.txt"), "not audio");
        return dir;
    }

    [Fact]
    public async Task A_folder_streams_results_in_path_order_with_progress()
    {
        using var encoder = SpeechEncoder.Load(Checkpoint);
        string dir = Corpus(5);
        var reports = new List<ExtractionProgress>();
        var progress = new SyncProgress(reports);
        var results = new List<FileFeatures>();
        await foreach (var r in encoder.ExtractFolderAsync(dir, options: new ExtractionOptions { BatchSize = 2 }, progress: progress))
            results.Add(r);

        results.Select(r => Path.GetRelativePath(dir, r.Path)).Should().Equal("broken.flac", "s0/00.wav", "s0/02.wav", "s0/04.wav", "s1/01.wav", "s1/03.wav");
        results[0].Succeeded.Should().BeFalse();
        results[0].Error.Should().BeOfType<AudioFormatException>().Which.Message.Should().Contain("broken.flac");
        results.Skip(1).Should().OnlyContain(r => r.Succeeded);
        var direct = encoder.ExtractFile(results[1].Path);
        results[1].Features!.Shape.Should().Equal(direct.Shape);
        reports.Select(p => p.Done).Should().Equal(1, 2, 3, 4, 5, 6);
        reports.Should().OnlyContain(p => p.Total == 6);
        reports[^1].Failed.Should().Be(1);
        reports[^1].AudioSeconds.Should().BeApproximately(results.Sum(r => r.Samples16k) / 16000.0, 1e-9);
    }

    [Fact]
    public async Task Cancellation_and_an_early_break_stop_the_run_without_hanging()
    {
        using var encoder = SpeechEncoder.Load(Checkpoint);
        string dir = Corpus(6);
        using var cts = new CancellationTokenSource();
        int seen = 0;
        Func<Task> run = async () =>
        {
            await foreach (var r in encoder.ExtractFolderAsync(dir, cancellationToken: cts.Token))
            {
                if (++seen == 2) cts.Cancel();
            }
        };
        await run.Should().ThrowAsync<OperationCanceledException>();
        seen.Should().BeInRange(2, 3, "the run stops at the next file or forward pass");

        int taken = 0;
        await foreach (var _ in encoder.ExtractFolderAsync(dir))
        {
            if (++taken == 1) break;
        }
        taken.Should().Be(1);
        FluentActions.Invoking(() => encoder.ExtractFolderAsync(Path.Combine(dir, "missing"))).Should().Throw<DirectoryNotFoundException>();
    }

    /// <summary>Records reports on the reporting thread (Progress&lt;T&gt; would post them later).</summary>
    private sealed class SyncProgress(List<ExtractionProgress> into) : IProgress<ExtractionProgress>
    {
        public void Report(ExtractionProgress value)
        {
            lock (into) into.Add(value);
        }
    }
}
