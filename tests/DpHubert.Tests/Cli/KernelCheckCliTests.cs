using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using DpHubert.Tests.Support;
using FluentAssertions;
using Xunit;

namespace DpHubert.Tests.Cli;

/// <summary>The kernel check as the console shows it: a section of <c>info</c> (text and JSON), a line of
/// <c>extract --verbose</c>, and the environment switches, each in its own process.</summary>
public class KernelCheckCliTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);
    private static string Tiny => TestFiles.DpHubertCase("hubert_post_ln", "checkpoint.pth");

    [Fact]
    public void Info_has_a_kernel_check_section_in_text_and_json()
    {
        var r = ConsoleRunner.Run("info", "--checkpoint", Tiny);
        r.ExitCode.Should().Be(0, r.ToString());
        r.StdOut.Should().MatchRegex(@"kernel check: \d+ configurations \(3 conv1d, (\d+ conv_pair, )?\d+ linear, 1 pos_conv, 1 attention\) in \d+ ms; all right; oneDNN on")
            .And.MatchRegex(@"conv1d 1->32 k10 s5 group_norm float32 x1 \[gemm(/onednn)?\] error")
            .And.MatchRegex(@"; GEMM backend: (blas|onednn) \(auto, ((measured|recorded)[^:]*: oneDNN \d+\.\d\dx BLAS's time|oneDNN unavailable)");
        r = ConsoleRunner.Run("info", "--checkpoint", Tiny, "--json");
        r.ExitCode.Should().Be(0, r.ToString());
        using var doc = System.Text.Json.JsonDocument.Parse(r.StdOut);
        var check = doc.RootElement.GetProperty("kernel_check");
        check.GetProperty("onednn_enabled").GetBoolean().Should().BeTrue();
        var entries = check.GetProperty("entries").EnumerateArray().ToArray();
        entries.Should().NotBeEmpty();
        entries.Should().OnlyContain(e => e.GetProperty("error").GetDouble() <= e.GetProperty("tolerance").GetDouble()
            && e.GetProperty("routed_to").ValueKind == System.Text.Json.JsonValueKind.Null);
        var gemm = check.GetProperty("gemm_backend");
        gemm.GetProperty("requested").GetString().Should().Be("auto");
        gemm.GetProperty("backend").GetString().Should().BeOneOf("blas", "onednn");
        gemm.GetProperty("onednn_needs_at_most").GetDouble().Should().Be(LinearKernels.AutoMaxTimeRatio);
        if (gemm.GetProperty("reason").GetString() is { } reason && (reason.StartsWith("measured", StringComparison.Ordinal) || reason.StartsWith("recorded", StringComparison.Ordinal)))
            gemm.GetProperty("onednn_over_blas").GetDouble().Should().BeApproximately(
                gemm.GetProperty("onednn_ms_per_audio_second").GetDouble() / gemm.GetProperty("blas_ms_per_audio_second").GetDouble(), 1e-9);
    }

    [Fact]
    public void The_environment_forces_the_gemm_backend_and_a_bad_value_is_a_usage_error_naming_it()
    {
        var r = ConsoleRunner.RunWithEnvironment(new Dictionary<string, string> { ["DPHUBERT_LINEAR"] = "blas" }, Timeout, "info", "--checkpoint", Tiny);
        r.ExitCode.Should().Be(0, r.ToString());
        r.StdOut.Should().Contain("GEMM backend: blas (blas, forced)").And.Contain("[gemm] error").And.NotContain("onednn]");
        r = ConsoleRunner.RunWithEnvironment(new Dictionary<string, string> { ["DPHUBERT_LINEAR"] = "oneDNN" }, Timeout, "info", "--checkpoint", Tiny);
        r.ExitCode.Should().Be(0, r.ToString());
        r.StdOut.Should().MatchRegex(@"GEMM backend: onednn \(onednn, forced\)|GEMM backend: blas \(onednn, oneDNN unavailable\)");
        if (r.StdOut.Contains("GEMM backend: onednn"))
            r.StdOut.Should().Contain("[gemm/onednn] error").And.Contain("[onednn] error").And.NotContain("[gemm] error");
        r = ConsoleRunner.RunWithEnvironment(new Dictionary<string, string> { ["DPHUBERT_LINEAR"] = "fast" }, Timeout, "info", "--checkpoint", Tiny);
        r.ExitCode.Should().Be(2, r.ToString());
        r.StdErr.Should().Contain("error: DPHUBERT_LINEAR=fast is not a valid setting: use 'auto', 'blas' or 'onednn'");
    }

    [Fact]
    public void The_environment_turns_onednn_or_the_check_off_and_a_bad_value_is_a_usage_error()
    {
        var r = ConsoleRunner.RunWithEnvironment(new Dictionary<string, string> { ["DPHUBERT_ONEDNN"] = "off" }, Timeout, "info", "--checkpoint", Tiny);
        r.ExitCode.Should().Be(0, r.ToString());
        r.StdOut.Should().Contain("all right; oneDNN off", "DPHUBERT_ONEDNN=off turns oneDNN off before the first model runs");
        r = ConsoleRunner.RunWithEnvironment(new Dictionary<string, string> { ["DPHUBERT_KERNEL_CHECK"] = "off" }, Timeout, "info", "--checkpoint", Tiny);
        r.ExitCode.Should().Be(0, r.ToString());
        r.StdOut.Should().Contain("kernel check: skipped (turned off); oneDNN on");
        r = ConsoleRunner.RunWithEnvironment(new Dictionary<string, string> { ["DPHUBERT_ONEDNN"] = "sometimes" }, Timeout, "info", "--checkpoint", Tiny);
        r.ExitCode.Should().Be(2, r.ToString());
        r.StdErr.Should().Contain("error: DPHUBERT_ONEDNN=sometimes is not a valid setting");
    }

    [Fact]
    public void Extract_verbose_prints_the_kernel_check_line()
    {
        string output = Path.Combine(TestFiles.TempDir(), "out.npy");
        var r = ConsoleRunner.Run("extract", "--checkpoint", Tiny, "--input", TestFiles.DpHubertCase("hubert_post_ln", "input.wav"),
            "--output", output, "--verbose");
        r.ExitCode.Should().Be(0, r.ToString());
        r.StdErr.Should().MatchRegex(@"kernel check: \d+ configurations .* in \d+ ms; all right; oneDNN on; GEMM backend: (blas|onednn) \(auto, ");
        File.Exists(output).Should().BeTrue();
    }

    [Fact]
    public void Auto_records_its_measurement_per_machine_and_later_processes_take_the_same_backend_without_timing()
    {
        string cache = TestFiles.TempDir();
        var env = new Dictionary<string, string> { ["XDG_CACHE_HOME"] = cache, ["DPHUBERT_LINEAR"] = "auto" };
        var first = ConsoleRunner.RunWithEnvironment(env, Timeout, "info", "--checkpoint", Tiny, "--json");
        first.ExitCode.Should().Be(0, first.ToString());
        var firstGemm = GemmOf(first.StdOut);
        if (firstGemm.Reason == "oneDNN unavailable") return; // nothing is measured where oneDNN cannot run products
        firstGemm.Reason.Should().StartWith("measured, recorded in " + Path.Combine(cache, "dphubert", "gemm-backend"));
        var records = Directory.GetFiles(Path.Combine(cache, "dphubert", "gemm-backend"), "*.txt");
        records.Should().ContainSingle();
        File.ReadAllText(records[0]).Should().Contain("blas_ms=").And.Contain("onednn_ms=").And.Contain("# threads ");

        var second = ConsoleRunner.RunWithEnvironment(env, Timeout, "info", "--checkpoint", Tiny, "--json");
        second.ExitCode.Should().Be(0, second.ToString());
        var secondGemm = GemmOf(second.StdOut);
        secondGemm.Reason.Should().Be("recorded in " + records[0]);
        secondGemm.Backend.Should().Be(firstGemm.Backend, "every process on one machine takes the recorded choice");
        secondGemm.Ratio.Should().Be(firstGemm.Ratio);

        // Another oneDNN level is another measurement (the ratio depends on it).
        var other = ConsoleRunner.RunWithEnvironment(new Dictionary<string, string>(env) { ["ONEDNN_MAX_CPU_ISA"] = "AVX2" }, Timeout, "info", "--checkpoint", Tiny, "--json");
        other.ExitCode.Should().Be(0, other.ToString());
        GemmOf(other.StdOut).Reason.Should().StartWith("measured, recorded in ");
        Directory.GetFiles(Path.Combine(cache, "dphubert", "gemm-backend"), "*.txt").Should().HaveCount(2);

        // A damaged record is measured again and rewritten, not trusted.
        File.WriteAllText(records[0], "blas_ms=garbage\n");
        var repaired = ConsoleRunner.RunWithEnvironment(env, Timeout, "info", "--checkpoint", Tiny, "--json");
        repaired.ExitCode.Should().Be(0, repaired.ToString());
        GemmOf(repaired.StdOut).Reason.Should().Be("measured, recorded in " + records[0]);
        File.ReadAllText(records[0]).Should().Contain("onednn_ms=");
    }

    [Fact]
    public void Auto_measures_for_itself_where_the_cache_folder_cannot_be_written()
    {
        string blocker = Path.Combine(TestFiles.TempDir(), "not-a-folder");
        File.WriteAllText(blocker, "a file where the cache folder would be");
        var env = new Dictionary<string, string> { ["XDG_CACHE_HOME"] = blocker, ["DPHUBERT_LINEAR"] = "auto" };
        var r = ConsoleRunner.RunWithEnvironment(env, Timeout, "info", "--checkpoint", Tiny, "--json");
        r.ExitCode.Should().Be(0, r.ToString());
        GemmOf(r.StdOut).Reason.Should().BeOneOf("measured", "oneDNN unavailable");
    }

    private static (string Reason, string Backend, double? Ratio) GemmOf(string json)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(json);
        var gemm = doc.RootElement.GetProperty("kernel_check").GetProperty("gemm_backend");
        double? ratio = gemm.TryGetProperty("onednn_over_blas", out var v) && v.ValueKind == System.Text.Json.JsonValueKind.Number ? v.GetDouble() : null;
        return (gemm.GetProperty("reason").GetString()!, gemm.GetProperty("backend").GetString()!, ratio);
    }
}
