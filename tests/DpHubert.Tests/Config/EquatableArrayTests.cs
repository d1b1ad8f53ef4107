using System.Collections.Generic;
using System.Linq;
using DpHubert.Config;
using FluentAssertions;
using Xunit;

namespace DpHubert.Tests.Config;

public class EquatableArrayTests
{
    [Fact]
    public void Arrays_with_the_same_elements_are_equal_and_hash_alike()
    {
        EquatableArray<int> a = new[] { 1, 2, 3 };
        EquatableArray<int> b = new List<int> { 1, 2, 3 };
        a.Should().NotBeSameAs(b);
        a.Equals(b).Should().BeTrue();
        (a == b).Should().BeTrue();
        a.GetHashCode().Should().Be(b.GetHashCode());
        a.ToString().Should().Be("[1, 2, 3]");
    }

    [Fact]
    public void Order_length_and_elements_all_count()
    {
        EquatableArray<int> a = new[] { 1, 2, 3 };
        a.Equals(EquatableArray.Create(3, 2, 1)).Should().BeFalse();
        a.Equals(EquatableArray.Create(1, 2)).Should().BeFalse();
        a.Equals(EquatableArray.Create(1, 2, 4)).Should().BeFalse();
        (a != EquatableArray.Create(1, 2)).Should().BeTrue();
        a.Equals(null).Should().BeFalse();
        EquatableArray<int>.Empty.Equals(EquatableArray.Create<int>()).Should().BeTrue();
    }

    [Fact]
    public void It_copies_what_it_is_made_from()
    {
        var source = new[] { 5, 6 };
        EquatableArray<int> a = source;
        source[0] = 7;
        a.Should().Equal(5, 6);
    }

    [Fact]
    public void Nested_arrays_compare_by_value()
    {
        var a = EquatableArray.Create(EquatableArray.Create(0, 1), EquatableArray.Create(2));
        var b = EquatableArray.Create(EquatableArray.Create(0, 1), EquatableArray.Create(2));
        a.Equals(b).Should().BeTrue();
        a.GetHashCode().Should().Be(b.GetHashCode());
        a.Equals(EquatableArray.Create(EquatableArray.Create(0, 1), EquatableArray.Create(3))).Should().BeFalse();
    }
}
