using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using DpHubert.Audio;
using DpHubert.Checkpoints;
using DpHubert.PyTorch;
using DpHubert.Tests.Support;
using FluentAssertions;
using TorchSharp;
using static TorchSharp.torch;

namespace DpHubert.Tests.Checkpoints;

/// <summary>Shared helpers: fixture paths from the reference manifest, running a model, comparing outputs.</summary>
internal static class FormatTestSupport
{
    public static string Reference(params string[] parts) => TestFiles.Fixture(new[] { "reference" }.Concat(parts).ToArray());

    /// <summary>The path of a file of a reference case by its manifest role (input_wav, single_output ...).</summary>
    public static string CaseFile(string caseName, string role)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Reference("manifest.json")));
        var c = doc.RootElement.GetProperty("cases").EnumerateArray().First(x => x.GetProperty("name").GetString() == caseName);
        return Reference(c.GetProperty("files").GetProperty(role).GetString()!.Split('/'));
    }

    /// <summary>Copies a folder's files (except <paramref name="skip"/>) into a fresh temp folder.</summary>
    public static string CopyFolder(string source, params string[] skip)
    {
        var dir = TestFiles.TempDir();
        foreach (var f in Directory.GetFiles(source))
            if (!skip.Contains(Path.GetFileName(f)))
                File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
        return dir;
    }

    /// <summary>Loads a safetensors file as an ordered list of (name, tensor) the caller owns.</summary>
    public static List<KeyValuePair<string, Tensor>> LoadSafeTensors(string path)
    {
        using var st = SafeTensors.Load(path);
        return st.Keys.ToList().Select(k => new KeyValuePair<string, Tensor>(k, st.Detach(k))).ToList();
    }

    public static void Dispose(IEnumerable<KeyValuePair<string, Tensor>> items)
    {
        foreach (var kv in items) kv.Value.Dispose();
    }

    /// <summary>Rewrites config.json of an HF folder with <paramref name="edit"/> applied to its JSON object.</summary>
    public static void EditJson(string path, Action<Dictionary<string, JsonElement>> edit)
    {
        var d = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(File.ReadAllText(path))!;
        edit(d);
        File.WriteAllText(path, JsonSerializer.Serialize(d));
    }

    public static JsonElement Json(object value) => JsonSerializer.SerializeToElement(value);
}
