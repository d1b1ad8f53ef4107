using System.Collections.Generic;
using System.Linq;
using DpHubert.Checkpoints;
using DpHubert.PyTorch;
using FluentAssertions;
using Xunit;

namespace DpHubert.Tests.PyTorch;

public sealed class PyDictTests
{
    [Fact]
    public void Keeps_insertion_order_like_python()
    {
        var d = new PyDict(PyDict.OrderedDict) { ["b"] = 1L, ["a"] = 2L };
        d["b"] = 3L; // replacing keeps the position
        d[new object?[] { 1L, "x" }] = "tuple key";
        d.Keys.Take(2).Should().Equal("b", "a");
        d.Keys.Last().Should().BeEquivalentTo(new object?[] { 1L, "x" }, o => o.WithStrictOrdering());
        d.Values.Should().Equal(3L, 2L, "tuple key");
        d[new object?[] { 1L, "x" }].Should().Be("tuple key"); // tuples compare by content
        d.Count.Should().Be(3);
        d.PythonType.Should().Be("collections.OrderedDict");
        d.TryGetValue("missing", out var v).Should().BeFalse();
        v.Should().BeNull();
        FluentActions.Invoking(() => d["missing"]).Should().Throw<KeyNotFoundException>();
        d.Select(kv => kv.Key).First().Should().Be("b");
        new PyDict().PythonType.Should().Be("builtins.dict");
    }

    [Fact]
    public void DictAt_gives_a_nested_dict_and_null_for_a_missing_key_or_another_kind()
    {
        var inner = new PyDict();
        var d = new PyDict { ["cfg"] = inner, ["n"] = 3L, ["none"] = null };
        d.DictAt("cfg").Should().BeSameAs(inner);
        d.DictAt("n").Should().BeNull();
        d.DictAt("none").Should().BeNull();
        d.DictAt("missing").Should().BeNull();
    }
}
