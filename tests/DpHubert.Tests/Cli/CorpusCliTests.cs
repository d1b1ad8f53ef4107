using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading;
using DpHubert.Audio;
using DpHubert.Corpus;
using DpHubert.IO;
using DpHubert.Tests.Support;
using FluentAssertions;
using Xunit;
using Xunit.Abstractions;

namespace DpHubert.Tests.Cli;

/// <summary>End-to-end corpus runs of <c>dphubert extract</c>: shards, resuming after SIGKILL with
/// <c>--skip-existing</c>, the manifest, and so-vits-svc's <c>.soft.pt</c> read back by PyTorch.</summary>
public class CorpusCliTests(ITestOutputHelper output)
{
    private static string Checkpoint => TestFiles.DpHubertCase("hubert_post_ln", "checkpoint.pth");

    private ConsoleRunner.Result Run(params string[] args)
    {
        var r = ConsoleRunner.Run(args);
        output.WriteLine($"dphubert {string.Join(' ', args)}\n{r}");
        return r;
    }

    /// <summary>A corpus of <paramref name="count"/> 16 kHz clips in speaker folders, each the fixture speech tiled to
    /// a different length; returns each relative path ('/'-separated) with its sample count.</summary>
    private static Dictionary<string, int> MakeCorpus(string root, int count, int first = 0, double seconds = 1.5)
    {
        var speech = WavReader.Read(TestFiles.DpHubertCase("hubert_post_ln", "input.wav")).Samples;
        var files = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = first; i < first + count; i++)
        {
            int length = (int)(16000 * seconds) + 1601 * (i % 7);
            var samples = Enumerable.Range(0, length).Select(t => speech[(t + 97 * i) % speech.Length] * (0.5f + 0.05f * (i % 9))).ToArray();
            string rel = $"spk{i % 3}/utt_{i:D3}.wav";
            Directory.CreateDirectory(Path.Combine(root, $"spk{i % 3}"));
            WavWriter.WritePcm16(Path.Combine(root, rel), samples, 16000);
            files[rel] = length;
        }
        return files;
    }

    private static string NpyOf(string rel) => Path.ChangeExtension(rel, ".npy");

    private static List<ManifestEntry> ReadManifest(string path)
    {
        var lines = File.ReadAllText(path).Split('\n');
        lines[^1].Should().BeEmpty("every line ends with a newline");
        return lines[..^1].Select(l => ManifestEntry.TryParse(l) ?? throw new InvalidDataException($"bad manifest line: {l}")).ToList();
    }

    /// <summary>Each manifest line names an existing output whose size, SHA-256, shape and seconds it states correctly.</summary>
    private static void ManifestDescribesOutputs(List<ManifestEntry> entries, string outDir, Dictionary<string, int> samples)
    {
        foreach (var e in entries)
        {
            string file = Path.Combine(outDir, e.Output);
            e.Output.Should().Be(NpyOf(e.Input));
            var npy = Npy.Read(file);
            e.Shape.Should().Equal(npy.Shape);
            (e.Frames, e.Dim).Should().Be((npy.Shape[0], npy.Shape[1]));
            e.Seconds.Should().BeApproximately(samples[e.Input] / 16000.0, 1e-6, "seconds is the 16 kHz sample count / 16000");
            e.Bytes.Should().Be(new FileInfo(file).Length);
            e.Sha256.Should().Be(CorpusManifest.Sha256Of(file));
        }
    }

    private static void SameFeatures(string actualDir, string expectedDir, IEnumerable<string> inputs)
    {
        foreach (var rel in inputs)
        {
            var a = Npy.Read(Path.Combine(actualDir, NpyOf(rel)));
            var b = Npy.Read(Path.Combine(expectedDir, NpyOf(rel)));
            a.Shape.Should().Equal(b.Shape, rel);
            // Same model, threads and input in both runs: the features must not depend on which run computed them.
            a.Data.Should().Equal(b.Data, rel);
        }
    }

    [Fact]
    public void Shards_are_disjoint_complete_and_equal_to_a_single_run()
    {
        var dir = TestFiles.TempDir();
        string inDir = Path.Combine(dir, "in"), single = Path.Combine(dir, "single"), sharded = Path.Combine(dir, "sharded");
        var corpus = MakeCorpus(inDir, 10);
        Run("extract", "--checkpoint", Checkpoint, "--input", inDir, "--output", single, "--threads", "1", "-q").ExitCode.Should().Be(0);

        const int n = 3;
        var seen = new List<string>();
        for (int k = 0; k < n; k++)
        {
            string manifest = Path.Combine(sharded, $"manifest-{k}.jsonl");
            var r = Run("extract", "--checkpoint", Checkpoint, "--input", inDir, "--output", sharded, "--threads", "1",
                "--shard", $"{k}/{n}", "--manifest", manifest);
            r.ExitCode.Should().Be(0, r.ToString());
            var mine = corpus.Keys.Where(p => ShardSpec.Of(p, n) == k).ToList();
            r.StdOut.Should().Contain($"{mine.Count} written, 0 failed");
            r.StdErr.Should().Contain($"shard {k}/{n}: {mine.Count} of {corpus.Count} input(s)");
            var entries = ReadManifest(manifest);
            entries.Select(e => e.Input).Should().BeEquivalentTo(mine, "shard k holds exactly the inputs whose hash is k mod n");
            ManifestDescribesOutputs(entries, sharded, corpus);
            seen.AddRange(entries.Select(e => e.Input));
        }
        seen.Should().OnlyHaveUniqueItems().And.BeEquivalentTo(corpus.Keys, "the shards together cover every input once");
        Directory.EnumerateFiles(sharded, "*.npy", SearchOption.AllDirectories).Should().HaveCount(corpus.Count);
        SameFeatures(sharded, single, corpus.Keys);
    }

    [Fact]
    public void Adding_and_removing_files_moves_no_other_input_to_another_shard()
    {
        var dir = TestFiles.TempDir();
        string inDir = Path.Combine(dir, "in"), outDir = Path.Combine(dir, "out");
        var before = MakeCorpus(inDir, 8);
        var firstRun = new Dictionary<int, HashSet<string>>();
        for (int k = 0; k < 2; k++)
        {
            Run("extract", "--checkpoint", Checkpoint, "--input", inDir, "--output", outDir, "--shard", $"{k}/2",
                "--manifest", Path.Combine(outDir, $"m{k}.jsonl"), "-q").ExitCode.Should().Be(0);
            firstRun[k] = ReadManifest(Path.Combine(outDir, $"m{k}.jsonl")).Select(e => e.Input).ToHashSet();
        }

        string removed = before.Keys.First();
        File.Delete(Path.Combine(inDir, removed));
        var added = MakeCorpus(inDir, 5, first: 100);
        for (int k = 0; k < 2; k++)
        {
            var r = Run("extract", "--checkpoint", Checkpoint, "--input", inDir, "--output", outDir, "--shard", $"{k}/2",
                "--manifest", Path.Combine(outDir, $"m{k}.jsonl"), "--skip-existing");
            r.ExitCode.Should().Be(0, r.ToString());
            var now = ReadManifest(Path.Combine(outDir, $"m{k}.jsonl")).Select(e => e.Input).ToHashSet();
            var kept = firstRun[k].Where(p => p != removed).ToList();
            now.Should().Contain(kept, "an input stays in its shard when other files come and go");
            var newOnes = added.Keys.Where(p => ShardSpec.Of(p, 2) == k).ToList();
            now.Should().BeEquivalentTo(kept.Concat(newOnes), "and the shard gains only new files (its manifest drops the removed input)");
            r.StdOut.Should().Contain($"{newOnes.Count} written, {kept.Count} skipped, 0 failed", "only the new files are extracted");
        }
    }

    [Fact]
    public void A_resume_with_nothing_to_do_leaves_the_manifest_byte_for_byte_even_out_of_job_order()
    {
        var dir = TestFiles.TempDir();
        string inDir = Path.Combine(dir, "in"), outDir = Path.Combine(dir, "out");
        MakeCorpus(inDir, 4, seconds: 0.5);
        string manifest = Path.Combine(dir, "manifest.jsonl");
        string[] args = { "extract", "--checkpoint", Checkpoint, "--input", inDir, "--output", outDir, "--threads", "1",
            "--manifest", manifest, "--skip-existing" };
        Run(args).ExitCode.Should().Be(0);
        // Killed and resumed runs append lines in completion order, not job order: reverse them to stand for that.
        var lines = File.ReadAllLines(manifest);
        lines.Should().HaveCount(4);
        File.WriteAllLines(manifest, lines.Reverse());
        string before = File.ReadAllText(manifest);

        var again = Run(args);
        again.ExitCode.Should().Be(0, again.ToString());
        again.StdOut.Should().Contain("0 written, 4 skipped, 0 failed");
        File.ReadAllText(manifest).Should().Be(before);
    }

    [Fact]
    public void Sigkill_mid_run_then_skip_existing_finishes_with_no_partial_file_and_one_correct_line_per_output()
    {
        var dir = TestFiles.TempDir();
        string inDir = Path.Combine(dir, "in"), outDir = Path.Combine(dir, "out"), reference = Path.Combine(dir, "ref");
        string manifest = Path.Combine(outDir, "manifest.jsonl");
        var corpus = MakeCorpus(inDir, 36, seconds: 3);
        string[] args = { "extract", "--checkpoint", Checkpoint, "--input", inDir, "--output", outDir, "--threads", "1",
            "--manifest", manifest, "--skip-existing" };

        int Outputs() => Directory.Exists(outDir) ? Directory.EnumerateFiles(outDir, "*.npy", SearchOption.AllDirectories).Count() : 0;
        int kills = 0;
        foreach (int killAfter in new[] { 3, 10 })
        {
            using var p = ConsoleRunner.Start(args);
            p.StandardOutput.ReadToEndAsync();
            p.StandardError.ReadToEndAsync();
            var clock = Stopwatch.StartNew();
            while (Outputs() < killAfter && !p.HasExited && clock.Elapsed < TimeSpan.FromSeconds(120)) Thread.Sleep(5);
            if (!p.HasExited)
            {
                p.Kill(); // SIGKILL: no handler runs, whatever is half-written stays half-written
                kills++;
            }
            p.WaitForExit();
            output.WriteLine($"run {kills}: killed with {Outputs()} outputs on disk (exit {p.ExitCode})");
        }
        kills.Should().Be(2, "both runs were killed before they finished (36 clips of 3+ s take far longer than 10 outputs)");
        Outputs().Should().BeLessThan(corpus.Count);

        // What kills leave on other timings, made certain: a temporary that was never renamed, a torn last line, and
        // an output cut short by something else (a full disk, a bad copy).
        string someOutput = Directory.EnumerateFiles(outDir, "*.npy", SearchOption.AllDirectories).First();
        File.WriteAllBytes(someOutput, File.ReadAllBytes(someOutput)[..100]);
        string missing = corpus.Keys.First(p => !File.Exists(Path.Combine(outDir, NpyOf(p))));
        string temp = Path.Combine(outDir, Path.GetDirectoryName(missing)!, $".{Path.GetFileName(NpyOf(missing))}.{Guid.NewGuid():N}.tmp");
        Directory.CreateDirectory(Path.GetDirectoryName(temp)!);
        File.WriteAllBytes(temp, new byte[77]);
        File.AppendAllText(manifest, "{\"input\":\"spk0/utt_0");

        int complete = Outputs() - 1;
        var r = Run(args);
        r.ExitCode.Should().Be(0, r.ToString());
        r.StdOut.Should().Contain($"{corpus.Count - complete} written, {complete} skipped, 0 failed");
        r.StdErr.Should().MatchRegex(@"removed [1-9][0-9]* partial file\(s\)", "at least the planted temporary is removed");

        Directory.EnumerateFiles(outDir, "*", SearchOption.AllDirectories)
            .Where(f => !f.EndsWith(".npy", StringComparison.Ordinal) && f != manifest)
            .Should().BeEmpty("no temporary or partial file is left");
        var entries = ReadManifest(manifest);
        entries.Select(e => e.Input).Should().OnlyHaveUniqueItems().And.BeEquivalentTo(corpus.Keys, "exactly one line per output");
        ManifestDescribesOutputs(entries, outDir, corpus);

        Run("extract", "--checkpoint", Checkpoint, "--input", inDir, "--output", reference, "--threads", "1", "-q").ExitCode.Should().Be(0);
        SameFeatures(outDir, reference, corpus.Keys);

        // A further resume has nothing to do and leaves the manifest as it is.
        string before = File.ReadAllText(manifest);
        var again = Run(args);
        again.StdOut.Should().Contain($"0 written, {corpus.Count} skipped, 0 failed");
        File.ReadAllText(manifest).Should().Be(before);
    }

    [Fact]
    public void Manifest_without_skip_existing_keeps_one_line_per_output_after_a_rerun()
    {
        var dir = TestFiles.TempDir();
        string inDir = Path.Combine(dir, "in"), outDir = Path.Combine(dir, "out"), manifest = Path.Combine(dir, "m.jsonl");
        var corpus = MakeCorpus(inDir, 3);
        for (int i = 0; i < 2; i++)
        {
            var r = Run("extract", "--checkpoint", Checkpoint, "--input", inDir, "--output", outDir, "--manifest", manifest);
            r.ExitCode.Should().Be(0, r.ToString());
            r.StdOut.Should().Contain("3 written, 0 failed", "without --skip-existing everything is extracted again");
        }
        var entries = ReadManifest(manifest);
        entries.Select(e => e.Input).Should().OnlyHaveUniqueItems().And.HaveCount(3);
        ManifestDescribesOutputs(entries, outDir, corpus);

        // Lines of inputs that are no longer part of the run are dropped.
        File.Delete(Path.Combine(inDir, corpus.Keys.First()));
        Run("extract", "--checkpoint", Checkpoint, "--input", inDir, "--output", outDir, "--manifest", manifest, "--skip-existing")
            .StdOut.Should().Contain("0 written, 2 skipped, 0 failed");
        ReadManifest(manifest).Should().HaveCount(2);
    }

    [PythonFact]
    [Trait("Category", "Python")]
    public void Soft_pt_files_load_in_pytorch_as_so_vits_svc_reads_them()
    {
        var dir = TestFiles.TempDir();
        string inDir = Path.Combine(dir, "in"), npyDir = Path.Combine(dir, "npy"), ptDir = Path.Combine(dir, "pt");
        var corpus = MakeCorpus(inDir, 3);
        File.Copy("/usr/share/sounds/alsa/Front_Center.wav", Path.Combine(inDir, "Front_Center.wav"));
        Run("extract", "--checkpoint", Checkpoint, "--input", inDir, "--output", npyDir, "-q").ExitCode.Should().Be(0);
        var r = Run("extract", "--checkpoint", Checkpoint, "--input", inDir, "--output", ptDir, "--format", "soft-pt",
            "--manifest", Path.Combine(dir, "m.jsonl"));
        r.ExitCode.Should().Be(0, r.ToString());

        var inputs = corpus.Keys.Append("Front_Center.wav").ToList();
        Directory.EnumerateFiles(ptDir, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(ptDir, f).Replace('\\', '/'))
            .Should().BeEquivalentTo(inputs.Select(p => p + ".soft.pt"), "so-vits-svc names units <file>.wav.soft.pt");
        var pairs = inputs.SelectMany(p => new[] { Path.Combine(ptDir, p + ".soft.pt"), Path.Combine(npyDir, NpyOf(p)) }).ToArray();
        string stdout = PythonScript.Run(Path.Combine("tools", "checkpoints", "check_soft_pt.py"), pairs);
        output.WriteLine(stdout);
        stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Should().HaveCount(inputs.Count)
            .And.OnlyContain(l => l.Contains("\"max_abs_diff\": 0.0", StringComparison.Ordinal), "the same float32 values, transposed");

        var entries = ReadManifest(Path.Combine(dir, "m.jsonl"));
        entries.Should().OnlyContain(e => e.Shape.Length == 3 && e.Shape[0] == 1 && e.Shape[1] == e.Dim && e.Shape[2] == e.Frames);

        // --skip-existing recognises complete .soft.pt files and redoes a cut one.
        string cut = Path.Combine(ptDir, inputs[0] + ".soft.pt");
        File.WriteAllBytes(cut, File.ReadAllBytes(cut)[..^30]);
        Run("extract", "--checkpoint", Checkpoint, "--input", inDir, "--output", ptDir, "--format", "soft-pt", "--skip-existing")
            .StdOut.Should().Contain($"1 written, {inputs.Count - 1} skipped, 0 failed");
        FeatureFileFormat.SoftPt.Inspect(cut).Should().NotBeNull();
    }

    [Theory]
    [InlineData("--shard", "2/2", "*--shard*'2/2'*below N*")]
    [InlineData("--shard", "1-of-2", "*--shard*'1-of-2'*K/N*")]
    [InlineData("--shard", "0/0", "*--shard*at least 1*")]
    [InlineData("--format", "pt", "*--format*'pt'*npy or soft-pt*")]
    public void Bad_corpus_options_are_usage_errors(string option, string value, string message)
    {
        var dir = TestFiles.TempDir();
        MakeCorpus(Path.Combine(dir, "in"), 1);
        var r = Run("extract", "--checkpoint", Checkpoint, "--input", Path.Combine(dir, "in"), "--output", Path.Combine(dir, "out"), option, value);
        r.ExitCode.Should().Be(2, r.ToString());
        r.StdErr.Should().Match(message);
        Directory.Exists(Path.Combine(dir, "out")).Should().BeFalse("nothing is written on a usage error");
    }

    [Fact]
    public void Soft_pt_of_every_layer_and_a_shard_of_one_file_are_refused()
    {
        var dir = TestFiles.TempDir();
        var corpus = MakeCorpus(Path.Combine(dir, "in"), 1);
        string wav = Path.Combine(dir, "in", corpus.Keys.Single());
        var r = Run("extract", "--checkpoint", Checkpoint, "--input", wav, "--output", Path.Combine(dir, "a.pt"), "--format", "soft-pt", "--layer", "all");
        r.ExitCode.Should().Be(2, r.ToString());
        r.StdErr.Should().Contain("--format soft-pt holds one layer");
        r = Run("extract", "--checkpoint", Checkpoint, "--input", wav, "--output", Path.Combine(dir, "a.npy"), "--shard", "0/2");
        r.ExitCode.Should().Be(2, r.ToString());
        r.StdErr.Should().Contain("--input must be a folder");
    }

    [Fact]
    public void Skip_existing_on_one_file_skips_a_complete_output_and_redoes_a_corrupt_one()
    {
        var dir = TestFiles.TempDir();
        var corpus = MakeCorpus(Path.Combine(dir, "in"), 1);
        string wav = Path.Combine(dir, "in", corpus.Keys.Single()), npy = Path.Combine(dir, "a.npy");
        Run("extract", "--checkpoint", Checkpoint, "--input", wav, "--output", npy).ExitCode.Should().Be(0);
        var good = File.ReadAllBytes(npy);
        var r = Run("extract", "--checkpoint", Checkpoint, "--input", wav, "--output", npy, "--skip-existing", "--manifest", Path.Combine(dir, "m.jsonl"));
        r.StdOut.Should().Contain("0 written, 1 skipped, 0 failed");
        ReadManifest(Path.Combine(dir, "m.jsonl")).Single().Should().Match<ManifestEntry>(e => e.Input == Path.GetFileName(wav) && e.Output == "a.npy");
        File.WriteAllBytes(npy, good.Select((b, i) => i == 5 ? (byte)'X' : b).ToArray()); // a broken header
        r = Run("extract", "--checkpoint", Checkpoint, "--input", wav, "--output", npy, "--skip-existing");
        r.ExitCode.Should().Be(0, r.ToString());
        File.ReadAllBytes(npy).Should().Equal(good, "the corrupt output was extracted again");
    }
}
