using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using DpHubert.Audio;
using DpHubert.Extraction;
using DpHubert.Streaming;
using DpHubert.Tests.Support;
using FluentAssertions;
using Xunit;

namespace DpHubert.Tests.Streaming;

/// <summary>README's live example is this test's code, line for line: it compiles against the current API and runs.</summary>
public sealed class ReadmeLiveExampleTests
{
    [Fact]
    public void The_readme_live_example_is_this_code_and_gives_offline_extractions_frames()
    {
        var audio = StreamReference.Speech48k();
        var microphone = Enumerable.Range(0, (audio.Length + 4799) / 4800).Select(i => audio[(i * 4800)..Math.Min(audio.Length, (i + 1) * 4800)]);
        var converted = new List<long>();
        void Convert(long k, ReadOnlySpan<float> frame)
        {
            frame.Length.Should().Be(48);
            converted.Add(k);
        }
        string checkpoint = TestFiles.DpHubertCase("hubert_post_ln", "checkpoint.pth");

        // README live example begin
        using var encoder = SpeechEncoder.Load(checkpoint);                 // any checkpoint file, folder or hf:// name
        using var stream = encoder.OpenStream(new StreamOptions { BlockSeconds = 0.25, ContextSeconds = 1 });
        foreach (float[] block in microphone)                     // mono blocks of any size, here at 48 kHz
        {
            StreamFrames f = stream.Push(block, 48000);           // frames f.FirstFrame .. f.EndFrame - 1, often none
            for (long k = f.FirstFrame; k < f.EndFrame; k++) Convert(k, f.Frame(k));
        }
        StreamFrames rest = stream.Flush();                       // end of utterance: offline's frame count in total
        // README live example end

        converted.Should().Equal(Enumerable.Range(0, converted.Count).Select(i => (long)i));
        (converted.Count + rest.Count).Should().Be((int)encoder.Extract(audio, 48000).Frames);

        var readme = File.ReadAllText(Path.Combine(TestFiles.RepoRoot(), "README.md"));
        int at = readme.IndexOf("using var encoder = SpeechEncoder.Load(checkpoint);", StringComparison.Ordinal);
        at.Should().BeGreaterThan(0, "README shows the live example");
        var readmeLines = readme[at..readme.IndexOf("```", at, StringComparison.Ordinal)].TrimEnd().Split('\n').Select(l => l.Trim());
        var source = File.ReadAllText(Path.Combine(TestFiles.RepoRoot(), "tests", "DpHubert.Tests", "Streaming", "ReadmeLiveExampleTests.cs"));
        int begin = source.IndexOf("// README live example begin", StringComparison.Ordinal), end = source.IndexOf("// README live example end", StringComparison.Ordinal);
        var testLines = source[(source.IndexOf('\n', begin) + 1)..end].TrimEnd().Split('\n').Select(l => l.Trim());
        readmeLines.Should().Equal(testLines, "README's example must be the code this test runs");
    }
}
