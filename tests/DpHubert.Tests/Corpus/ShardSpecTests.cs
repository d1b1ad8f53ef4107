using System;
using System.Collections.Generic;
using System.Linq;
using DpHubert.Corpus;
using FluentAssertions;
using Xunit;

namespace DpHubert.Tests.Corpus;

public class ShardSpecTests
{
    // Computed with Python: int.from_bytes(hashlib.sha256(p.encode()).digest()[:8], "big") (the rule docs/cluster.md gives).
    [Theory]
    [InlineData("a.wav", 13560555325610844708UL)]
    [InlineData("speaker1/utt 001.wav", 6568628209146168031UL)]
    [InlineData("sänger/ß.wav", 3203545640096187791UL)]
    [InlineData("日本/声.wav", 12757537430977533710UL)]
    public void Hash_is_the_first_8_bytes_of_sha256_of_the_utf8_path_big_endian(string path, ulong expected)
    {
        ShardSpec.Hash(path).Should().Be(expected);
        ShardSpec.Of(path, 7).Should().Be((int)(expected % 7));
    }

    [Theory]
    [InlineData("0/1", 0, 1)]
    [InlineData("3/4", 3, 4)]
    [InlineData("0/1000", 0, 1000)]
    public void Parse_reads_K_of_N(string text, int k, int n)
    {
        var s = ShardSpec.Parse(text);
        s.Index.Should().Be(k);
        s.Count.Should().Be(n);
        s.ToString().Should().Be(text);
    }

    [Theory]
    [InlineData("4/4", "below N")]
    [InlineData("0/0", "at least 1")]
    [InlineData("-1/4", "form K/N")]
    [InlineData("1", "form K/N")]
    [InlineData("1/2/3", "form K/N")]
    [InlineData("a/b", "form K/N")]
    [InlineData(" 1/2", "form K/N")]
    [InlineData("", "form K/N")]
    public void Parse_rejects_anything_but_K_below_N(string text, string reason)
    {
        var act = () => ShardSpec.Parse(text);
        act.Should().Throw<FormatException>().WithMessage($"*'{text}'*{reason}*");
    }

    private static List<string> Corpus(int count, string prefix = "") =>
        Enumerable.Range(0, count).Select(i => $"{prefix}speaker{i % 13}/utt_{i:D5}.wav").ToList();

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(8)]
    public void Shards_are_disjoint_and_cover_every_path_exactly_once(int n)
    {
        var paths = Corpus(2000);
        var owners = paths.ToDictionary(p => p, p => Enumerable.Range(0, n).Where(k => new ShardSpec(k, n).Contains(p)).ToList());
        owners.Values.Should().OnlyContain(o => o.Count == 1, "every input belongs to exactly one shard");
        // SHA-256 spreads paths evenly: with 2000 paths each shard's share is within 25% of 2000 / n.
        foreach (var g in owners.GroupBy(o => o.Value[0]))
            g.Count().Should().BeInRange((int)(2000.0 / n * 0.75), (int)(2000.0 / n * 1.25), $"shard {g.Key} of {n}");
    }

    [Fact]
    public void The_key_is_relative_to_the_root_with_forward_slashes()
    {
        string root = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "corpus");
        ShardSpec.RelativeKey(root, System.IO.Path.Combine(root, "spk", "a.wav")).Should().Be("spk/a.wav");
        ShardSpec.RelativeKey(root + System.IO.Path.DirectorySeparatorChar, System.IO.Path.Combine(root, "a.wav")).Should().Be("a.wav");
    }

    [Fact]
    public void Constructor_rejects_out_of_range_values()
    {
        ((Action)(() => _ = new ShardSpec(2, 2))).Should().Throw<ArgumentOutOfRangeException>();
        ((Action)(() => _ = new ShardSpec(0, 0))).Should().Throw<ArgumentOutOfRangeException>();
        ShardSpec.All.Contains("anything.wav").Should().BeTrue();
    }
}
