using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using DpHubert.Audio;
using DpHubert.Corpus;
using DpHubert.Extraction;
using DpHubert.IO;
using DpHubert.Tests.Support;
using FluentAssertions;
using Xunit;
using Published = DpHubert.Tests.Checkpoints.PublishedLayoutTests;

namespace DpHubert.Tests.Corpus;

/// <summary><see cref="CorpusExtractor"/> as a .NET program uses it: resume, shards, a bad file among good ones, an
/// output that cannot be written, cancellation, and the option errors it names.</summary>
public sealed class CorpusExtractorTests : IDisposable
{
    private readonly SpeechEncoder encoder = SpeechEncoder.Load(TestFiles.DpHubertCase("hubert_post_ln", "checkpoint.pth"));

    public void Dispose() => encoder.Dispose();

    /// <summary><paramref name="count"/> 16 kHz clips of distinct lengths in speaker folders; relative path → samples.</summary>
    private static Dictionary<string, int> MakeCorpus(string root, int count, double seconds = 0.6)
    {
        var speech = WavReader.Read(TestFiles.DpHubertCase("hubert_post_ln", "input.wav")).Samples;
        var files = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < count; i++)
        {
            int length = (int)(16000 * seconds) + 1601 * (i % 5);
            var samples = Enumerable.Range(0, length).Select(t => speech[(t + 97 * i) % speech.Length]).ToArray();
            string rel = $"spk{i % 2}/utt_{i:D3}.wav";
            Directory.CreateDirectory(Path.Combine(root, $"spk{i % 2}"));
            WavWriter.WritePcm16(Path.Combine(root, rel), samples, 16000);
            files[rel] = length;
        }
        return files;
    }

    private static List<ManifestEntry> Manifest(string path) =>
        File.ReadAllLines(path).Select(l => ManifestEntry.TryParse(l) ?? throw new InvalidDataException(l)).ToList();

    private static string NpyOf(string rel) => Path.ChangeExtension(rel, ".npy");

    private CorpusSummary RunOnce(CorpusRunOptions options, List<CorpusProgress>? reports = null, CancellationToken token = default)
    {
        using var run = CorpusExtractor.Open(encoder, options);
        return run.Run(new SyncProgress<CorpusProgress>(p => reports?.Add(p)), token);
    }

    [Fact]
    public void A_resume_extracts_only_what_is_missing_and_keeps_one_correct_line_per_output()
    {
        var dir = TestFiles.TempDir();
        string inDir = Path.Combine(dir, "in"), outDir = Path.Combine(dir, "out"), manifest = Path.Combine(dir, "m.jsonl");
        var corpus = MakeCorpus(inDir, 5);
        var options = new CorpusRunOptions { Input = inDir, Output = outDir, ManifestPath = manifest, SkipExisting = true };

        var first = RunOnce(options);
        first.Should().BeEquivalentTo(new { Inputs = 5, Written = 5, Skipped = 0, Failed = 0 });
        first.AudioSeconds.Should().BeApproximately(corpus.Values.Sum() / 16000.0, 1e-9);
        var before = File.ReadAllBytes(Path.Combine(outDir, NpyOf("spk1/utt_001.wav")));
        File.Delete(Path.Combine(outDir, NpyOf("spk0/utt_002.wav")));

        var reports = new List<CorpusProgress>();
        var resumed = RunOnce(options, reports);
        resumed.Should().BeEquivalentTo(new { Inputs = 1, Written = 1, Skipped = 4, Failed = 0 });
        reports.Should().ContainSingle().Which.File.Input.Should().EndWith("utt_002.wav");
        File.ReadAllBytes(Path.Combine(outDir, NpyOf("spk1/utt_001.wav"))).Should().Equal(before, "a kept output is not rewritten");

        var entries = Manifest(manifest);
        entries.Select(e => e.Input).Should().OnlyHaveUniqueItems().And.BeEquivalentTo(corpus.Keys);
        foreach (var e in entries)
        {
            e.Matches(Path.Combine(outDir, e.Output)).Should().BeTrue(e.Output);
            e.Seconds.Should().Be(Math.Round(corpus[e.Input] / 16000.0, 6), e.Input);
        }
    }

    [Fact]
    public void Seconds_are_the_files_duration_whether_extracted_now_or_found_on_resume_even_with_padded_units()
    {
        // HuBERT-Soft pads the waveform by 40 samples at each end; the manifest's seconds are the file's own duration.
        using var soft = SpeechEncoder.Load(Published.File("hubert_soft", "checkpoint"), new SpeechEncoderOptions { Units = SpeechUnits.HubertSoft });
        var dir = TestFiles.TempDir();
        string inDir = Path.Combine(dir, "in"), outDir = Path.Combine(dir, "out");
        var corpus = MakeCorpus(inDir, 2);
        var options = new CorpusRunOptions { Input = inDir, Output = outDir, Layers = soft.Units!.Layers, Format = FeatureFileFormat.SoftPt };

        using (var run = CorpusExtractor.Open(soft, options with { ManifestPath = Path.Combine(dir, "extracted.jsonl") }))
            run.Run().Written.Should().Be(2);
        using (var run = CorpusExtractor.Open(soft, options with { ManifestPath = Path.Combine(dir, "resumed.jsonl"), SkipExisting = true }))
            run.Run().Skipped.Should().Be(2);

        var extracted = Manifest(Path.Combine(dir, "extracted.jsonl")).ToDictionary(e => e.Input, e => e.Seconds);
        var resumed = Manifest(Path.Combine(dir, "resumed.jsonl")).ToDictionary(e => e.Input, e => e.Seconds);
        resumed.Should().Equal(extracted, "an output found on resume is described as when it was written");
        foreach (var (input, samples) in corpus)
            extracted[input].Should().Be(Math.Round(samples / 16000.0, 6), "the padding is not audio of the file");
    }

    [Fact]
    public void Shards_split_the_folder_disjointly_and_completely()
    {
        var dir = TestFiles.TempDir();
        string inDir = Path.Combine(dir, "in"), outDir = Path.Combine(dir, "out");
        var corpus = MakeCorpus(inDir, 7);
        var seen = new List<string>();
        for (int k = 0; k < 3; k++)
        {
            var notes = new List<string>();
            string manifest = Path.Combine(dir, $"m{k}.jsonl");
            using var run = CorpusExtractor.Open(encoder, new CorpusRunOptions { Input = inDir, Output = outDir, Shard = new ShardSpec(k, 3), ManifestPath = manifest },
                new SyncProgress<string>(notes.Add));
            var mine = corpus.Keys.Where(p => ShardSpec.Of(p, 3) == k).ToList();
            notes.Should().Contain($"shard {k}/3: {mine.Count} of 7 input(s)");
            run.Pending.Select(j => Path.GetRelativePath(inDir, j.Input).Replace('\\', '/')).Should().BeEquivalentTo(mine);
            run.Run().Written.Should().Be(mine.Count);
            run.Dispose();
            var inputs = Manifest(manifest).Select(e => e.Input).ToList();
            inputs.Should().BeEquivalentTo(mine);
            seen.AddRange(inputs);
        }
        seen.Should().OnlyHaveUniqueItems().And.BeEquivalentTo(corpus.Keys);
    }

    [Fact]
    public void A_bad_file_among_good_ones_fails_alone_and_gets_no_manifest_line()
    {
        var dir = TestFiles.TempDir();
        string inDir = Path.Combine(dir, "in"), outDir = Path.Combine(dir, "out"), manifest = Path.Combine(dir, "m.jsonl");
        var corpus = MakeCorpus(inDir, 4);
        File.WriteAllText(Path.Combine(inDir, "spk0", "garbage.wav"), "this is not audio");
        WavWriter.WritePcm16(Path.Combine(inDir, "spk1", "tiny.wav"), new float[100], 16000);

        var reports = new List<CorpusProgress>();
        var summary = RunOnce(new CorpusRunOptions { Input = inDir, Output = outDir, ManifestPath = manifest }, reports);

        summary.Should().BeEquivalentTo(new { Inputs = 6, Written = 4, Failed = 2 });
        summary.Failures.Select(f => Path.GetFileName(f.Input)).Should().BeEquivalentTo("garbage.wav", "tiny.wav");
        summary.Failures.Should().OnlyContain(f => f.Error != null && f.Shape == null);
        summary.Failures.Single(f => f.Input.EndsWith("garbage.wav")).Error.Should().BeOfType<AudioFormatException>()
            .Which.Message.Should().Contain("garbage.wav");
        summary.Failures.Single(f => f.Input.EndsWith("tiny.wav")).Error!.Message.Should().Contain("100 samples");
        reports.Should().HaveCount(6).And.OnlyContain(p => p.Total == 6);
        reports.Select(p => p.Done).Should().Equal(1, 2, 3, 4, 5, 6);
        reports[^1].Failed.Should().Be(2);
        Manifest(manifest).Select(e => e.Input).Should().BeEquivalentTo(corpus.Keys);
        Directory.EnumerateFiles(outDir, "*", SearchOption.AllDirectories).Should().HaveCount(4);
    }

    [Fact]
    public void An_output_that_cannot_be_written_fails_that_input_alone()
    {
        var dir = TestFiles.TempDir();
        string inDir = Path.Combine(dir, "in"), outDir = Path.Combine(dir, "out");
        var corpus = MakeCorpus(inDir, 3);
        Directory.CreateDirectory(Path.Combine(outDir, NpyOf("spk1/utt_001.wav"))); // a folder where the file must go

        var summary = RunOnce(new CorpusRunOptions { Input = inDir, Output = outDir });
        summary.Written.Should().Be(2);
        summary.Failures.Should().ContainSingle().Which.Input.Should().EndWith("utt_001.wav");
        Directory.EnumerateFiles(outDir, "*", SearchOption.AllDirectories).Should().HaveCount(2, "no temporary is left behind");
    }

    [Fact]
    public void Cancellation_leaves_only_complete_outputs_each_with_its_line_and_a_resume_finishes()
    {
        var dir = TestFiles.TempDir();
        string inDir = Path.Combine(dir, "in"), outDir = Path.Combine(dir, "out"), manifest = Path.Combine(dir, "m.jsonl");
        var corpus = MakeCorpus(inDir, 6);
        var options = new CorpusRunOptions { Input = inDir, Output = outDir, ManifestPath = manifest, SkipExisting = true };
        using var cancel = new CancellationTokenSource();

        using (var run = CorpusExtractor.Open(encoder, options))
        {
            var act = () => run.Run(new SyncProgress<CorpusProgress>(p => { if (p.Done == 2) cancel.Cancel(); }), cancel.Token);
            act.Should().Throw<OperationCanceledException>();
            run.Summary.Should().BeEquivalentTo(new { Inputs = 6, Written = 2, Failed = 0, NotProcessed = 4 });
        }

        var files = Directory.EnumerateFiles(outDir, "*", SearchOption.AllDirectories).ToList();
        files.Should().HaveCount(2).And.OnlyContain(f => f.EndsWith(".npy"), "no temporary or partial file");
        files.Should().OnlyContain(f => FeatureFileFormat.Npy.Inspect(f) != null);
        var entries = Manifest(manifest);
        entries.Select(e => Path.Combine(outDir, e.Output)).Should().BeEquivalentTo(files);
        entries.Should().OnlyContain(e => e.Matches(Path.Combine(outDir, e.Output)));

        var rest = RunOnce(options);
        rest.Should().BeEquivalentTo(new { Written = 4, Skipped = 2, Failed = 0 });
        Manifest(manifest).Select(e => e.Input).Should().BeEquivalentTo(corpus.Keys);
    }

    [Fact]
    public void One_file_goes_to_the_named_output_or_into_an_existing_folder()
    {
        var dir = TestFiles.TempDir();
        var corpus = MakeCorpus(Path.Combine(dir, "in"), 1);
        string wav = Path.Combine(dir, "in", corpus.Keys.Single());
        RunOnce(new CorpusRunOptions { Input = wav, Output = Path.Combine(dir, "one.npy") }).Written.Should().Be(1);
        File.Exists(Path.Combine(dir, "one.npy")).Should().BeTrue();
        Directory.CreateDirectory(Path.Combine(dir, "units"));
        RunOnce(new CorpusRunOptions { Input = wav, Output = Path.Combine(dir, "units"), Format = FeatureFileFormat.SoftPt }).Written.Should().Be(1);
        FeatureFileFormat.SoftPt.Inspect(Path.Combine(dir, "units", "utt_000.wav.soft.pt")).Should().NotBeNull();
    }

    [Fact]
    public void Bad_options_are_refused_before_anything_is_written_and_name_the_option_as_data()
    {
        var dir = TestFiles.TempDir();
        var corpus = MakeCorpus(Path.Combine(dir, "in"), 1);
        string wav = Path.Combine(dir, "in", corpus.Keys.Single()), outDir = Path.Combine(dir, "out");

        void Refused<T>(CorpusRunOptions options, ApiOption option, string message) where T : Exception
        {
            var e = FluentActions.Invoking(() => CorpusExtractor.Open(encoder, options)).Should().Throw<T>().Which;
            e.Message.Should().Match(message);
            OptionText.Of(e)!.Options.Should().Contain(option);
        }

        Refused<ArgumentException>(new CorpusRunOptions { Input = wav, Output = outDir, Shard = new ShardSpec(0, 2) }, ApiOption.Shard,
            "CorpusRunOptions.Shard splits the files of a folder; CorpusRunOptions.Input must be a folder.*");
        Refused<ArgumentException>(new CorpusRunOptions { Input = wav, Output = outDir, Format = FeatureFileFormat.SoftPt, Layers = LayerSelection.AllLayers },
            ApiOption.Format, "CorpusRunOptions.Format soft-pt holds one layer*");
        Refused<FileNotFoundException>(new CorpusRunOptions { Input = Path.Combine(dir, "missing.wav"), Output = outDir }, ApiOption.Input,
            "CorpusRunOptions.Input '*missing.wav' does not exist.");
        Refused<ArgumentOutOfRangeException>(new CorpusRunOptions { Input = wav, Output = outDir, Extraction = new ExtractionOptions { BatchSize = 0 } },
            ApiOption.BatchSize, "ExtractionOptions.BatchSize must be >= 1.*");
        Refused<ArgumentException>(new CorpusRunOptions { Input = wav, Output = outDir, Layers = LayerSelection.Layer(9) }, ApiOption.Layers,
            "Layer index 9 (LayerSelection) is past the last layer*");
        Directory.Exists(outDir).Should().BeFalse();

        using (CorpusExtractor.Open(encoder, new CorpusRunOptions { Input = wav, Output = outDir, ManifestPath = Path.Combine(dir, "m.jsonl") }))
            Refused<ArgumentException>(new CorpusRunOptions { Input = wav, Output = outDir, ManifestPath = Path.Combine(dir, "m.jsonl") },
                ApiOption.ManifestPath, "CorpusRunOptions.ManifestPath: manifest*cannot be opened*");
    }

    [LinuxFact]
    public void Entries_that_are_not_regular_files_are_refused_unopened_and_reported_first()
    {
        var dir = TestFiles.TempDir();
        string inDir = Path.Combine(dir, "in");
        MakeCorpus(inDir, 2);
        mkfifo(Path.Combine(inDir, "pipe.wav"), 0b110_100_100).Should().Be(0, "mkfifo must succeed to set up the test");
        using var run = CorpusExtractor.Open(encoder, new CorpusRunOptions { Input = inDir, Output = Path.Combine(dir, "out") });
        run.Refused.Should().ContainSingle().Which.Error!.Message.Should().Contain("pipe.wav: not a regular file");
        run.Inputs.Should().Be(3);
        var reports = new List<CorpusProgress>();
        var summary = run.Run(new SyncProgress<CorpusProgress>(reports.Add)); // would block forever if the FIFO were opened
        reports[0].File.Input.Should().EndWith("pipe.wav");
        summary.Should().BeEquivalentTo(new { Written = 2, Failed = 1 });
    }

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int mkfifo(string path, uint mode);

    [Fact]
    public void A_run_runs_once()
    {
        var dir = TestFiles.TempDir();
        MakeCorpus(Path.Combine(dir, "in"), 1);
        using var run = CorpusExtractor.Open(encoder, new CorpusRunOptions { Input = Path.Combine(dir, "in"), Output = Path.Combine(dir, "out") });
        run.Run().Written.Should().Be(1);
        run.Invoking(r => r.Run()).Should().Throw<InvalidOperationException>();
    }
}
