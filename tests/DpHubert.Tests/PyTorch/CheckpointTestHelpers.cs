using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using DpHubert.Checkpoints;
using DpHubert.PyTorch;
using FluentAssertions;
using TorchSharp;
using static TorchSharp.torch;

namespace DpHubert.Tests.PyTorch;

/// <summary>Paths and small helpers shared by the checkpoint tests.</summary>
internal static class CheckpointTestHelpers
{
    public static string Fixture(params string[] parts) => DpHubert.Tests.Support.TestFiles.Fixture(parts);

    public static string RepoRoot() => DpHubert.Tests.Support.TestFiles.RepoRoot();

    public static double[] Values(Tensor t)
    {
        using var d = t.to_type(ScalarType.Float64).contiguous();
        return d.data<double>().ToArray();
    }

    /// <summary>Same shape and equal elements (dtypes checked separately).</summary>
    public static bool SameValues(Tensor a, Tensor b)
    {
        if (!a.shape.SequenceEqual(b.shape))
            return false;
        using var eq = a.eq(b);
        using var all = eq.all();
        return all.item<bool>();
    }

    public static double Sum(Tensor t)
    {
        using var d = t.to_type(ScalarType.Float64);
        using var s = d.sum();
        return s.item<double>();
    }

    /// <summary>Disposes every tensor inside a loaded value graph.</summary>
    public static void DisposeTensors(object? value, HashSet<object>? seen = null)
    {
        seen ??= new HashSet<object>(ReferenceEqualityComparer.Instance);
        if (value is null || !seen.Add(value))
            return;
        switch (value)
        {
            case Tensor t: t.Dispose(); break;
            case PyDict d: foreach (var kv in d) DisposeTensors(kv.Value, seen); break;
            case List<object?> l: foreach (var v in l) DisposeTensors(v, seen); break;
            case object?[] a: foreach (var v in a) DisposeTensors(v, seen); break;
        }
    }

    public static T As<T>(this object? value)
    {
        value.Should().BeOfType<T>();
        return (T)value!;
    }

    public static string TempPath(string name)
    {
        var dir = Path.Combine(Path.GetTempPath(), "dphubert-checkpoint-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return Path.Combine(dir, name);
    }
}
