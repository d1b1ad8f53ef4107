using System.Numerics;
using TorchSharp;

namespace DpHubert.PyTorch;

/// <summary>What a value read from a pickle is.</summary>
public enum PyValueKind
{
    /// <summary>Python <c>None</c>.</summary>
    None,

    /// <summary><c>bool</c>, as <see cref="bool"/>.</summary>
    Bool,

    /// <summary><c>int</c>, as <see cref="long"/> (<see cref="BigInteger"/> beyond 64 bits).</summary>
    Int,

    /// <summary><c>float</c>, as <see cref="double"/>.</summary>
    Float,

    /// <summary><c>str</c>, and torch dtypes or types used as values (their qualified name), as <see cref="string"/>.</summary>
    String,

    /// <summary><c>bytes</c>, as a byte array.</summary>
    Bytes,

    /// <summary>dict / OrderedDict / defaultdict / omegaconf DictConfig / argparse.Namespace, as <see cref="PyDict"/>.</summary>
    Dict,

    /// <summary>list / set / omegaconf ListConfig, as <c>List&lt;object?&gt;</c>.</summary>
    List,

    /// <summary>tuple and torch.Size, as <c>object?[]</c>.</summary>
    Tuple,

    /// <summary>A tensor or parameter, as a contiguous CPU <see cref="torch.Tensor"/>.</summary>
    Tensor,

    /// <summary>An object of a class outside the allow-list, as an <see cref="PyTorch.InertRecord"/>.</summary>
    InertRecord,
}
