using System;
using System.IO;
using System.Linq;
using DpHubert.Corpus;
using DpHubert.Tests.Support;
using FluentAssertions;
using Xunit;

namespace DpHubert.Tests.Corpus;

public class CorpusManifestTests
{
    private static ManifestEntry Entry(string name, string sha = "") =>
        new($"in/{name}.wav", $"{name}.npy", 49, 48, 1.0, new long[] { 49, 48 }, 9472, sha.PadRight(64, '0'));

    [Fact]
    public void Lines_round_trip_and_a_torn_last_line_is_dropped()
    {
        string path = Path.Combine(TestFiles.TempDir(), "m.jsonl");
        using (var m = CorpusManifest.Open(path))
        {
            m.Entries.Should().BeEmpty();
            m.Append(Entry("a"));
            m.Append(Entry("b", "ff"));
        }
        string full = File.ReadAllText(path);
        File.AppendAllText(path, Entry("c").ToJson()[..40]); // a kill in the middle of a write
        using (var m = CorpusManifest.Open(path))
        {
            m.Entries.Select(e => e.Output).Should().Equal("a.npy", "b.npy");
            m.Entries[1].Should().BeEquivalentTo(Entry("b", "ff"));
            m.UnreadableLines.Should().Be(1);
            m.Rewrite(m.Entries.Take(1));
        }
        File.ReadAllText(path).Should().Be(full.Split('\n')[0] + "\n");
    }

    [Fact]
    public void A_line_has_the_documented_fields()
    {
        var json = System.Text.Json.JsonDocument.Parse(Entry("a", "ab").ToJson()).RootElement;
        json.EnumerateObject().Select(p => p.Name).Should().Equal("input", "output", "frames", "dim", "seconds", "shape", "bytes", "sha256");
        ManifestEntry.TryParse("{\"input\": \"a.wav\"}").Should().BeNull("a line without every field is not an entry");
        ManifestEntry.TryParse("[1, 2]").Should().BeNull();
    }

    [Fact]
    public void A_second_writer_of_the_same_manifest_is_refused()
    {
        string path = Path.Combine(TestFiles.TempDir(), "m.jsonl");
        using var first = CorpusManifest.Open(path);
        var second = () => CorpusManifest.Open(path);
        second.Should().Throw<IOException>().WithMessage("*m.jsonl*own manifest*");
    }

    [Fact]
    public void Matches_checks_size_and_sha256_of_the_file()
    {
        string dir = TestFiles.TempDir(), file = Path.Combine(dir, "a.npy");
        File.WriteAllText(file, "features");
        var e = CorpusManifest.Describe("a.wav", "a.npy", file, 1, 1, new long[] { 1, 1 }, 0.5);
        e.Sha256.Should().Be("5b8a8b56dada6ce7567442b4935298df7de2badd7becdcf4915a59487338ca4b", "sha256sum of the 8 bytes 'features'");
        e.Bytes.Should().Be(8);
        e.Matches(file).Should().BeTrue();
        File.WriteAllText(file, "Features");
        e.Matches(file).Should().BeFalse("same size, other content");
        File.Delete(file);
        e.Matches(file).Should().BeFalse();
    }
}
