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

namespace DpHubert.Tests.Extraction;

/// <summary>Features from each format: a FLAC gives exactly its WAV's features; an MP3 or Ogg Vorbis file gives the
/// features of the reference decoder's output (per-frame cosine at least 0.999, the same frame count).</summary>
public sealed class AudioFormatFeatureTests(ITestOutputHelper output)
{
    private static string Checkpoint => TestFiles.DpHubertCase("hubert_post_ln", "checkpoint.pth");
    private const string RealSpeech = "/usr/share/sounds/alsa/Front_Center.wav";

    [AudioToolsFact("flac", "lame", "oggenc", "oggdec")]
    public void Flac_equals_its_wav_and_mp3_and_ogg_agree_with_their_reference_decodes()
    {
        string dir = TestFiles.TempDir();
        string wav = Path.Combine(dir, "speech.wav");
        // Real 48 kHz speech where alsa-utils is installed (tools/setup.sh), else the fixture's 16 kHz audio.
        if (File.Exists(RealSpeech)) File.Copy(RealSpeech, wav);
        else File.Copy(TestFiles.DpHubertCase("hubert_post_ln", "input.wav"), wav);
        string flac = Path.Combine(dir, "speech.flac"), mp3 = Path.Combine(dir, "speech.mp3"), ogg = Path.Combine(dir, "speech.ogg");
        string mp3Ref = Path.Combine(dir, "mp3-ref.wav"), oggRef = Path.Combine(dir, "ogg-ref.wav");
        AudioTools.Run("flac", "-s", "-f", "-8", "-o", flac, wav);
        AudioTools.Run("lame", "--quiet", "-b", "96", wav, mp3);
        AudioTools.Run("lame", "--quiet", "--decode", mp3, mp3Ref);
        AudioTools.Run("oggenc", "-Q", "-q", "3", "-o", ogg, wav);
        AudioTools.Run("oggdec", "-Q", "-o", oggRef, ogg);

        using var encoder = SpeechEncoder.Load(Checkpoint);
        var fromWav = encoder.ExtractFile(wav);
        encoder.ExtractFile(flac).Data.Should().Equal(fromWav.Data, "FLAC decodes to the WAV's samples exactly");
        using (var s = File.OpenRead(flac)) encoder.ExtractStream(s).Data.Should().Equal(fromWav.Data);

        foreach (var (file, reference) in new[] { (mp3, mp3Ref), (ogg, oggRef) })
        {
            var ours = encoder.ExtractFile(file);
            var expected = encoder.ExtractFile(reference);
            ours.Shape.Should().Equal(expected.Shape, $"{Path.GetExtension(file)}: the same frame count as the reference decode");
            ours.Frames.Should().Be(fromWav.Frames, "delay and padding are removed");
            var cos = FeatureSimilarity.FrameCosines(ours.Data, expected.Data, (int)ours.Dim);
            output.WriteLine($"{Path.GetExtension(file)}: {ours.Frames} frames, cosine mean {cos.Average():F6} min {cos.Min():F6}");
            cos.Min().Should().BeGreaterThanOrEqualTo(0.999);
        }
    }
}
