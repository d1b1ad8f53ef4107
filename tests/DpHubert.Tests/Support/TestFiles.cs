using System;
using System.IO;
using System.Linq;
using DpHubert.IO;
using TorchSharp;
using static TorchSharp.torch;

namespace DpHubert.Tests.Support;

/// <summary>Locates the fixtures copied next to the test assembly and loads them as tensors.</summary>
internal static class TestFiles
{
    public static string Fixture(params string[] parts) =>
        Path.Combine(new[] { AppContext.BaseDirectory, "Fixtures" }.Concat(parts).ToArray());

    public static string DpHubertCase(string name, params string[] parts) =>
        Fixture(new[] { "dphubert", name }.Concat(parts).ToArray());

    /// <summary>A case's entry in Fixtures/dphubert/cases.json (config, parameter counts, shapes, prune results).</summary>
    public static System.Text.Json.JsonElement CaseInfo(string name)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Fixture("dphubert", "cases.json")));
        return doc.RootElement.GetProperty("cases").EnumerateArray().First(c => c.GetProperty("name").GetString() == name).Clone();
    }

    public static Tensor LoadFloat(string path)
    {
        var a = Npy.Read(path);
        return a.Data is not null ? tensor(a.Data).reshape(a.Shape) : tensor(a.IntData!).reshape(a.Shape).to(float32);
    }

    public static long[] LoadLongs(string path)
    {
        var a = Npy.Read(path);
        return a.IntData ?? a.Data!.Select(x => (long)x).ToArray();
    }

    /// <summary>The repository root: the folder above the test output that holds DpHubert.sln.</summary>
    public static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "DpHubert.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("DpHubert.sln not found above the test output");
    }

    public static string TempDir()
    {
        var dir = Path.Combine(Path.GetTempPath(), "dphubert-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }
}
