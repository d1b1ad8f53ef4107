using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using DpHubert.Tests.Internal;
using FluentAssertions;
using Xunit;

namespace DpHubert.Tests.IO;

/// <summary>The file formats of <c>IO/</c> sit below everything that knows speech models: no signature, field or call
/// of theirs names a type from the layers above.</summary>
public sealed class LayeringTests
{
    private static readonly string[] Above =
    {
        "DpHubert.Extraction", "DpHubert.Corpus", "DpHubert.Streaming", "DpHubert.Checkpoints", "DpHubert.Modules",
        "DpHubert.Config", "DpHubert.Hub",
    };

    private const BindingFlags Declared = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance |
                                          BindingFlags.Static | BindingFlags.DeclaredOnly;

    /// <summary>Every type a type's members mention: field types, signatures, and the declaring types of what its
    /// methods call.</summary>
    internal static IEnumerable<(string Member, Type Used)> Uses(Type type)
    {
        foreach (var f in type.GetFields(Declared)) yield return ($"{type.Name}.{f.Name}", f.FieldType);
        foreach (var m in type.GetMethods(Declared).Cast<MethodBase>().Concat(type.GetConstructors(Declared)))
        {
            string name = $"{type.Name}.{m.Name}";
            if (m is MethodInfo mi) yield return (name, mi.ReturnType);
            foreach (var p in m.GetParameters()) yield return (name, p.ParameterType);
            foreach (var callee in ScalarSafeTests.Callees(m))
                if (callee.DeclaringType is { } t) yield return (name, t);
        }
    }

    private static bool IsAbove(Type t) =>
        (t.HasElementType ? IsAbove(t.GetElementType()!) : false)
        || (t.IsGenericType && t.GetGenericArguments().Any(IsAbove))
        || Above.Any(ns => t.Namespace == ns || t.Namespace?.StartsWith(ns + ".", StringComparison.Ordinal) == true);

    [Fact]
    public void IO_depends_on_no_layer_above_it()
    {
        var io = typeof(DpHubert.IO.Npy).Assembly.GetTypes().Where(t => t.Namespace == "DpHubert.IO").ToList();
        io.Should().Contain(typeof(DpHubert.IO.FeatureFiles));
        io.SelectMany(Uses).Where(u => IsAbove(u.Used)).Select(u => $"{u.Member} uses {u.Used.FullName}")
            .Should().BeEmpty("file formats are below extraction and corpus runs");
    }

    [Fact]
    public void The_scan_sees_a_use_of_a_layer_above()
    {
        // Guards the scan: the corpus layer does use extraction, and the scan must see it.
        Uses(typeof(DpHubert.Corpus.CorpusExtractor)).Should().Contain(u => u.Used == typeof(DpHubert.Extraction.SpeechEncoder));
    }
}
