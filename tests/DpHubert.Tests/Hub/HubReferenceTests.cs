using System.Collections.Generic;
using System.IO;
using System.Linq;
using System;
using DpHubert.Hub;
using FluentAssertions;
using Xunit;

namespace DpHubert.Tests.Hub;

public sealed class HubReferenceTests
{
    [Theory]
    [InlineData("hf://org/repo", "org/repo", "main", null)]
    [InlineData("hf://org/repo/", "org/repo", "main", null)]
    [InlineData("hf://pyf98/DPHuBERT/DPHuBERT-sp0.75.pth", "pyf98/DPHuBERT", "main", "DPHuBERT-sp0.75.pth")]
    [InlineData("hf://org/repo@v1.0/sub/dir/model.safetensors", "org/repo", "v1.0", "sub/dir/model.safetensors")]
    [InlineData("hf://org/repo@refs/pr/3/model.pth", "org/repo", "refs/pr/3", "model.pth")]
    [InlineData("hf://org/repo@refs%2Fpr%2F3", "org/repo", "refs/pr/3", null)]
    [InlineData("hf://org/repo@0123456789abcdef0123456789abcdef01234567/x.pt", "org/repo", "0123456789abcdef0123456789abcdef01234567", "x.pt")]
    public void Parses_every_part(string text, string repo, string revision, string? file)
    {
        var r = HubReference.Parse(text);
        (r.RepoId, r.Revision, r.File).Should().Be((repo, revision, file));
        HubReference.Parse(r.ToString()).Should().Be(r, "ToString round-trips");
        r.RevisionIsCommit.Should().Be(revision.Length == 40);
    }

    [Theory]
    [InlineData("hf://org", "names no repository")]
    [InlineData("hf://org/..", "'..'")]
    [InlineData("hf://org/a--b", "'--'")]
    [InlineData("hf://org/re po", "characters outside the Hub's")]
    [InlineData("hf://org/-repo", "starts or ends")]
    [InlineData("hf://org/repo/../../etc/passwd", "'..' segment")]
    [InlineData("hf://org/repo/a//b", "empty segment")]
    [InlineData("hf://org/repo/a\\b", "contains '\\'")]
    [InlineData("hf://org/repo@../../x/file", "'..' segment")]
    [InlineData("hf://org/repo@", "empty revision")]
    [InlineData("hf://org/repo@a;b/file", "characters outside a branch")]
    [InlineData("/local/file.pth", "not a Hub reference")]
    public void Refuses_what_could_leave_the_cache_with_its_reason(string text, string reason)
    {
        var act = () => HubReference.Parse(text);
        act.Should().Throw<ArgumentException>().WithMessage($"*{reason}*");
    }

    [Fact]
    public void Refuses_paths_given_directly()
    {
        var leading = () => new HubReference("org/repo", null, "/etc/passwd");
        leading.Should().Throw<ArgumentException>().WithMessage("*starts with '/'*");
        var control = () => new HubReference("org/repo", null, "a\nb");
        control.Should().Throw<ArgumentException>().WithMessage("*control character*");
    }

    [Fact]
    public void Every_short_name_is_one_row_with_a_valid_reference()
    {
        KnownModels.All.Should().HaveCount(5);
        KnownModels.Get("dphubert-sp0.75").Reference.ToString().Should().Be("hf://pyf98/DPHuBERT/DPHuBERT-sp0.75.pth");
        KnownModels.Get("dpwavlm-sp0.75").Reference.ToString().Should().Be("hf://pyf98/DPHuBERT/DPWavLM-sp0.75.pth");
        KnownModels.Get("hubert-base").Reference.ToString().Should().Be("hf://facebook/hubert-base-ls960");
        KnownModels.Get("wavlm-base-plus").Units!.Name.Should().Be("wavlmbase+");
        KnownModels.Get("rvc-hubert-base").Units!.Name.Should().Be("vec768l12");
        KnownModels.Get("rvc-hubert-base").Reference.File.Should().Be("hubert_base.pt");
        var unknown = () => KnownModels.Get("hubert-huge");
        unknown.Should().Throw<ArgumentException>().WithMessage("*dphubert-sp0.75, dpwavlm-sp0.75, hubert-base, wavlm-base-plus, rvc-hubert-base*");
    }
}

public sealed class HubReferenceFuzzTests
{
    [Fact]
    public void Random_references_either_parse_to_paths_inside_the_cache_or_fail_with_an_ArgumentException()
    {
        string[] pieces = { "org", "a.b", "x-y", "m_1", "..", ".", "", "@main", "@v1", "@refs", "pr", "7", "%2F", "\\", "a b", "\n", "--", "-a", "f.pth", ":", "~", "@..", "/" };
        var random = new Random(20);
        var cache = new HubCache(Path.Combine(Path.GetTempPath(), "dphubert-fuzz-cache"));
        string root = cache.Root + Path.DirectorySeparatorChar;
        int accepted = 0;
        for (int i = 0; i < 20000; i++)
        {
            int segments = random.Next(1, 7);
            var text = "hf://" + string.Join("/", Enumerable.Range(0, segments).Select(_ =>
                string.Concat(Enumerable.Range(0, random.Next(1, 3)).Select(_ => pieces[random.Next(pieces.Length)]))));
            HubReference r;
            try
            {
                r = HubReference.Parse(text);
            }
            catch (ArgumentException)
            {
                continue;
            }
            accepted++;
            var paths = new List<string> { cache.RefPath(r.RepoId, r.Revision), cache.RepoFolder(r.RepoId) };
            if (r.File is { } f) paths.Add(cache.SnapshotPath(r.RepoId, new string('a', 40), f));
            foreach (var p in paths)
                Path.GetFullPath(p).Should().StartWith(root, $"'{text}' must stay in the cache");
        }
        accepted.Should().BeGreaterThan(100, "the alphabet makes valid references too");
    }
}
