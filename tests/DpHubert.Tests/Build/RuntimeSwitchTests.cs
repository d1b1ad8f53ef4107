using System;
using System.Diagnostics;
using System.IO;
using DpHubert.Tests.Support;
using FluentAssertions;
using Xunit;

namespace DpHubert.Tests.Build;

/// <summary>
/// The MSBuild switch that picks the libtorch runtime: the evaluated PackageReference items of the test project for
/// each value of TorchBackend. CUDA packages are not served here, so this evaluates the project without restoring.
/// </summary>
public class RuntimeSwitchTests
{
    private static string PackageReferences(string project, string? backend)
    {
        var psi = new ProcessStartInfo("dotnet", $"msbuild {project} -getItem:PackageReference" + (backend is null ? "" : $" -p:TorchBackend={backend}"))
        {
            WorkingDirectory = TestFiles.RepoRoot(),
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit(120_000).Should().BeTrue();
        p.ExitCode.Should().Be(0, output + p.StandardError.ReadToEnd());
        return output;
    }

    [Theory]
    [InlineData(null, "TorchSharp-cpu")]
    [InlineData("cuda-linux", "TorchSharp-cuda-linux")]
    [InlineData("cuda-windows", "TorchSharp-cuda-windows")]
    public void Tests_and_samples_reference_the_chosen_runtime(string? backend, string package)
    {
        foreach (var project in new[] { "tests/DpHubert.Tests/DpHubert.Tests.csproj", "samples/DpHubert.FeatureExtraction/DpHubert.FeatureExtraction.csproj" })
        {
            var items = PackageReferences(project, backend);
            items.Should().Contain($"\"Identity\": \"{package}\"");
            foreach (var other in new[] { "TorchSharp-cpu", "TorchSharp-cuda-linux", "TorchSharp-cuda-windows" })
                if (other != package) items.Should().NotContain($"\"Identity\": \"{other}\"");
        }
    }

    [Fact]
    public void The_library_references_TorchSharp_only()
    {
        var items = PackageReferences("src/DpHubert/DpHubert.csproj", "cuda-linux");
        items.Should().Contain("\"Identity\": \"TorchSharp\"").And.NotContain("TorchSharp-cpu").And.NotContain("TorchSharp-cuda");
    }
}
