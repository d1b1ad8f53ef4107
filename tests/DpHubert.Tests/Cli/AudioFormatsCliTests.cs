using System;
using System.IO;
using System.Linq;
using DpHubert.Audio;
using DpHubert.Extraction;
using DpHubert.Tests.Audio;
using DpHubert.Tests.Support;
using FluentAssertions;
using Xunit;
using Xunit.Abstractions;

namespace DpHubert.Tests.Cli;

/// <summary>A folder run over a corpus in mixed formats: every audio extension is picked up, outputs are named as for
/// WAV, a broken file fails alone by name, and a FLAC's features are its WAV's.</summary>
public sealed class AudioFormatsCliTests(ITestOutputHelper output)
{
    private static string Checkpoint => TestFiles.DpHubertCase("hubert_post_ln", "checkpoint.pth");

    [AudioToolsFact("flac", "lame", "oggenc", "ffmpeg")]
    public void A_folder_of_mixed_formats_is_read_whole()
    {
        string inDir = TestFiles.TempDir(), outDir = Path.Combine(TestFiles.TempDir(), "out");
        var speech = AudioTools.Voice(24000, 1, 16000, seed: 11);
        string wav = Path.Combine(inDir, "a.wav");
        WavWriter.WritePcm16(wav, speech, 16000);
        Directory.CreateDirectory(Path.Combine(inDir, "flac"));
        AudioTools.Run("flac", "-s", "-f", "-o", Path.Combine(inDir, "flac", "b.FLAC"), wav);
        AudioTools.Run("lame", "--quiet", "-b", "64", wav, Path.Combine(inDir, "c.mp3"));
        AudioTools.Run("oggenc", "-Q", "-o", Path.Combine(inDir, "d.oga"), wav);
        AudioTools.Run("ffmpeg", "-v", "error", "-y", "-i", wav, "-c:a", "aac", Path.Combine(inDir, "e.m4a"));
        AudioTools.Run("ffmpeg", "-v", "error", "-y", "-i", wav, "-c:a", "libopus", Path.Combine(inDir, "f.opus"));
        var flacBytes = File.ReadAllBytes(Path.Combine(inDir, "flac", "b.FLAC"));
        File.WriteAllBytes(Path.Combine(inDir, "cut.flac"), flacBytes[..(flacBytes.Length / 2)]);
        File.WriteAllText(Path.Combine(inDir, "readme.txt"), "not audio: not picked up");

        var r = ConsoleRunner.Run("extract", "--checkpoint", Checkpoint, "--input", inDir, "--output", outDir);
        output.WriteLine(r.ToString());
        r.ExitCode.Should().Be(1, "one file is broken");
        r.StdErr.Should().Contain("cut.flac").And.Contain("truncated");
        r.StdOut.Should().Contain("6 written, 1 failed");
        Directory.GetFiles(outDir, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(outDir, f).Replace('\\', '/'))
            .Order(StringComparer.Ordinal).Should().Equal("a.npy", "c.npy", "d.npy", "e.npy", "f.npy", "flac/b.npy");

        var a = DpHubert.IO.Npy.Read(Path.Combine(outDir, "a.npy"));
        DpHubert.IO.Npy.Read(Path.Combine(outDir, "flac", "b.npy")).Data.Should().Equal(a.Data, "a FLAC gives its WAV's features");
        foreach (var name in new[] { "c.npy", "d.npy" })
            DpHubert.IO.Npy.Read(Path.Combine(outDir, name)).Shape.Should().Equal(a.Shape, $"{name}: gapless, so the frames match");
    }
}
