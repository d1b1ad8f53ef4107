using Xunit;

namespace DpHubert.Tests.Support;

/// <summary>Tests that compare two builds from the same <c>manual_seed</c>: libtorch's default generator is one per
/// process, so a model built by a test running in parallel would draw from it between the seed and the build.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class GlobalRngCollection
{
    /// <summary>The collection's name.</summary>
    public const string Name = "GlobalRng";
}
