using System.Collections.Generic;

namespace DpHubert.PyTorch;

/// <summary>Helpers shared by the reader's allow-list.</summary>
internal static class PickleNames
{
    /// <summary>The Python 3 name of a module that protocol-2 pickles spell the Python 2 way (<c>__builtin__</c>, <c>copy_reg</c>).</summary>
    public static string Python3Module(string module) => module switch
    {
        "__builtin__" => "builtins",
        "copy_reg" => "copyreg",
        _ => module,
    };

    /// <summary>The Python 3 name of a builtin type that protocol 2 spells the Python 2 way (int as <c>long</c>, str as <c>unicode</c>).</summary>
    public static string Python3Name(string module, string name) => module == "builtins"
        ? name switch { "long" => "int", "unicode" => "str", _ => name }
        : name;

    /// <summary>Classes whose instances are recorded as <see cref="PyObject"/> and converted afterwards.</summary>
    public static readonly HashSet<string> InstanceClasses = new()
    {
        "omegaconf.dictconfig.DictConfig",
        "omegaconf.listconfig.ListConfig",
        "omegaconf.nodes.AnyNode",
        "omegaconf.nodes.ValueNode",
        "omegaconf.nodes.StringNode",
        "omegaconf.nodes.IntegerNode",
        "omegaconf.nodes.FloatNode",
        "omegaconf.nodes.BooleanNode",
        "omegaconf.nodes.BytesNode",
        "omegaconf.nodes.PathNode",
        "omegaconf.nodes.EnumNode",
        "omegaconf.nodes.UnionNode",
        "omegaconf.nodes.InterpolationResultNode",
        "omegaconf.base.Metadata",
        "omegaconf.base.ContainerMetadata",
        "argparse.Namespace",
    };

    /// <summary>
    /// dict subclasses that add no state of their own and are read as a plain mapping (Lightning's hyper-parameter
    /// <c>AttributeDict</c>, which only adds attribute access).
    /// </summary>
    public static readonly HashSet<string> MappingClasses = new()
    {
        "pytorch_lightning.utilities.parsing.AttributeDict",
        "lightning.pytorch.utilities.parsing.AttributeDict",
        "lightning_fabric.utilities.data.AttributeDict",
        "lightning.fabric.utilities.data.AttributeDict",
    };

    /// <summary>Functions/classes the reader implements itself (never by running Python code).</summary>
    public static readonly HashSet<string> Callables = new()
    {
        "collections.OrderedDict",
        "collections.defaultdict",
        "builtins.dict",
        "builtins.list",
        "builtins.set",
        "builtins.frozenset",
        "builtins.bytearray",
        "builtins.slice",
        "_codecs.encode",
        "copyreg._reconstructor",
        "torch._utils._rebuild_tensor",
        "torch._utils._rebuild_tensor_v2",
        "torch._utils._rebuild_tensor_v3",
        "torch._utils._rebuild_parameter",
        "torch._utils._rebuild_parameter_with_state",
        "torch.Size",
        "torch.device",
        "numpy.core.multiarray.scalar",
        "numpy._core.multiarray.scalar",
        "numpy.dtype",
        "_operator.getitem", // only for typing generics, see Unpickler.Call
        "operator.getitem",
        "builtins.type", // only type(None)
    };

    /// <summary>Types that may appear as plain values (omegaconf metadata records ref/element types).</summary>
    public static readonly HashSet<string> TypeValues = new()
    {
        "builtins.object", "builtins.int", "builtins.float", "builtins.str", "builtins.bool", "builtins.bytes",
        "builtins.tuple", "builtins.NoneType", "typing.Any", "typing.Dict", "typing.List", "typing.Tuple",
        "typing.Optional", "typing.Union", "typing.Type", "typing.Sequence", "typing.Mapping", "enum.Enum",
        "pathlib.Path",
    };

    public static bool IsAllowed(string fullName, string module, string name) =>
        InstanceClasses.Contains(fullName) || Callables.Contains(fullName) || TypeValues.Contains(fullName)
        || MappingClasses.Contains(fullName)
        || (module == "torch" && (name.EndsWith("Storage", System.StringComparison.Ordinal)
                                  && DTypeNames.TorchStorage.TryParse(name, out _)
                                  || DTypeNames.Torch.TryParse(name, out _)));
}
