using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using DpHubert.Audio;
using DpHubert.Tests.Support;
using FluentAssertions;
using Xunit;
using Xunit.Abstractions;

namespace DpHubert.Tests.Cli;

/// <summary>tools/corpus/run_local_shards.sh as CI runs it: N shard processes at once on a small corpus, the check
/// and merge of their manifests, a problem found by the check, and a rerun that repairs it.</summary>
public class LocalShardsScriptTests(ITestOutputHelper output)
{
    private (int Exit, string Out, string Err) Bash(params string[] args) => Run("bash", args);

    private (int Exit, string Out, string Err) Run(string program, string[] args)
    {
        var psi = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["DPHUBERT"] = $"dotnet {ConsoleRunner.DllPath}";
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', args)} did not finish in 5 minutes");
        }
        output.WriteLine($"{program} {string.Join(' ', args)}: exit {p.ExitCode}\n{stdout.Result}\n{stderr.Result}");
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    [PythonFact(torchNeeded: false)]
    [Trait("Category", "Python")]
    public void Two_local_shards_cover_the_corpus_and_a_rerun_repairs_a_damaged_output()
    {
        File.Exists("/usr/share/sounds/alsa/Front_Center.wav").Should().BeTrue("alsa-utils provides the corpus (tools/setup.sh installs it)");
        var dir = TestFiles.TempDir();
        string inDir = Path.Combine(dir, "in"), outDir = Path.Combine(dir, "out");
        Directory.CreateDirectory(Path.Combine(inDir, "alsa"));
        foreach (var f in Directory.GetFiles("/usr/share/sounds/alsa", "*.wav").Order().Take(4))
            File.Copy(f, Path.Combine(inDir, "alsa", Path.GetFileName(f)));
        File.Copy(TestFiles.DpHubertCase("hubert_post_ln", "input.wav"), Path.Combine(inDir, "fixture.wav"));
        string script = Path.Combine(TestFiles.RepoRoot(), "tools", "corpus", "run_local_shards.sh");
        string checkpoint = TestFiles.DpHubertCase("hubert_post_ln", "checkpoint.pth");

        var r = Bash(script, "-n", "2", "-i", inDir, "-o", outDir, "-c", checkpoint);
        r.Exit.Should().Be(0);
        r.Out.Should().Contain("verify: 5 outputs in 2 shard(s), every input once");
        File.ReadAllLines(Path.Combine(outDir, "manifest.jsonl")).Should().HaveCount(5);

        string damaged = Path.Combine(outDir, "alsa", Path.ChangeExtension(Path.GetFileName(Directory.GetFiles(Path.Combine(inDir, "alsa")).Order().First()), ".npy"));
        File.WriteAllBytes(damaged, File.ReadAllBytes(damaged)[..^8]);
        var manifests = Enumerable.Range(0, 2).Select(k => Path.Combine(outDir, $"manifest-{k}.jsonl")).ToArray();
        var check = Run(PythonScript.Python, new[] { Path.Combine(TestFiles.RepoRoot(), "tools", "corpus", "verify_manifests.py"),
            "--input", inDir, "--output", outDir, "--shards", "2" }.Concat(manifests).ToArray());
        check.Exit.Should().Be(1, "a cut output no longer matches its line");
        check.Err.Should().Contain(damaged);

        r = Bash(script, "-n", "2", "-i", inDir, "-o", outDir, "-c", checkpoint);
        r.Exit.Should().Be(0, "the rerun extracts the cut output again (--skip-existing) and fixes its line");
        r.Out.Should().Contain("1 written, ").And.Contain("verify: 5 outputs");
        Bash(script, "-n", "0", "-i", inDir, "-o", outDir, "-c", checkpoint).Exit.Should().Be(2);
    }
}
