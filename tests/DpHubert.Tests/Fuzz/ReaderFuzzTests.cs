using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using DpHubert.Audio;
using DpHubert.Checkpoints;
using DpHubert.PyTorch;
using DpHubert.Tests.Audio;
using DpHubert.Tests.Support;
using FluentAssertions;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DpHubert.Tests.Fuzz;

/// <summary>Seeded mutation fuzzing of the audio readers (WAV, FLAC, MP3, Ogg Vorbis and the dispatch between them) and the
/// checkpoint readers (.pth zip + pickle, legacy .pt, safetensors): every input either reads or throws the reader's typed exception, within a time bound. CI runs a few
/// thousand inputs (under a minute); tools/fuzz/run.sh --iterations N runs as many as asked.</summary>
public sealed class ReaderFuzzTests(ITestOutputHelper output)
{
    /// <summary>No single input may take longer than this (a hang or a quadratic blow-up). The slowest input takes about
    /// 0.1 s on an idle 2-core machine; the bound is 600 times that because a loaded CI machine once took 21 s.</summary>
    private static readonly TimeSpan PerInput = TimeSpan.FromSeconds(60);

    private void Fuzz(string name, byte[][] seeds, int iterations, Type allowed, Action<byte[]> read)
    {
        // string.GetHashCode differs from process to process: a stable hash keeps a reported seed reproducible.
        int stable = name.Aggregate(17, (h, c) => unchecked(h * 31 + c));
        var rng = new Random(Mutator.Seed ^ stable & 0x7FFFFFFF);
        int ok = 0, refused = 0;
        var slowest = TimeSpan.Zero;
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < iterations; i++)
        {
            byte[] input = Mutator.Mutate(seeds[i % seeds.Length], rng);
            var one = Stopwatch.StartNew();
            try
            {
                read(input);
                ok++;
            }
            catch (Exception e) when (allowed.IsInstanceOfType(e))
            {
                refused++;
                e.Message.Should().NotBeNullOrWhiteSpace();
            }
            catch (Exception e)
            {
                string path = Path.Combine(TestFiles.TempDir(), $"{name}-{i}.bin");
                File.WriteAllBytes(path, input);
                throw new Xunit.Sdk.XunitException($"{name} input {i} (seed {Mutator.Seed}, saved to {path}) threw {e.GetType().FullName}: {e.Message}\n{e.StackTrace}");
            }
            one.Stop();
            if (one.Elapsed > slowest) slowest = one.Elapsed;
            one.Elapsed.Should().BeLessThan(PerInput, $"{name} input {i} must not hang");
        }
        output.WriteLine($"{name}: {iterations} inputs in {clock.Elapsed.TotalSeconds:F1} s: {ok} read, {refused} refused with {allowed.Name}; slowest {slowest.TotalMilliseconds:F0} ms");
        (ok + refused).Should().Be(iterations);
    }

    private static byte[] Wav(Action<Stream> write)
    {
        var ms = new MemoryStream();
        write(ms);
        return ms.ToArray();
    }

    [Fact]
    public void The_wav_reader_only_reads_or_throws_AudioFormatException()
    {
        var rng = new Random(5);
        var samples = Enumerable.Range(0, 300).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        byte[][] seeds =
        {
            Wav(s => WavWriter.WritePcm16(s, samples, 16000)),
            Wav(s => WavWriter.WriteFloat32(s, samples, 44100, 2)),
            WavBytes.Riff(WavBytes.Chunk("fmt ", WavBytes.Fmt(WavBytes.Extensible, 2, 48000, 24, subFormat: WavBytes.Pcm, validBits: 24)),
                WavBytes.Chunk("LIST", new byte[7]), WavBytes.Chunk("data", WavBytes.Ints(Enumerable.Range(0, 200).Select(i => i * 1000 - 100000).ToArray(), 3))),
            WavBytes.Wav(WavBytes.Fmt(WavBytes.Float, 1, 8000, 64), WavBytes.Doubles(samples.Select(x => (double)x).ToArray())),
        };
        Fuzz("wav", seeds, Mutator.Iterations(2000), typeof(AudioFormatException), bytes =>
        {
            var clip = WavReader.Read(new MemoryStream(bytes), "fuzz.wav");
            // What the reader returns must be usable: finite samples, consistent counts, preprocessing that works or refuses.
            clip.Samples.Length.Should().Be(clip.Frames * clip.Channels);
            Array.TrueForAll(clip.Samples, float.IsFinite).Should().BeTrue();
            if (clip.Frames > 0 && clip.SampleRate is >= AudioPreprocessor.MinSampleRate and <= AudioPreprocessor.MaxSampleRate && clip.Frames < 200_000)
                Array.TrueForAll(AudioPreprocessor.ToMono16k(clip), float.IsFinite).Should().BeTrue();
        });
    }

    /// <summary>What a decoded clip must be: consistent counts, finite samples, and preprocessing that works or refuses.</summary>
    private static void CheckClip(AudioClip clip)
    {
        clip.Samples.Length.Should().Be(clip.Frames * clip.Channels);
        Array.TrueForAll(clip.Samples, float.IsFinite).Should().BeTrue();
        if (clip.Frames > 0 && clip.SampleRate is >= AudioPreprocessor.MinSampleRate and <= AudioPreprocessor.MaxSampleRate && clip.Frames < 200_000)
            Array.TrueForAll(AudioPreprocessor.ToMono16k(clip), float.IsFinite).Should().BeTrue();
    }

    private static byte[] AudioSeed(string name) => File.ReadAllBytes(TestFiles.Fixture("audio", name));

    [Fact]
    public void The_flac_reader_only_reads_or_throws_AudioFormatException()
    {
        // A flac-encoded file (fixed and LPC subframes, stereo decorrelation) and one of the test encoder's (escaped
        // partitions, Rice2, variable block sizes).
        var pcm = DpHubert.Tests.Audio.AudioTools.Pcm(1200, 2, 24, seed: 1);
        var writer = new DpHubert.Tests.Audio.TestFlacWriter(2, 24, 16000);
        writer.Frame(0, Enumerable.Range(0, 600).Select(i => (long)pcm[2 * i]).ToArray(), Enumerable.Range(0, 600).Select(i => (long)pcm[2 * i + 1]).ToArray(),
            DpHubert.Tests.Audio.TestFlacWriter.Coding.EscapedFixed2);
        writer.Frame(600, Enumerable.Range(600, 600).Select(i => (long)pcm[2 * i]).ToArray(), Enumerable.Range(600, 600).Select(i => (long)pcm[2 * i + 1]).ToArray(),
            DpHubert.Tests.Audio.TestFlacWriter.Coding.Rice2Lpc);
        byte[][] seeds = { AudioSeed("fuzz-seed.flac"), writer.Finish() };
        Fuzz("flac", seeds, Mutator.Iterations(2000), typeof(AudioFormatException),
            bytes => CheckClip(AudioReader.Read(new MemoryStream(bytes), "fuzz.flac")));
    }

    [Fact]
    public void The_flac_decoder_behind_its_checksums_only_reads_or_throws_AudioFormatException()
    {
        // With CRC and MD5 checks off, mutations reach the subframe and residual decoding instead of failing a CRC.
        Fuzz("flac-nocrc", new[] { AudioSeed("fuzz-seed.flac") }, Mutator.Iterations(2000), typeof(AudioFormatException), bytes =>
        {
            var padded = new byte[bytes.Length + AudioBytes.Padding];
            bytes.CopyTo(padded, 0);
            CheckClip(FlacReader.Decode(new AudioBytes(padded, bytes.Length), "fuzz.flac", checksums: false));
        });
    }

    [Fact]
    public void The_vorbis_decoder_behind_the_page_crcs_only_reads_or_throws_AudioFormatException()
    {
        // Page CRCs recomputed after the mutation, so NVorbis itself sees damaged packets.
        Fuzz("ogg-crc-fixed", new[] { AudioSeed("fuzz-seed.ogg") }, Mutator.Iterations(1000), typeof(AudioFormatException),
            bytes => CheckClip(AudioReader.Read(new MemoryStream(FixOggCrcs(bytes)), "fuzz.ogg", NoFfmpeg)));
    }

    /// <summary>Rewrites the CRC of every whole page found by walking the page headers.</summary>
    private static byte[] FixOggCrcs(byte[] data)
    {
        int pos = 0;
        while (pos + 27 <= data.Length && data.AsSpan(pos).StartsWith("OggS"u8))
        {
            int segments = data[pos + 26];
            if (pos + 27 + segments > data.Length) break;
            int size = 27 + segments;
            for (int i = 0; i < segments; i++) size += data[pos + 27 + i];
            if (pos + size > data.Length) break;
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(pos + 22), OggPages.Crc(data.AsSpan(pos, size)));
            pos += size;
        }
        return data;
    }

    [Fact]
    public void The_mp3_reader_only_reads_or_throws_AudioFormatException()
    {
        Fuzz("mp3", new[] { AudioSeed("fuzz-seed.mp3") }, Mutator.Iterations(1000), typeof(AudioFormatException),
            bytes => CheckClip(AudioReader.Read(new MemoryStream(bytes), "fuzz.mp3", NoFfmpeg)));
    }

    [Fact]
    public void The_ogg_vorbis_reader_only_reads_or_throws_AudioFormatException()
    {
        Fuzz("ogg", new[] { AudioSeed("fuzz-seed.ogg") }, Mutator.Iterations(1000), typeof(AudioFormatException),
            bytes => CheckClip(AudioReader.Read(new MemoryStream(bytes), "fuzz.ogg", NoFfmpeg)));
    }

    [Fact]
    public void The_format_dispatch_only_reads_or_throws_AudioFormatException()
    {
        // Each format's seed mutated and read with no name: a mutation that changes the magic bytes moves the input to
        // another reader (or to the ffmpeg formats, refused here because no ffmpeg is configured).
        var samples = Enumerable.Range(0, 300).Select(i => (float)Math.Sin(i * 0.1)).ToArray();
        byte[][] seeds = { AudioSeed("fuzz-seed.flac"), AudioSeed("fuzz-seed.mp3"), AudioSeed("fuzz-seed.ogg"), Wav(s => WavWriter.WritePcm16(s, samples, 16000)) };
        Fuzz("audio", seeds, Mutator.Iterations(1000), typeof(AudioFormatException),
            bytes => CheckClip(AudioReader.Read(new MemoryStream(bytes), null, NoFfmpeg)));
    }

    [DpHubert.Tests.Audio.AudioToolsFact("ffmpeg")]
    public void The_ffmpeg_path_only_reads_or_throws_AudioFormatException()
    {
        // Few inputs (each is a process): damaged M4A and WebM files must decode or fail by name, never hang.
        string dir = TestFiles.TempDir();
        string wav = Path.Combine(dir, "in.wav");
        WavWriter.WritePcm16(wav, Enumerable.Range(0, 8000).Select(i => (float)(0.3 * Math.Sin(i * 0.05))).ToArray(), 16000);
        var seeds = new[] { ("m4a", "aac"), ("webm", "libopus") }.Select(f =>
        {
            string path = Path.Combine(dir, "seed." + f.Item1);
            DpHubert.Tests.Audio.AudioTools.Run("ffmpeg", "-v", "error", "-y", "-i", wav, "-c:a", f.Item2, path);
            return File.ReadAllBytes(path);
        }).ToArray();
        var options = new AudioReadOptions { DecoderTimeout = TimeSpan.FromSeconds(30) };
        Fuzz("ffmpeg", seeds, Mutator.Iterations(24), typeof(AudioFormatException),
            bytes => CheckClip(AudioReader.Read(new MemoryStream(bytes), "fuzz.m4a", options)));
    }

    /// <summary>Fuzzing stays in-process: formats that need ffmpeg fail as if it were not installed.</summary>
    private static readonly AudioReadOptions NoFfmpeg = new() { FfmpegPath = "/nonexistent/ffmpeg" };

    private static byte[][] CheckpointSeeds(params string[] names) =>
        names.Select(n => File.ReadAllBytes(TestFiles.Fixture("checkpoints", n))).ToArray();

    [Fact]
    public void The_torch_checkpoint_reader_only_reads_or_throws_CheckpointFormatException()
    {
        var seeds = CheckpointSeeds("dtypes.pt", "dtypes_legacy.pt", "views.pt", "views_legacy.pt", "misc.pt", "fairseq_namespace.pt", "inert_records.pt");
        Fuzz("pth", seeds, Mutator.Iterations(1500), typeof(CheckpointFormatException), bytes =>
        {
            using var scope = NewDisposeScope();
            TorchCheckpointReader.Load(new MemoryStream(bytes), "fuzz.pth").Dispose();
        });
    }

    [Fact]
    public void The_safetensors_reader_only_reads_or_throws_CheckpointFormatException()
    {
        var seeds = new[] { File.ReadAllBytes(TestFiles.DpHubertCase("wavlm_pre_ln", "hf", "model.safetensors")) };
        Fuzz("safetensors", seeds, Mutator.Iterations(1500), typeof(CheckpointFormatException), bytes =>
        {
            using var scope = NewDisposeScope();
            using var file = SafeTensors.Load(new MemoryStream(bytes), "fuzz.safetensors");
        });
    }
}
