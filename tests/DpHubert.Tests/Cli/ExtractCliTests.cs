using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using DpHubert.Audio;
using DpHubert.Extraction;
using DpHubert.IO;
using Npy = DpHubert.IO.Npy;
using WavBytes = DpHubert.Tests.Audio.WavBytes;
using DpHubert.Tests.Support;
using FluentAssertions;
using Xunit;
using Xunit.Abstractions;

namespace DpHubert.Tests.Cli;

/// <summary>End-to-end: the built console run as a process on generated WAVs of every supported encoding, real
/// 48 kHz speech, folders with good and bad files, and every option of <c>dphubert extract</c>.</summary>
public class ExtractCliTests(ITestOutputHelper output)
{
    private const string Case = "hubert_post_ln";
    private static string Checkpoint => TestFiles.DpHubertCase(Case, "checkpoint.pth");
    private static string Input => TestFiles.DpHubertCase(Case, "input.wav");
    private const string RealSpeech = "/usr/share/sounds/alsa/Front_Center.wav";

    private ConsoleRunner.Result Run(params string[] args)
    {
        var r = ConsoleRunner.Run(args);
        output.WriteLine($"dphubert {string.Join(' ', args)}\n{r}");
        return r;
    }

    private static NpyArray ReadNpy(string path)
    {
        var a = Npy.Read(path);
        a.Data.Should().NotBeNull("the console writes float32");
        return a;
    }

    private static double MaxAbsDiff(float[] a, float[] b)
    {
        a.Length.Should().Be(b.Length);
        return a.Zip(b, (x, y) => (double)Math.Abs(x - y)).DefaultIfEmpty(0).Max();
    }

    /// <summary>The fixture speech quantized to 8 bits (k in -128..127), so every encoding below holds it exactly.</summary>
    private static int[] Speech8Bit() =>
        WavReader.Read(Input).Samples.Select(v => Math.Clamp((int)Math.Round(v * 128), -128, 127)).ToArray();

    private static byte[] Interleave(int[] k, int channels, Func<int, byte[]> one)
    {
        var frames = k.Select(one).ToArray();
        return frames.SelectMany(f => Enumerable.Repeat(f, channels).SelectMany(b => b)).ToArray();
    }

    /// <summary>The same audio in every supported encoding (and channel counts whose mean is exact).</summary>
    private static Dictionary<string, byte[]> AllEncodings()
    {
        var k = Speech8Bit();
        byte[] Pcm(int bits, int v) => WavBytes.Ints(new[] { v << (bits - 8) }, bits / 8);
        byte[] F32(int v) => WavBytes.Floats(new[] { v / 128f });
        byte[] F64(int v) => WavBytes.Doubles(new[] { v / 128.0 });
        var files = new Dictionary<string, byte[]>();
        foreach (int bits in new[] { 8, 16, 24, 32 })
            files[$"pcm{bits}.wav"] = WavBytes.Wav(WavBytes.Fmt(WavBytes.Pcm, 1, 16000, bits), Interleave(k, 1, v => Pcm(bits, v)));
        files["float32.wav"] = WavBytes.Wav(WavBytes.Fmt(WavBytes.Float, 1, 16000, 32), Interleave(k, 1, F32));
        files["float64.wav"] = WavBytes.Wav(WavBytes.Fmt(WavBytes.Float, 1, 16000, 64), Interleave(k, 1, F64));
        files["ext_pcm24.wav"] = WavBytes.Wav(WavBytes.Fmt(WavBytes.Extensible, 1, 16000, 24, subFormat: WavBytes.Pcm), Interleave(k, 1, v => Pcm(24, v)));
        files["ext_float32.wav"] = WavBytes.Wav(WavBytes.Fmt(WavBytes.Extensible, 1, 16000, 32, subFormat: WavBytes.Float), Interleave(k, 1, F32));
        files["stereo_pcm16.wav"] = WavBytes.Wav(WavBytes.Fmt(WavBytes.Pcm, 2, 16000, 16), Interleave(k, 2, v => Pcm(16, v)));
        files["quad_ext_float64.wav"] = WavBytes.Wav(WavBytes.Fmt(WavBytes.Extensible, 4, 16000, 64, subFormat: WavBytes.Float), Interleave(k, 4, F64));
        return files;
    }

    [Fact]
    public void Every_encoding_of_the_same_audio_gives_the_same_features()
    {
        var dir = TestFiles.TempDir();
        string inDir = Path.Combine(dir, "in"), outDir = Path.Combine(dir, "out");
        Directory.CreateDirectory(inDir);
        foreach (var (name, bytes) in AllEncodings()) File.WriteAllBytes(Path.Combine(inDir, name), bytes);

        var r = Run("extract", "--checkpoint", Checkpoint, "--input", inDir, "--output", outDir);
        r.ExitCode.Should().Be(0, r.ToString());
        r.StdOut.Should().Contain("10 written, 0 failed");
        var reference = ReadNpy(Path.Combine(outDir, "pcm16.npy"));
        reference.Shape.Should().Equal(49, 48);
        foreach (var name in AllEncodings().Keys)
        {
            var a = ReadNpy(Path.Combine(outDir, Path.ChangeExtension(name, ".npy")));
            a.Shape.Should().Equal(reference.Shape, name);
            a.Data.Should().Equal(reference.Data, $"{name} holds exactly the same samples");
        }

        // The library on the same file agrees with the console.
        using var encoder = SpeechEncoder.Load(Checkpoint);
        MaxAbsDiff(encoder.ExtractFile(Path.Combine(inDir, "pcm24.wav")).Data, reference.Data!).Should().Be(0);
        using var stream = File.OpenRead(Path.Combine(inDir, "float64.wav"));
        MaxAbsDiff(encoder.ExtractStream(stream).Data, reference.Data!).Should().Be(0);
    }

    [Fact]
    public void Single_file_matches_the_original_model_output()
    {
        var dir = TestFiles.TempDir();
        string npy = Path.Combine(dir, "nested", "features.npy");
        var r = Run("extract", "--checkpoint", Checkpoint, "--input", Input, "--output", npy);
        r.ExitCode.Should().Be(0, r.ToString());
        var expected = ReadNpy(TestFiles.DpHubertCase(Case, "single_output.npy"));
        var a = ReadNpy(npy);
        a.Shape.Should().Equal(expected.Shape.Length == 3 ? expected.Shape[1..] : expected.Shape);
        MaxAbsDiff(a.Data!, expected.Data!).Should().BeLessThan(1e-4);
        Directory.GetFiles(Path.GetDirectoryName(npy)!).Should().Equal(new[] { npy }, "only the output, no temporary file");
    }

    [Fact]
    public void Real_48k_speech_from_alsa_utils()
    {
        File.Exists(RealSpeech).Should().BeTrue($"{RealSpeech} comes with Debian's alsa-utils; install it (apt-get install alsa-utils) to run this test");
        var dir = TestFiles.TempDir();
        string npy = Path.Combine(dir, "front_center.npy");
        var r = Run("extract", "--checkpoint", Checkpoint, "--input", RealSpeech, "--output", npy, "--layer", "all");
        r.ExitCode.Should().Be(0, r.ToString());
        var a = ReadNpy(npy);
        var clip = WavReader.Read(RealSpeech);
        clip.SampleRate.Should().Be(48000);
        using var encoder = SpeechEncoder.Load(Checkpoint);
        var samples16k = AudioPreprocessor.LoadMono16k(RealSpeech);
        long frames = encoder.Model.Config.FramesForSamples(samples16k.Length);
        a.Shape.Should().Equal(encoder.Model.NumLayers + 1, frames, 48);
        MaxAbsDiff(a.Data!, encoder.ExtractFile(RealSpeech, LayerSelection.AllLayers).Data).Should().BeLessThan(1e-5);
    }

    [Fact]
    public void Folder_with_good_and_bad_files_writes_the_good_ones_and_names_the_bad_ones()
    {
        var dir = TestFiles.TempDir();
        string inDir = Path.Combine(dir, "in"), outDir = Path.Combine(dir, "out");
        Directory.CreateDirectory(Path.Combine(inDir, "speaker1", "deep"));
        Directory.CreateDirectory(Path.Combine(inDir, "speaker2"));
        var speech = WavReader.Read(Input).Samples;
        WavWriter.WritePcm16(Path.Combine(inDir, "speaker1", "a.wav"), speech, 16000);
        WavWriter.WriteFloat32(Path.Combine(inDir, "speaker1", "deep", "b.WAV"), speech[..12000], 16000);
        WavWriter.WritePcm16(Path.Combine(inDir, "speaker2", "c.wav"), speech, 22050, 2);
        File.WriteAllText(Path.Combine(inDir, "speaker2", "notes.txt"), "ignored: not a .wav");
        File.WriteAllText(Path.Combine(inDir, "speaker2", "song.flac"), "read as FLAC by its extension, and refused");
        File.WriteAllText(Path.Combine(inDir, "speaker2", "garbage.wav"), "this is not a wav file at all");
        var full = File.ReadAllBytes(Path.Combine(inDir, "speaker1", "a.wav"));
        File.WriteAllBytes(Path.Combine(inDir, "truncated.wav"), full[..(full.Length / 2)]);
        WavWriter.WritePcm16(Path.Combine(inDir, "tiny.wav"), new float[100], 16000);
        File.WriteAllBytes(Path.Combine(inDir, "adpcm.wav"),
            WavBytes.Wav(WavBytes.Fmt(0x0002, 1, 16000, 4, blockAlign: 1), new byte[800]));

        var r = Run("extract", "--checkpoint", Checkpoint, "--input", inDir, "--output", outDir, "--batch-size", "2");
        r.ExitCode.Should().Be(1, r.ToString());
        foreach (var bad in new[] { "garbage.wav", "truncated.wav", "tiny.wav", "adpcm.wav", "song.flac" }) r.StdErr.Should().Contain(bad);
        r.StdErr.Should().Contain("0x0002", "an unsupported encoding names its format tag");
        r.StdErr.Should().MatchRegex(@"declares \d+ bytes but only \d+ bytes", "a truncated file says expected vs found bytes");
        r.StdErr.Should().Contain("100 samples").And.Contain("receptive field is 400 samples");
        r.StdOut.Should().Contain("3 written, 5 failed");
        r.StdErr.Should().Contain("not a FLAC stream");
        Directory.GetFiles(outDir, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(outDir, f).Replace('\\', '/'))
            .Order().Should().Equal("speaker1/a.npy", "speaker1/deep/b.npy", "speaker2/c.npy");
        ReadNpy(Path.Combine(outDir, "speaker1", "deep", "b.npy")).Shape.Should().Equal(37, 48);
    }

    [LinuxFact]
    public void A_fifo_or_device_named_wav_in_a_folder_fails_alone_without_being_opened()
    {
        var dir = TestFiles.TempDir();
        string inDir = Path.Combine(dir, "in"), outDir = Path.Combine(dir, "out");
        Directory.CreateDirectory(inDir);
        WavWriter.WritePcm16(Path.Combine(inDir, "a.wav"), WavReader.Read(Input).Samples, 16000);
        // Opening a FIFO that nothing writes blocks forever: the run would hang (and ignore a single SIGTERM).
        mkfifo(Path.Combine(inDir, "pipe.wav"), 0b110_100_100).Should().Be(0, "mkfifo must succeed to set up the test");
        File.CreateSymbolicLink(Path.Combine(inDir, "zero.wav"), "/dev/zero");

        var r = ConsoleRunner.RunWithTimeout(TimeSpan.FromSeconds(90),
            "extract", "--checkpoint", Checkpoint, "--input", inDir, "--output", outDir);
        r.ExitCode.Should().Be(1, r.ToString());
        r.StdErr.Should().Contain("pipe.wav: not a regular file").And.Contain("zero.wav: not a regular file");
        r.StdOut.Should().Contain("1 written, 2 failed");
        r.StdErr.Should().Contain("2 of 3 input(s) failed");
        Directory.GetFiles(outDir, "*", SearchOption.AllDirectories).Select(Path.GetFileName).Should().Equal("a.npy");
    }

    [LinuxFact]
    public void A_link_back_to_an_ancestor_folder_is_not_followed_but_a_link_elsewhere_is()
    {
        var dir = TestFiles.TempDir();
        string inDir = Path.Combine(dir, "in"), outDir = Path.Combine(dir, "out"), elsewhere = Path.Combine(dir, "elsewhere");
        Directory.CreateDirectory(Path.Combine(inDir, "spk"));
        Directory.CreateDirectory(elsewhere);
        var speech = WavReader.Read(Input).Samples;
        WavWriter.WritePcm16(Path.Combine(inDir, "spk", "a.wav"), speech, 16000);
        WavWriter.WritePcm16(Path.Combine(elsewhere, "b.wav"), speech, 16000);
        Directory.CreateSymbolicLink(Path.Combine(inDir, "spk", "loop"), inDir); // a cycle: followed, every file ~40 times
        Directory.CreateSymbolicLink(Path.Combine(inDir, "more"), elsewhere);     // a linked-in folder: read

        var r = ConsoleRunner.RunWithTimeout(TimeSpan.FromSeconds(90),
            "extract", "--checkpoint", Checkpoint, "--input", inDir, "--output", outDir);
        r.ExitCode.Should().Be(0, r.ToString());
        r.StdErr.Should().Contain("not following").And.Contain("loop");
        r.StdOut.Should().Contain("2 written, 0 failed");
        Directory.GetFiles(outDir, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(outDir, f).Replace('\\', '/'))
            .Order().Should().Equal("more/b.npy", "spk/a.npy");
    }

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int mkfifo([System.Runtime.InteropServices.MarshalAs(System.Runtime.InteropServices.UnmanagedType.LPUTF8Str)] string path, uint mode);

    [Fact]
    public void Two_inputs_that_would_write_the_same_output_are_refused_before_anything_is_written()
    {
        var dir = TestFiles.TempDir();
        string inDir = Path.Combine(dir, "in"), outDir = Path.Combine(dir, "out");
        Directory.CreateDirectory(inDir);
        var speech = WavReader.Read(Input).Samples;
        WavWriter.WritePcm16(Path.Combine(inDir, "a.wav"), speech, 16000);
        WavWriter.WritePcm16(Path.Combine(inDir, "a.WAVE"), speech, 16000);
        var r = Run("extract", "--checkpoint", Checkpoint, "--input", inDir, "--output", outDir);
        r.ExitCode.Should().Be(2, r.ToString());
        r.StdErr.Should().Contain("a.wav").And.Contain("a.WAVE").And.Contain("would both be written to");
        Directory.Exists(outDir).Should().BeFalse("nothing is written when the output names clash");
    }

    [Fact]
    public void Batching_gives_one_by_one_results_and_quiet_prints_nothing()
    {
        var dir = TestFiles.TempDir();
        string inDir = Path.Combine(dir, "in");
        Directory.CreateDirectory(inDir);
        var speech = WavReader.Read(Input).Samples;
        int[] lengths = { 16000, 16000, 9000, 12345, 400, 15000, 7000 };
        for (int i = 0; i < lengths.Length; i++)
            WavWriter.WriteFloat32(Path.Combine(inDir, $"u{i}.wav"), speech[(i * 100)..][..Math.Min(lengths[i], speech.Length - i * 100)], 16000);
        var one = Run("extract", "--checkpoint", Checkpoint, "--input", inDir, "--output", Path.Combine(dir, "one"), "--layer", "2");
        one.ExitCode.Should().Be(0, one.ToString());
        var batched = Run("extract", "--checkpoint", Checkpoint, "--input", inDir, "--output", Path.Combine(dir, "batched"), "--layer", "2",
            "--batch-size", "4", "--threads", "1", "--quiet");
        batched.ExitCode.Should().Be(0, batched.ToString());
        batched.StdOut.Should().BeEmpty();
        batched.StdErr.Should().BeEmpty();
        for (int i = 0; i < lengths.Length; i++)
        {
            var a = ReadNpy(Path.Combine(dir, "one", $"u{i}.npy"));
            var b = ReadNpy(Path.Combine(dir, "batched", $"u{i}.npy"));
            b.Shape.Should().Equal(a.Shape);
            MaxAbsDiff(a.Data!, b.Data!).Should().BeLessThan(1e-4);
        }
    }

    [Fact]
    public void Layer_dtype_and_chunk_options()
    {
        var dir = TestFiles.TempDir();
        string Out(string name) => Path.Combine(dir, name + ".npy");
        var speech = WavReader.Read(Input).Samples;
        string longWav = Path.Combine(dir, "long.wav");
        WavWriter.WritePcm16(longWav, speech.Concat(speech).Concat(speech).Concat(speech).ToArray(), 16000);

        Run("extract", "--checkpoint", Checkpoint, "--input", Input, "--output", Out("all"), "--layer", "all").ExitCode.Should().Be(0);
        var all = ReadNpy(Out("all"));
        all.Shape.Should().Equal(4, 49, 48); // 3 layers + the transformer input
        Run("extract", "--checkpoint", Checkpoint, "--input", Input, "--output", Out("l1"), "--layer", "1", "--device", "cpu").ExitCode.Should().Be(0);
        ReadNpy(Out("l1")).Data.Should().Equal(all.Data![(49 * 48)..(2 * 49 * 48)]);

        var f32 = Run("extract", "--checkpoint", Checkpoint, "--input", Input, "--output", Out("f32"), "--verbose");
        f32.ExitCode.Should().Be(0);
        f32.StdErr.Should().Contain("Loaded");
        // The last line says where the time went: before the load, the load with its kernel check, the extraction, CPU.
        f32.StdErr.Should().MatchRegex(@"time: [0-9.]+ s since the process started: runtime start and options [0-9.]+ s, model load [0-9.]+ s \(kernel check [0-9.]+ s\), extraction and writing [0-9.]+ s; CPU [0-9.]+ s \(user [0-9.]+ s, system [0-9.]+ s\)");
        Run("extract", "--checkpoint", Checkpoint, "--input", Input, "--output", Out("plain")).StdErr.Should().NotContain("time:");
        // auto: float32 on a CPU without bf16 units (this EPYC), bfloat16 with them; either way within the bf16 bounds.
        foreach (var dtype in new[] { "bfloat16", "auto" })
        {
            Run("extract", "--checkpoint", Checkpoint, "--input", Input, "--output", Out(dtype), "--dtype", dtype).ExitCode.Should().Be(0);
            var a = ReadNpy(Out(dtype));
            a.Shape.Should().Equal(49, 48);
            ReducedPrecisionBounds.Check("bfloat16", a.Data!, ReadNpy(Out("f32")).Data!, 48, output);
        }
        var half = Run("extract", "--checkpoint", Checkpoint, "--input", Input, "--output", Out("f16"), "--dtype", "float16");
        half.ExitCode.Should().Be(2, half.ToString());
        half.StdErr.Should().Contain("float16 is refused on the CPU").And.Contain("Use float32");
        System.IO.File.Exists(Out("f16")).Should().BeFalse();

        Run("extract", "--checkpoint", Checkpoint, "--input", longWav, "--output", Out("whole")).ExitCode.Should().Be(0);
        var chunk = Run("extract", "--checkpoint", Checkpoint, "--input", longWav, "--output", Out("chunked"), "--chunk-seconds", "1.5", "--chunk-overlap", "0.5", "--batch-size", "2");
        chunk.ExitCode.Should().Be(0, chunk.ToString());
        var whole = ReadNpy(Out("whole"));
        var chunked = ReadNpy(Out("chunked"));
        chunked.Shape.Should().Equal(whole.Shape);
        // Context-limited (docs/usage.md): the same bounds as BatchingTests.Chunked_extraction_keeps_the_frame_count_and_stays_close.
        FeatureSimilarity.MeanFrameCosine(chunked.Data!, whole.Data!, 48).Should().BeGreaterThanOrEqualTo(0.99);
        FeatureSimilarity.RelativeRmsError(chunked.Data!, whole.Data!).Should().BeLessThanOrEqualTo(0.15);
    }

    public static TheoryData<string[], string> UsageErrors => new()
    {
        { new[] { "--device", "tpu" }, "Invalid device 'tpu'" },
        { new[] { "--dtype", "int8" }, "Invalid dtype 'int8'" },
        { new[] { "--layer", "99" }, "past the last layer" },
        { new[] { "--layer", "x" }, "--layer" },
        { new[] { "--batch-size", "0" }, "--batch-size" },
        { new[] { "--chunk-seconds", "-1" }, "--chunk-seconds" },
        { new[] { "--threads", "0" }, "--threads" },
        { new[] { "--no-such-option" }, "no-such-option" },
    };

    [Theory]
    [MemberData(nameof(UsageErrors))]
    public void Usage_errors_exit_2_with_a_message(string[] extra, string message)
    {
        var dir = TestFiles.TempDir();
        var r = Run(new[] { "extract", "--checkpoint", Checkpoint, "--input", Input, "--output", Path.Combine(dir, "x.npy") }.Concat(extra).ToArray());
        r.ExitCode.Should().Be(2, r.ToString());
        r.StdErr.Should().Contain(message);
        r.StdErr.Should().NotContainAny(new[] { "ExtractionOptions.", "SpeechEncoderOptions.", "LayerSelection", "(Parameter" },
            "the console names options by their flags");
        File.Exists(Path.Combine(dir, "x.npy")).Should().BeFalse();
    }

    [NoCudaFact]
    public void Cuda_without_a_cuda_device_is_a_usage_error()
    {
        var dir = TestFiles.TempDir();
        var r = Run("extract", "--checkpoint", Checkpoint, "--input", Input, "--output", Path.Combine(dir, "x.npy"), "--device", "cuda");
        r.ExitCode.Should().Be(2, r.ToString());
        r.StdErr.Should().Contain("CUDA is not available");
        File.Exists(Path.Combine(dir, "x.npy")).Should().BeFalse();
    }

    [Fact]
    public void Checkpoint_and_input_errors()
    {
        var dir = TestFiles.TempDir();
        string broken = Path.Combine(dir, "broken.pth");
        File.WriteAllText(broken, "not a checkpoint");
        Run("extract", "--checkpoint", Path.Combine(dir, "missing.pth"), "--input", Input, "--output", Path.Combine(dir, "x.npy")).ExitCode.Should().Be(2);
        Run("extract", "--checkpoint", broken, "--input", Input, "--output", Path.Combine(dir, "x.npy")).ExitCode.Should().Be(2);
        var missing = Run("extract", "--checkpoint", Checkpoint, "--input", Path.Combine(dir, "missing.wav"), "--output", Path.Combine(dir, "x.npy"));
        missing.ExitCode.Should().Be(2);
        missing.StdErr.Should().Contain("missing.wav");

        string empty = Path.Combine(dir, "empty");
        Directory.CreateDirectory(empty);
        var none = Run("extract", "--checkpoint", Checkpoint, "--input", empty, "--output", Path.Combine(dir, "o"));
        none.ExitCode.Should().Be(2);
        none.StdErr.Should().Contain("no audio files");
        var fileOut = Run("extract", "--checkpoint", Checkpoint, "--input", empty, "--output", broken);
        fileOut.ExitCode.Should().Be(2);
        fileOut.StdErr.Should().Contain("must be a folder");

        string tiny = Path.Combine(dir, "tiny.wav");
        WavWriter.WritePcm16(tiny, new float[399], 16000);
        var shortRun = Run("extract", "--checkpoint", Checkpoint, "--input", tiny, "--output", Path.Combine(dir, "tiny.npy"));
        shortRun.ExitCode.Should().Be(1);
        shortRun.StdErr.Should().Contain("399 samples").And.Contain("400 samples");
        File.Exists(Path.Combine(dir, "tiny.npy")).Should().BeFalse();
    }
}
