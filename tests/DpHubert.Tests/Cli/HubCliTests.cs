using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Threading.Tasks;
using DpHubert.IO;
using DpHubert.Tests.Checkpoints;
using DpHubert.Tests.Hub;
using DpHubert.Tests.Support;
using FluentAssertions;
using Xunit;

namespace DpHubert.Tests.Cli;

/// <summary>The console against a loopback Hub: hf:// checkpoints, --model short names, HF_* variables.</summary>
public sealed class HubCliTests : IDisposable
{
    private readonly HubTestServer server = new();
    private readonly string dir = TestFiles.TempDir();
    private static readonly byte[] Checkpoint = File.ReadAllBytes(TestFiles.DpHubertCase("hubert_post_ln", "checkpoint.pth"));
    private static readonly string Wav = TestFiles.DpHubertCase("hubert_post_ln", "input.wav");
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(180);

    public void Dispose()
    {
        server.Dispose();
        try
        {
            Directory.Delete(dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private Dictionary<string, string> Env(bool offline = false, string token = "") => new()
    {
        ["HF_ENDPOINT"] = server.Endpoint,
        ["HF_HUB_CACHE"] = Path.Combine(dir, "cache"),
        ["HF_HOME"] = Path.Combine(dir, "home"), // no token file from the machine running the tests
        ["HF_HUB_OFFLINE"] = offline ? "1" : "",
        ["HF_TOKEN"] = token,
    };

    private HubTestServer.Repo Serve(string id, string file)
    {
        var repo = new HubTestServer.Repo { Id = id };
        repo.Files[file] = Checkpoint;
        return server.Add(repo);
    }

    private ConsoleRunner.Result Run(Dictionary<string, string> env, params string[] args) => ConsoleRunner.RunWithEnvironment(env, Timeout, args);

    [Fact]
    public void Extract_from_an_hf_reference_equals_the_local_file_and_runs_again_offline_with_no_request()
    {
        Serve("org/tiny", "model.pth");
        string local = Path.Combine(dir, "local.npy"), hub = Path.Combine(dir, "hub.npy"), offline = Path.Combine(dir, "offline.npy");
        var r = Run(Env(), "extract", "--checkpoint", TestFiles.DpHubertCase("hubert_post_ln", "checkpoint.pth"), "--input", Wav, "--output", local);
        r.ExitCode.Should().Be(0, r.ToString());
        r = Run(Env(), "extract", "--checkpoint", "hf://org/tiny/model.pth", "--input", Wav, "--output", hub);
        r.ExitCode.Should().Be(0, r.ToString());
        r.StdErr.Should().Contain("downloading org/tiny/model.pth").And.Contain("downloaded org/tiny/model.pth");
        Npy.Read(hub).Data.Should().Equal(Npy.Read(local).Data);
        int requests = server.Requests.Count;

        r = Run(Env(offline: true), "extract", "--checkpoint", "hf://org/tiny/model.pth", "--input", Wav, "--output", offline);
        r.ExitCode.Should().Be(0, r.ToString());
        r.StdErr.Should().NotContain("download");
        Npy.Read(offline).Data.Should().Equal(Npy.Read(local).Data);
        server.Requests.Count.Should().Be(requests, "HF_HUB_OFFLINE makes no request");
    }

    [Fact]
    public async Task On_a_terminal_the_download_shows_a_progress_bar_with_bytes_rate_and_time_left()
    {
        // util-linux's script (essential in Debian) gives the console a terminal.
        Serve("org/tiny", "model.pth");
        server.TrickleBytes = 16384;
        server.TricklePause = TimeSpan.FromMilliseconds(50); // about 1 s for the file, so the bar is drawn several times
        string command = string.Join(' ', new[] { "dotnet", ConsoleRunner.DllPath, "info", "--checkpoint", "hf://org/tiny/model.pth" }.Select(Quote));
        var psi = new System.Diagnostics.ProcessStartInfo("/usr/bin/script") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "-qec", command, "/dev/null" }) psi.ArgumentList.Add(a);
        foreach (var (k, v) in Env()) psi.Environment[k] = v;
        psi.Environment["COLUMNS"] = "160";
        using var p = System.Diagnostics.Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        using (var limit = new System.Threading.CancellationTokenSource(Timeout))
            await p.WaitForExitAsync(limit.Token);
        string screen = System.Text.RegularExpressions.Regex.Replace(await stdout, @"\x1b(\[[0-9;?]*[A-Za-z]|[=>])", ""); // colours and cursor moves
        p.ExitCode.Should().Be(0, screen);
        screen.Should().Contain("org/tiny/model.pth").And.MatchRegex(@"[0-9.]+/[0-9.]+ [KMG]i?B", "bytes done of the total")
            .And.MatchRegex(@"[0-9.]+ [KMG]i?B/s", "the rate").And.MatchRegex(@"\d\d:\d\d:\d\d", "the time left").And.Contain("100%");
    }

    private static string Quote(string s) => "'" + s.Replace("'", "'\\''") + "'";

    [Fact]
    public void A_short_name_fetches_its_row_from_the_endpoint()
    {
        Serve("pyf98/DPHuBERT", "DPHuBERT-sp0.75.pth");
        string output = Path.Combine(dir, "speech.npy");
        var r = Run(Env(), "extract", "--model", "dphubert-sp0.75", "--input", Wav, "--output", output, "--quiet");
        r.ExitCode.Should().Be(0, r.ToString());
        r.StdErr.Should().BeEmpty("--quiet shows no download progress");
        Npy.Read(output).Shape.Should().HaveCount(2);
        server.Requests.First().Path.Should().Be("/pyf98/DPHuBERT/resolve/main/DPHuBERT-sp0.75.pth");

        // Every command that loads a checkpoint takes the short name (now from the cache).
        string streamed = Path.Combine(dir, "streamed.npy");
        r = Run(Env(), "stream", "--model", "dphubert-sp0.75", "--input", Wav, "--output", streamed, "--block", "0.1", "--context", "0.5", "--quiet");
        r.ExitCode.Should().Be(0, r.ToString());
        Npy.Read(streamed).Shape[1].Should().Be(Npy.Read(output).Shape[1]);
        r = Run(Env(), "convert", "--model", "dphubert-sp0.75", "--output", Path.Combine(dir, "converted.safetensors"));
        r.ExitCode.Should().Be(0, r.ToString());
        r.StdOut.Should().StartWith("hf://pyf98/DPHuBERT/DPHuBERT-sp0.75.pth (");
        server.Count("GET", "/").Should().Be(1, "one download, then the cache");

        r = Run(Env(), "info", "--model", "dphubert-sp0.75", "--checkpoint", "x.pth");
        r.ExitCode.Should().Be(2);
        r.StdErr.Should().Contain("not both");
        r = Run(Env(), "info", "--model", "no-such-model");
        r.ExitCode.Should().Be(2);
        r.StdErr.Trim().Should().StartWith("error: --model 'no-such-model' is not a known model; known: dphubert-sp0.75");
    }

    [LinuxFact]
    public void Ctrl_C_during_a_download_exits_130_and_the_next_run_resumes_the_partial_file()
    {
        Serve("org/tiny", "model.pth");
        server.TrickleBytes = 8192;
        server.TricklePause = TimeSpan.FromMilliseconds(100); // about 4.5 s for the file
        string incomplete = Path.Combine(dir, "cache", "models--org--tiny", "blobs", HubTestServer.Sha256(Checkpoint) + ".incomplete");
        using var p = ConsoleRunner.Start(Env(), "info", "--checkpoint", "hf://org/tiny/model.pth");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        var wait = System.Diagnostics.Stopwatch.StartNew();
        while (!(File.Exists(incomplete) && new FileInfo(incomplete).Length > 0) && wait.Elapsed < Timeout && !p.HasExited)
            System.Threading.Thread.Sleep(20);
        p.HasExited.Should().BeFalse("the trickled download takes seconds");
        using (var kill = System.Diagnostics.Process.Start("kill", new[] { "-INT", p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture) })!) kill.WaitForExit();
        bool exited = p.WaitForExit(60_000);
        if (!exited) p.Kill(entireProcessTree: true);
        p.WaitForExit();
        exited.Should().BeTrue("Ctrl+C stops the download");
        p.ExitCode.Should().Be(130, stderr.Result);
        stderr.Result.Should().Contain("cancelled (a partial download is kept; the next run resumes it).");
        long kept = new FileInfo(incomplete).Length;
        kept.Should().BeInRange(1, Checkpoint.Length - 1);

        server.TrickleBytes = 0;
        var r = Run(Env(), "info", "--checkpoint", "hf://org/tiny/model.pth");
        r.ExitCode.Should().Be(0, r.ToString());
        r.StdErr.Should().Contain(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"resuming at {kept / 1e6:0.0} MB"));
        server.Requests.Last(q => q.Method == "GET").Range.Should().Be($"bytes={kept}-");
    }

    [Theory]
    [InlineData(null, "units_vec768l12")]
    [InlineData("vec256l9", "units_vec256l9")]
    public void A_short_name_brings_its_units_preset_unless_units_are_given(string? units, string expected)
    {
        var repo = new HubTestServer.Repo { Id = "lj1995/VoiceConversionWebUI" };
        repo.Files["hubert_base.pt"] = File.ReadAllBytes(PublishedLayoutTests.File("contentvec_500", "checkpoint"));
        server.Add(repo);
        string output = Path.Combine(dir, "units.npy");
        var args = new List<string> { "extract", "--model", "rvc-hubert-base", "--input", PublishedLayoutTests.File("contentvec_500", "input_wav"), "--output", output };
        if (units is not null) args.AddRange(new[] { "--units", units });
        var r = Run(Env(), args.ToArray());
        r.ExitCode.Should().Be(0, r.ToString());
        var actual = Npy.Read(output);
        using var got = TorchSharp.torch.tensor(actual.Data!).reshape(actual.Shape);
        using var want = TestFiles.LoadFloat(PublishedLayoutTests.File("contentvec_500", expected));
        TensorAssert.Close(got, want, 1e-5, $"--model rvc-hubert-base {(units is null ? "(preset)" : "--units " + units)}");
    }

    [Fact]
    public void Models_lists_every_row()
    {
        var r = ConsoleRunner.Run("models");
        r.ExitCode.Should().Be(0, r.ToString());
        foreach (var name in new[] { "dphubert-sp0.75", "dpwavlm-sp0.75", "hubert-base", "wavlm-base-plus", "rvc-hubert-base" })
            r.StdOut.Should().Contain(name);
        r.StdOut.Should().Contain("hf://lj1995/VoiceConversionWebUI/hubert_base.pt").And.Contain("vec768l12");
        var json = ConsoleRunner.Run("models", "--json");
        using var doc = JsonDocument.Parse(json.StdOut);
        doc.RootElement.GetArrayLength().Should().Be(5);
        doc.RootElement[3].GetProperty("units").GetString().Should().Be("wavlmbase+");
    }

    [Fact]
    public void Offline_without_a_copy_gated_and_missing_are_one_line_errors()
    {
        var r = Run(Env(offline: true), "info", "--checkpoint", "hf://org/tiny/model.pth");
        r.ExitCode.Should().Be(2);
        r.StdErr.Trim().Should().StartWith("error: HF_HUB_OFFLINE is set and hf://org/tiny/model.pth is not in the cache").And.NotContain("\n");

        var gated = new HubTestServer.Repo { Id = "org/gated", RequiredToken = "hf_right" };
        gated.Files["model.pth"] = Checkpoint;
        server.Add(gated);
        r = Run(Env(), "info", "--checkpoint", "hf://org/gated/model.pth");
        r.ExitCode.Should().Be(2);
        r.StdErr.Trim().Should().Be("error: org/gated is gated: accept its conditions on the Hub, then set HF_TOKEN to a token of that account.");
        r = Run(Env(token: "hf_secret_never_printed"), "info", "--checkpoint", "hf://org/gated/model.pth", "--verbose");
        r.ExitCode.Should().Be(2);
        (r.StdOut + r.StdErr).Should().NotContain("hf_secret_never_printed");
        r = Run(Env(token: "hf_right"), "info", "--checkpoint", "hf://org/gated/model.pth");
        r.ExitCode.Should().Be(0, r.ToString());
        r.StdOut.Should().Contain("checkpoint: hf://org/gated/model.pth");

        r = Run(Env(), "info", "--checkpoint", "hf://org/gone/model.pth");
        r.ExitCode.Should().Be(2);
        r.StdErr.Trim().Should().Be($"error: repository org/gone not found at {server.Endpoint} (if it is private, set HF_TOKEN).");
        r = Run(Env(), "info", "--checkpoint", "hf://org/../x");
        r.ExitCode.Should().Be(2);
        r.StdErr.Should().Contain("'..'").And.NotContain("Parameter");
    }

    [Fact]
    public async Task Two_processes_fetching_at_once_download_once_and_both_succeed()
    {
        Serve("org/tiny", "model.pth");
        server.HoldBlobsUntilHeads = 2; // the download starts once both processes have resolved the file
        server.TrickleBytes = 65536;
        var env = Env();
        var runs = Enumerable.Range(0, 2).Select(i => Task.Run(() =>
            Run(env, "extract", "--checkpoint", "hf://org/tiny/model.pth", "--input", Wav, "--output", Path.Combine(dir, $"p{i}.npy"), "--quiet"))).ToArray();
        var results = await Task.WhenAll(runs);
        foreach (var r in results) r.ExitCode.Should().Be(0, r.ToString());
        server.Count("HEAD", "/resolve/").Should().Be(2);
        server.Count("GET", "/blobs/").Should().Be(1, "the second process waits on the lock, then finds the blob");
        Npy.Read(Path.Combine(dir, "p0.npy")).Data.Should().Equal(Npy.Read(Path.Combine(dir, "p1.npy")).Data);
    }
}
