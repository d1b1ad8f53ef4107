namespace DpHubert.PyTorch;

/// <summary>
/// An object of an allowed class (omegaconf container/node/metadata, argparse.Namespace) created by NEWOBJ:
/// only its constructor arguments and its <c>__setstate__</c> state are recorded.
/// </summary>
internal sealed class PyObject
{
    public PyObject(PyGlobal type, object?[] args)
    {
        Type = type;
        Args = args;
    }

    public PyGlobal Type { get; }

    public object?[] Args { get; }

    public object? State { get; set; }
}
