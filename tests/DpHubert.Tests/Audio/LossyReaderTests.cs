using System;
using System.IO;
using System.Linq;
using DpHubert.Audio;
using FluentAssertions;
using Xunit;
using Xunit.Abstractions;

namespace DpHubert.Tests.Audio;

/// <summary>MP3 (NLayer) and Ogg Vorbis (NVorbis) against Debian's reference decoders on files encoded here: the same
/// sample count (encoder delay and padding removed as the reference decoders remove them) and at least
/// <see cref="MinSnrDb"/> of signal to difference, the floor the documentation states.</summary>
public sealed class LossyReaderTests(ITestOutputHelper output)
{
    /// <summary>The stated agreement with the reference decoders' output. Measured on AMD EPYC (Zen 4): MP3 59-85 dB
    /// (NLayer's float synthesis differs most at 48 kHz VBR), Vorbis 80-95 dB against oggdec's 16-bit output.</summary>
    public const double MinSnrDb = 50;

    [AudioToolsTheory("lame", "ffmpeg")]
    [InlineData(16000, 1, "-b 64")]   // MPEG-2 layer III, LibriSpeech-like
    [InlineData(48000, 1, "-V 4")]    // MPEG-1 VBR, Common Voice-like
    [InlineData(44100, 2, "-b 128")]  // MPEG-1 joint stereo
    [InlineData(22050, 2, "-V 6")]    // MPEG-2 VBR
    public void Mp3_matches_lame_and_ffmpeg(int rate, int channels, string lameOptions)
    {
        var pcm = AudioTools.Voice(rate * 2 + 123, channels, rate, seed: rate);
        string wav = AudioTools.Temp("in.wav"), mp3 = Path.ChangeExtension(wav, ".mp3"), lameOut = Path.ChangeExtension(wav, ".lame.wav"),
            ffOut = Path.ChangeExtension(wav, ".ff.wav");
        WavWriter.WritePcm16(wav, pcm, rate, channels);
        AudioTools.Run("lame", new[] { "--quiet" }.Concat(lameOptions.Split(' ')).Append(wav).Append(mp3).ToArray());
        AudioTools.Run("lame", "--quiet", "--decode", mp3, lameOut);
        AudioTools.Run("ffmpeg", "-v", "error", "-y", "-i", mp3, "-c:a", "pcm_f32le", ffOut);

        var ours = AudioReader.Read(mp3);
        var lame = WavReader.Read(lameOut);
        var ff = WavReader.Read(ffOut);
        ours.SampleRate.Should().Be(rate);
        ours.Channels.Should().Be(channels);
        ours.Frames.Should().Be(pcm.Length / channels, "the gapless header's delay and padding are removed");
        lame.Frames.Should().Be(ours.Frames);
        ff.Frames.Should().Be(ours.Frames);
        double snrLame = AudioTools.Snr(ours.Samples, lame.Samples), snrFf = AudioTools.Snr(ours.Samples, ff.Samples);
        output.WriteLine($"{rate} Hz x{channels} {lameOptions}: SNR vs lame --decode {snrLame:F1} dB, vs ffmpeg {snrFf:F1} dB");
        snrLame.Should().BeGreaterThan(MinSnrDb);
        snrFf.Should().BeGreaterThan(MinSnrDb);
    }

    [AudioToolsFact("lame", "ffmpeg")]
    public void Mpeg_2_5_goes_to_ffmpeg_and_equals_its_decode()
    {
        var pcm = AudioTools.Voice(16000, 1, 8000, seed: 8);
        string wav = AudioTools.Temp("in.wav"), mp3 = Path.ChangeExtension(wav, ".mp3"), ffOut = Path.ChangeExtension(wav, ".ff.wav");
        WavWriter.WritePcm16(wav, pcm, 8000);
        AudioTools.Run("lame", "--quiet", "-b", "32", wav, mp3);
        AudioTools.Run("ffmpeg", "-v", "error", "-y", "-i", mp3, "-c:a", "pcm_f32le", ffOut);
        var ours = AudioReader.Read(mp3);
        ours.SampleRate.Should().Be(8000);
        ours.Samples.Should().Equal(WavReader.Read(ffOut).Samples);
    }

    [AudioToolsFact("lame", "ffmpeg")]
    public void Mp3_without_a_gapless_header_keeps_every_decoded_sample_as_ffmpeg_does()
    {
        var pcm = AudioTools.Voice(16000, 1, 16000, seed: 5);
        string wav = AudioTools.Temp("in.wav"), mp3 = Path.ChangeExtension(wav, ".mp3"), ffOut = Path.ChangeExtension(wav, ".ff.wav");
        WavWriter.WritePcm16(wav, pcm, 16000);
        AudioTools.Run("lame", "--quiet", "-t", "-b", "64", wav, mp3); // -t: no Xing/LAME frame
        AudioTools.Run("ffmpeg", "-v", "error", "-y", "-i", mp3, "-c:a", "pcm_f32le", ffOut);
        var ours = AudioReader.Read(mp3);
        var ff = WavReader.Read(ffOut);
        ours.Frames.Should().Be(ff.Frames);
        AudioTools.Snr(ours.Samples, ff.Samples).Should().BeGreaterThan(MinSnrDb);
    }

    [AudioToolsTheory("oggenc", "oggdec")]
    [InlineData(16000, 1, 3)]
    [InlineData(48000, 1, 5)]
    [InlineData(44100, 2, 2)]
    [InlineData(22050, 2, 0)]
    public void Vorbis_matches_oggdec(int rate, int channels, int quality)
    {
        var pcm = AudioTools.Voice(rate * 2 + 77, channels, rate, seed: rate + 1);
        string wav = AudioTools.Temp("in.wav"), ogg = Path.ChangeExtension(wav, ".ogg"), decoded = Path.ChangeExtension(wav, ".dec.wav");
        WavWriter.WritePcm16(wav, pcm, rate, channels);
        AudioTools.Run("oggenc", "-Q", "-q", quality.ToString(System.Globalization.CultureInfo.InvariantCulture), "-o", ogg, wav);
        AudioTools.Run("oggdec", "-Q", "-o", decoded, ogg);

        var ours = AudioReader.Read(ogg);
        var reference = WavReader.Read(decoded);
        ours.SampleRate.Should().Be(rate);
        ours.Channels.Should().Be(channels);
        ours.Frames.Should().Be(pcm.Length / channels, "the granule positions trim the first and last packets");
        reference.Frames.Should().Be(ours.Frames);
        double snr = AudioTools.Snr(ours.Samples, reference.Samples);
        output.WriteLine($"{rate} Hz x{channels} q{quality}: SNR vs oggdec {snr:F1} dB");
        snr.Should().BeGreaterThan(MinSnrDb);
    }

    [AudioToolsFact("lame", "oggenc")]
    public void Truncated_and_corrupt_mp3_and_ogg_files_are_refused_by_name()
    {
        var pcm = AudioTools.Voice(32000, 1, 16000, seed: 9);
        string wav = AudioTools.Temp("in.wav"), mp3 = Path.ChangeExtension(wav, ".mp3"), ogg = Path.ChangeExtension(wav, ".ogg");
        WavWriter.WritePcm16(wav, pcm, 16000);
        AudioTools.Run("lame", "--quiet", "-b", "64", wav, mp3);
        AudioTools.Run("oggenc", "-Q", "-o", ogg, wav);
        foreach (var path in new[] { mp3, ogg })
        {
            var bytes = File.ReadAllBytes(path);
            AudioReader.Read(new MemoryStream(bytes), Path.GetFileName(path)).Frames.Should().Be(32000);
            foreach (int keep in new[] { 0, 10, 200, bytes.Length / 3, bytes.Length - 7 })
            {
                string cut = Path.Combine(Path.GetDirectoryName(path)!, $"cut-{keep}{Path.GetExtension(path)}");
                File.WriteAllBytes(cut, bytes[..keep]);
                FluentActions.Invoking(() => AudioReader.Read(cut)).Should().Throw<AudioFormatException>()
                    .Which.Message.Should().Contain(cut);
            }
        }
        // A flipped byte in an Ogg page fails its CRC.
        var damaged = File.ReadAllBytes(ogg);
        damaged[damaged.Length / 2] ^= 0x10;
        FluentActions.Invoking(() => AudioReader.Read(new MemoryStream(damaged), "damaged.ogg")).Should().Throw<AudioFormatException>()
            .Which.Message.Should().Contain("damaged.ogg").And.Contain("CRC");
    }
}
