using Xunit;

namespace DpHubert.Tests.Support;

/// <summary>Tests that read the process's resident memory: run alone, so no parallel test's allocations land in it.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessMemoryCollection
{
    /// <summary>The collection's name.</summary>
    public const string Name = "ProcessMemory";
}
