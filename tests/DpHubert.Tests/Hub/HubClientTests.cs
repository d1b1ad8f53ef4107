using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net.Http;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using DpHubert.Checkpoints;
using DpHubert.Extraction;
using DpHubert.Hub;
using DpHubert.PyTorch;
using DpHubert.Tests.Support;
using FluentAssertions;
using Xunit;
using static TorchSharp.torch;

namespace DpHubert.Tests.Hub;

public sealed class HubClientTests : IDisposable
{
    private readonly HubTestServer server = new();
    private readonly string cache = TestFiles.TempDir();
    private static readonly byte[] Checkpoint = File.ReadAllBytes(TestFiles.DpHubertCase("hubert_post_ln", "checkpoint.pth"));

    public void Dispose()
    {
        server.Dispose();
        try
        {
            Directory.Delete(cache, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private HubOptions Options(string? token = "", int attempts = 4) => new()
    {
        Endpoint = server.Endpoint,
        CacheDirectory = cache,
        Offline = false,
        Token = token,
        MaxAttempts = attempts,
        RetryDelay = TimeSpan.FromMilliseconds(10),
        MaxRetryDelay = TimeSpan.FromMilliseconds(50),
        ReadTimeout = TimeSpan.FromSeconds(10),
        LockTimeout = TimeSpan.FromSeconds(60),
    };

    private HubClient Client(HubOptions? options = null) => new(options ?? Options());

    private HubTestServer.Repo FileRepo(string id = "org/tiny")
    {
        var repo = new HubTestServer.Repo { Id = id };
        repo.Files["model.pth"] = Checkpoint;
        repo.Files["README.md"] = Encoding.UTF8.GetBytes("# a tiny model\n");
        repo.Files["sub/dir/notes.json"] = Encoding.UTF8.GetBytes("{\"a\": 1}");
        return server.Add(repo);
    }

    private string RepoFolder(string id = "org/tiny") => Path.Combine(cache, "models--" + id.Replace("/", "--"));

    [Fact]
    public async Task A_file_lands_in_the_huggingface_hub_layout()
    {
        var repo = FileRepo();
        using var hub = Client();
        string path = await hub.DownloadFileAsync(HubReference.Parse("hf://org/tiny/model.pth"));
        string sha = HubTestServer.Sha256(Checkpoint);

        path.Should().Be(Path.Combine(RepoFolder(), "snapshots", repo.Commit, "model.pth"));
        File.ReadAllBytes(path).Should().Equal(Checkpoint);
        new FileInfo(path).LinkTarget.Should().Be($"../../blobs/{sha}", "a relative link, as huggingface_hub makes it");
        File.Exists(Path.Combine(RepoFolder(), "blobs", sha)).Should().BeTrue();
        File.ReadAllText(Path.Combine(RepoFolder(), "refs", "main")).Should().Be(repo.Commit, "the commit without a newline");
        File.Exists(Path.Combine(cache, ".locks", "models--org--tiny", sha + ".lock")).Should().BeTrue();
        Directory.GetFiles(Path.Combine(RepoFolder(), "blobs")).Should().ContainSingle("no .incomplete is left");

        var head = server.Requests.Single(r => r.Method == "HEAD");
        head.Path.Should().Be($"/org/tiny/resolve/main/model.pth");
        server.Requests.Where(r => r.Method == "GET").Select(r => r.Path).Should().Equal($"/blobs/{sha}");

        // A small (non-LFS) file in a subfolder: named by its git SHA-1, linked from two levels deeper.
        string notes = await hub.DownloadFileAsync(HubReference.Parse("hf://org/tiny/sub/dir/notes.json"));
        string sha1 = HubTestServer.GitSha1(repo.Files["sub/dir/notes.json"]);
        new FileInfo(notes).LinkTarget.Should().Be($"../../../../blobs/{sha1}");
        File.ReadAllText(notes).Should().Be("{\"a\": 1}");
    }

    [Fact]
    public async Task A_model_folder_fetches_only_what_its_format_needs_and_loads()
    {
        string hf = TestFiles.DpHubertCase("hubert_post_ln", "hf");
        var repo = new HubTestServer.Repo { Id = "org/folder" };
        foreach (var f in new[] { "config.json", "preprocessor_config.json", "model.safetensors", "pytorch_model.bin" })
            repo.Files[f] = File.ReadAllBytes(Path.Combine(hf, f));
        repo.Files["tf_model.h5"] = new byte[1000];
        repo.Files["README.md"] = Encoding.UTF8.GetBytes("readme");
        server.Add(repo);

        using var fromHub = CheckpointLoader.Read("hf://org/folder", new CheckpointReadOptions { Hub = Options() });
        using var local = CheckpointLoader.Read(hf);
        fromHub.Report.Format.Should().Be(CheckpointFormat.HuggingFace);
        fromHub.Config.Should().Be(local.Config);
        foreach (var (key, value) in local.StateDict)
            fromHub.StateDict[key].equal(value).all().item<bool>().Should().BeTrue(key);

        var fetched = server.Requests.Where(r => r.Method == "HEAD").Select(r => r.Path.Split('/').Last()).ToList();
        fetched.Should().Equal("config.json", "preprocessor_config.json", "model.safetensors");
        server.Requests.Where(r => r.Method == "HEAD").Skip(1).Should().OnlyContain(r => r.Path.Contains($"/resolve/{repo.Commit}/"),
            "every file after the first comes from the commit the first resolved to");
    }

    [Fact]
    public async Task A_sharded_safetensors_folder_fetches_the_index_and_every_shard()
    {
        string hf = TestFiles.DpHubertCase("hubert_post_ln", "hf");
        var repo = new HubTestServer.Repo { Id = "org/sharded" };
        repo.Files["config.json"] = File.ReadAllBytes(Path.Combine(hf, "config.json"));
        string tmp = TestFiles.TempDir();
        using (var st = SafeTensors.Load(Path.Combine(hf, "model.safetensors")))
        {
            var tensors = st.Keys.ToList().Select(k => new KeyValuePair<string, Tensor>(k, st.Detach(k))).ToList();
            int half = tensors.Count / 2;
            SafeTensors.Save(Path.Combine(tmp, "a.safetensors"), tensors.Take(half));
            SafeTensors.Save(Path.Combine(tmp, "b.safetensors"), tensors.Skip(half));
            repo.Files["model.safetensors.index.json"] = JsonSerializer.SerializeToUtf8Bytes(new
            {
                weight_map = tensors.Select((kv, i) => (kv.Key, File: i < half ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors"))
                    .ToDictionary(x => x.Key, x => x.File),
            });
            foreach (var t in tensors) t.Value.Dispose();
        }
        repo.Files["model-00001-of-00002.safetensors"] = File.ReadAllBytes(Path.Combine(tmp, "a.safetensors"));
        repo.Files["model-00002-of-00002.safetensors"] = File.ReadAllBytes(Path.Combine(tmp, "b.safetensors"));
        repo.Files["pytorch_model.bin"] = File.ReadAllBytes(Path.Combine(hf, "pytorch_model.bin"));
        server.Add(repo);

        using var hub = Client();
        string folder = await hub.DownloadModelAsync(HubReference.Parse("hf://org/sharded"));
        Directory.GetFiles(folder).Select(Path.GetFileName).Should().BeEquivalentTo(
            "config.json", "model.safetensors.index.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors");
        using var ckpt = CheckpointLoader.Read(folder);
        ckpt.Report.Notes.Should().Contain(n => n.Contains("model.safetensors.index.json"));
    }

    [Fact]
    public async Task A_connection_cut_at_a_random_byte_resumes_to_the_exact_file()
    {
        FileRepo();
        var random = new Random();
        long first = random.NextInt64(1, Checkpoint.Length / 2), second = random.NextInt64(1, Checkpoint.Length / 2);
        server.Inject(server.CutAfter(first), server.CutAfter(second));
        using var hub = Client();
        string path = await hub.DownloadFileAsync(HubReference.Parse("hf://org/tiny/model.pth"));
        File.ReadAllBytes(path).Should().Equal(Checkpoint, $"cut after {first} and then {second} more bytes");
        var ranges = server.Requests.Where(r => r.Method == "GET").Select(r => r.Range).ToList();
        ranges.Should().Equal(null, $"bytes={first}-", $"bytes={first + second}-");
    }

    [Fact]
    public async Task An_incomplete_file_from_an_earlier_run_is_resumed_with_a_range_request()
    {
        FileRepo();
        string sha = HubTestServer.Sha256(Checkpoint);
        Directory.CreateDirectory(Path.Combine(RepoFolder(), "blobs"));
        File.WriteAllBytes(Path.Combine(RepoFolder(), "blobs", sha + ".incomplete"), Checkpoint[..1000]);
        using var hub = Client();
        string path = await hub.DownloadFileAsync(HubReference.Parse("hf://org/tiny/model.pth"));
        File.ReadAllBytes(path).Should().Equal(Checkpoint);
        server.Requests.Single(r => r.Method == "GET").Range.Should().Be("bytes=1000-");
    }

    [Fact]
    public async Task Wrong_bytes_are_refused_and_deleted_and_the_next_run_succeeds()
    {
        FileRepo();
        server.Inject(server.WrongBytes());
        using var hub = Client();
        var act = () => hub.DownloadFileAsync(HubReference.Parse("hf://org/tiny/model.pth"));
        var error = (await act.Should().ThrowAsync<HubException>()).Which;
        error.Kind.Should().Be(HubErrorKind.Integrity);
        error.Message.Should().Contain("SHA-256").And.Contain("deleted").And.Contain("hf://org/tiny/model.pth");
        Directory.GetFiles(Path.Combine(RepoFolder(), "blobs")).Should().BeEmpty();
        Directory.Exists(Path.Combine(RepoFolder(), "snapshots")).Should().BeFalse();

        File.ReadAllBytes(await act()).Should().Equal(Checkpoint);
    }

    [Fact]
    public async Task Too_many_requests_and_server_errors_are_retried()
    {
        FileRepo();
        server.Inject(server.Status(429, "HEAD", retryAfter: "0"), server.Status(503, "GET"), server.Status(500, "GET"));
        using var hub = Client();
        string path = await hub.DownloadFileAsync(HubReference.Parse("hf://org/tiny/model.pth"));
        File.ReadAllBytes(path).Should().Equal(Checkpoint);
        server.Count("HEAD", "/resolve/").Should().Be(2);
        server.Count("GET", "/blobs/").Should().Be(3);
    }

    [Fact]
    public async Task A_server_that_keeps_failing_ends_in_one_error_after_the_attempts()
    {
        FileRepo();
        server.Inject(Enumerable.Range(0, 3).Select(_ => server.Status(503, "HEAD")).ToArray());
        using var hub = Client(Options(attempts: 3));
        var error = (await hub.Invoking(h => h.DownloadFileAsync(HubReference.Parse("hf://org/tiny/model.pth")))
            .Should().ThrowAsync<HubException>()).Which;
        error.Kind.Should().Be(HubErrorKind.Network);
        error.Message.Should().Contain("failed 3 times").And.Contain("HTTP 503").And.NotContain("\n");
    }

    [Fact]
    public async Task A_slow_download_reports_progress_and_stops_on_cancellation_then_resumes()
    {
        FileRepo();
        server.TrickleBytes = 8192;
        server.TricklePause = TimeSpan.FromMilliseconds(25);
        using var cancel = new CancellationTokenSource();
        var seen = new List<HubDownloadProgress>();
        var progress = new Collect(p =>
        {
            lock (seen) seen.Add(p);
            if (p.BytesReceived >= 3 * 8192) cancel.Cancel();
        });
        using (var hub = Client())
            await hub.Invoking(h => h.DownloadFileAsync(HubReference.Parse("hf://org/tiny/model.pth"), progress, cancel.Token))
                .Should().ThrowAsync<OperationCanceledException>();
        seen.Should().NotBeEmpty();
        seen.Select(p => p.BytesReceived).Should().BeInAscendingOrder();
        seen.Should().OnlyContain(p => p.TotalBytes == Checkpoint.Length && !p.Completed);
        string incomplete = Path.Combine(RepoFolder(), "blobs", HubTestServer.Sha256(Checkpoint) + ".incomplete");
        long kept = new FileInfo(incomplete).Length;
        kept.Should().BeInRange(1, Checkpoint.Length - 1, "the partial file is kept for the next run");

        server.TrickleBytes = 0;
        seen.Clear();
        using var again = Client();
        string path = await again.DownloadFileAsync(HubReference.Parse("hf://org/tiny/model.pth"), progress);
        File.ReadAllBytes(path).Should().Equal(Checkpoint);
        server.Requests.Last(r => r.Method == "GET").Range.Should().Be($"bytes={kept}-");
        seen.First().BytesReceived.Should().Be(kept);
        seen.Last().Should().Be(new HubDownloadProgress("org/tiny", "model.pth", Checkpoint.Length, Checkpoint.Length, true));
    }

    private sealed class Collect(Action<HubDownloadProgress> report) : IProgress<HubDownloadProgress>
    {
        public void Report(HubDownloadProgress value) => report(value);
    }

    [Theory]
    [InlineData("X-Linked-Etag", "\"../../x\"", "ETag '../../x' is not a hex digest")]
    [InlineData("X-Linked-Etag", "\"abc/def0123456\"", "is not a hex digest")]
    [InlineData("X-Repo-Commit", "../../../../y", "commit '../../../../y' is not a 40-hex commit hash")]
    [InlineData("X-Linked-Size", "999999999999999999", "more than HubOptions.MaxFileBytes")]
    [InlineData("X-Linked-Size", "99999999999999999999999", "not a number")]
    [InlineData("Location", "file:///etc/passwd", "redirected from http to file")]
    [InlineData("Location", "ftp://127.0.0.1/x", "redirected from http to ftp")]
    public async Task A_hostile_server_is_refused_and_nothing_leaves_the_cache(string header, string value, string reason)
    {
        FileRepo();
        server.HeaderOverrides[header] = value;
        using var hub = Client();
        var error = (await hub.Invoking(h => h.DownloadFileAsync(HubReference.Parse("hf://org/tiny/model.pth")))
            .Should().ThrowAsync<HubException>()).Which;
        error.Kind.Should().Be(HubErrorKind.Refused);
        error.Message.Should().Contain(reason).And.Contain("refused");
        server.Count("GET", "/").Should().Be(0, "nothing is downloaded after a refusal");
        Directory.GetFileSystemEntries(cache).Should().BeEmpty("nothing is written, inside the cache or outside it");
        File.Exists(Path.Combine(Path.GetDirectoryName(cache)!, "x")).Should().BeFalse();
    }

    [Fact]
    public async Task A_file_larger_than_the_free_disk_is_refused_before_a_byte_is_written()
    {
        FileRepo();
        long free = new DriveInfo(cache).AvailableFreeSpace;
        server.HeaderOverrides["X-Linked-Size"] = (free + 1_000_000_000).ToString(System.Globalization.CultureInfo.InvariantCulture);
        using var hub = Client(Options() with { MaxFileBytes = long.MaxValue });
        var error = (await hub.Invoking(h => h.DownloadFileAsync(HubReference.Parse("hf://org/tiny/model.pth")))
            .Should().ThrowAsync<HubException>()).Which;
        error.Kind.Should().Be(HubErrorKind.DiskFull);
        error.Message.Should().Contain("free").And.Contain("HF_HUB_CACHE");
        server.Count("GET", "/").Should().Be(0);
    }

    [Fact]
    public async Task An_endless_body_is_cut_at_the_announced_size_and_deleted()
    {
        FileRepo();
        server.Inject(server.EndlessBody());
        using var hub = Client();
        var error = (await hub.Invoking(h => h.DownloadFileAsync(HubReference.Parse("hf://org/tiny/model.pth")))
            .Should().ThrowAsync<HubException>()).Which;
        error.Kind.Should().Be(HubErrorKind.Integrity);
        error.Message.Should().Contain($"more than the {Checkpoint.Length} bytes it announced");
        Directory.GetFiles(Path.Combine(RepoFolder(), "blobs")).Should().BeEmpty();
    }

    [Fact]
    public async Task Missing_repositories_revisions_and_files_are_one_line_errors_naming_them()
    {
        FileRepo();
        using var hub = Client();
        async Task<HubException> Fails(string reference) =>
            (await hub.Invoking(h => h.DownloadModelAsync(HubReference.Parse(reference))).Should().ThrowAsync<HubException>()).Which;

        var repo = await Fails("hf://org/none/model.pth");
        repo.Kind.Should().Be(HubErrorKind.NotFound);
        repo.Message.Should().Be($"repository org/none not found at {server.Endpoint} (if it is private, set HF_TOKEN).");
        (await Fails("hf://org/tiny@v9/model.pth")).Message.Should().Be("revision 'v9' not found in org/tiny.");
        (await Fails("hf://org/tiny/nope.pth")).Message.Should().Be("file 'nope.pth' not found in org/tiny at revision 'main'.");
        (await Fails("hf://org/tiny")).Message.Should().Be("file 'config.json' not found in org/tiny at revision 'main'.");
    }

    [Fact]
    public async Task A_gated_repository_asks_for_HF_TOKEN_and_the_token_goes_to_the_endpoint_only()
    {
        const string secret = "hf_secretsecretsecret";
        var repo = new HubTestServer.Repo { Id = "org/gated", RequiredToken = secret };
        server.BlobOrigin = server.Endpoint.Replace("127.0.0.1", "localhost"); // storage on another origin, as the Hub's CDN
        repo.Files["model.pth"] = Checkpoint;
        server.Add(repo);
        var reference = HubReference.Parse("hf://org/gated/model.pth");

        using (var anonymous = Client())
        {
            var error = (await anonymous.Invoking(h => h.DownloadFileAsync(reference)).Should().ThrowAsync<HubException>()).Which;
            error.Kind.Should().Be(HubErrorKind.Forbidden);
            error.Message.Should().Contain("org/gated is gated").And.Contain("set HF_TOKEN");
        }
        using (var wrong = Client(Options(token: "hf_wrongwrongwrong")))
        {
            var error = (await wrong.Invoking(h => h.DownloadFileAsync(reference)).Should().ThrowAsync<HubException>()).Which;
            error.Message.Should().Contain("has no access").And.NotContain("hf_wrong");
        }
        using (var right = Client(Options(token: secret)))
            File.ReadAllBytes(await right.DownloadFileAsync(reference)).Should().Equal(Checkpoint);
        server.Requests.Where(r => r.Path.StartsWith("/blobs/")).Should().OnlyContain(r => r.Authorization == null,
            "the token is not sent to the storage a download is redirected to");
        server.Requests.Last(r => r.Method == "HEAD").Authorization.Should().Be($"Bearer {secret}");
        Options(token: secret).ToString().Should().NotContain(secret).And.Contain("(hidden)");
    }

    [Fact]
    public async Task A_renamed_repository_is_followed_by_its_relative_redirect()
    {
        var repo = FileRepo("org/new-name");
        server.Add(new HubTestServer.Repo { Id = "org/old-name", RenamedTo = "org/new-name" });
        using var hub = Client();
        string path = await hub.DownloadFileAsync(HubReference.Parse("hf://org/old-name/model.pth"));
        File.ReadAllBytes(path).Should().Equal(Checkpoint);
        path.Should().StartWith(Path.Combine(RepoFolder("org/old-name"), "snapshots", repo.Commit), "cached under the name asked for, as huggingface_hub does");
    }

    /// <summary>The cache exactly as huggingface_hub leaves it: blobs by ETag, refs/main, relative links.</summary>
    private string PythonLayoutCache(string commit)
    {
        string repo = RepoFolder("org/cached");
        string sha = HubTestServer.Sha256(Checkpoint);
        Directory.CreateDirectory(Path.Combine(repo, "blobs"));
        Directory.CreateDirectory(Path.Combine(repo, "refs"));
        Directory.CreateDirectory(Path.Combine(repo, "snapshots", commit));
        File.WriteAllBytes(Path.Combine(repo, "blobs", sha), Checkpoint);
        File.WriteAllText(Path.Combine(repo, "refs", "main"), commit);
        File.CreateSymbolicLink(Path.Combine(repo, "snapshots", commit, "model.pth"), $"../../blobs/{sha}");
        return Path.Combine(repo, "snapshots", commit, "model.pth");
    }

    [Fact]
    public async Task A_cache_laid_out_by_huggingface_hub_is_read_with_no_request()
    {
        var repo = new HubTestServer.Repo { Id = "org/cached" };
        repo.Files["model.pth"] = Checkpoint;
        server.Add(repo);
        string expected = PythonLayoutCache(repo.Commit);

        using (var offline = Client(Options() with { Offline = true }))
            (await offline.DownloadFileAsync(HubReference.Parse("hf://org/cached/model.pth"))).Should().Be(expected);
        using (var online = Client())
            (await online.DownloadFileAsync(HubReference.Parse($"hf://org/cached@{repo.Commit}/model.pth"))).Should().Be(expected);
        server.Requests.Should().BeEmpty("offline, or a commit already in the cache, needs no request");

        using (var online = Client())
            (await online.DownloadFileAsync(HubReference.Parse("hf://org/cached/model.pth"))).Should().Be(expected);
        server.Requests.Should().ContainSingle().Which.Method.Should().Be("HEAD", "a branch is checked, the blob is not fetched again");

        using var ckpt = CheckpointLoader.Read("hf://org/cached/model.pth", new CheckpointReadOptions { Hub = Options() with { Offline = true } });
        ckpt.Config.EncoderNumLayers.Should().BeGreaterThan(0);
    }

    [Fact]
    public async Task Offline_without_the_file_names_what_is_missing()
    {
        using var hub = Client(Options() with { Offline = true });
        var error = (await hub.Invoking(h => h.DownloadModelAsync(HubReference.Parse("hf://org/cached/model.pth"))).Should().ThrowAsync<HubException>()).Which;
        error.Kind.Should().Be(HubErrorKind.Offline);
        error.Message.Should().Contain("HF_HUB_OFFLINE is set").And.Contain("hf://org/cached/model.pth").And.Contain("refs/main");

        string commit = HubTestServer.Repo.RandomCommit();
        PythonLayoutCache(commit);
        error = (await hub.Invoking(h => h.DownloadModelAsync(HubReference.Parse("hf://org/cached/other.pth"))).Should().ThrowAsync<HubException>()).Which;
        error.Message.Should().Contain($"snapshots/{commit}/other.pth");
        server.Requests.Should().BeEmpty();
    }

    [Fact]
    public async Task An_unreachable_hub_falls_back_to_the_cached_copy()
    {
        string commit = HubTestServer.Repo.RandomCommit();
        string expected = PythonLayoutCache(commit);
        int closedPort;
        using (var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
        {
            probe.Start();
            closedPort = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        }
        using var hub = Client(Options() with { Endpoint = $"http://127.0.0.1:{closedPort}" });
        (await hub.DownloadFileAsync(HubReference.Parse("hf://org/cached/model.pth"))).Should().Be(expected);
        await hub.Invoking(h => h.DownloadFileAsync(HubReference.Parse("hf://org/cached/missing.pth")))
            .Should().ThrowAsync<HubException>().Where(e => e.Kind == HubErrorKind.Network && e.Message.Contains("HF_HUB_OFFLINE"));
    }

    [Fact]
    public async Task Two_clients_fetching_the_same_file_download_it_once()
    {
        FileRepo();
        server.HoldBlobsUntilHeads = 2; // the first download waits until both have asked for the file
        server.TrickleBytes = 65536;
        using var a = Client();
        using var b = Client();
        var reference = HubReference.Parse("hf://org/tiny/model.pth");
        var both = await Task.WhenAll(a.DownloadFileAsync(reference), b.DownloadFileAsync(reference)).WaitAsync(TimeSpan.FromSeconds(120));
        both[0].Should().Be(both[1]);
        File.ReadAllBytes(both[0]).Should().Equal(Checkpoint);
        server.Count("HEAD", "/resolve/").Should().Be(2);
        server.Count("GET", "/blobs/").Should().Be(1, "the second waits on the lock and finds the blob");
    }

    [Fact]
    public void SpeechEncoder_loads_the_same_string_and_gives_the_local_file_s_features()
    {
        FileRepo();
        string wav = TestFiles.DpHubertCase("hubert_post_ln", "input.wav");
        using var fromHub = SpeechEncoder.Load("hf://org/tiny/model.pth",
            new SpeechEncoderOptions { Checkpoint = new CheckpointReadOptions { Hub = Options() } });
        using var local = SpeechEncoder.Load(TestFiles.DpHubertCase("hubert_post_ln", "checkpoint.pth"));
        fromHub.ExtractFile(wav).Data.Should().Equal(local.ExtractFile(wav).Data);
        fromHub.Report.Source.Should().StartWith(cache);
        using var byParts = SpeechEncoder.Load(new HubReference("org/tiny", "main", "model.pth"),
            new SpeechEncoderOptions { Checkpoint = new CheckpointReadOptions { Hub = Options() } });
        byParts.ExtractFile(wav).Data.Should().Equal(local.ExtractFile(wav).Data);
    }

    [Fact]
    public void A_client_that_follows_redirects_itself_is_refused()
    {
        FileRepo();
        using var http = new HttpClient(); // follows redirects
        using var hub = Client(Options() with { HttpClient = http });
        hub.Invoking(h => h.DownloadModel(HubReference.Parse("hf://org/tiny/model.pth")))
            .Should().Throw<ArgumentException>().WithMessage("*AllowAutoRedirect*");
    }
}
