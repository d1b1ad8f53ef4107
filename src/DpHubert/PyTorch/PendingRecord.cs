using System.Collections.Generic;

namespace DpHubert.PyTorch;

/// <summary>An instance of a <see cref="ForeignGlobal"/> while the pickle is being read.</summary>
internal sealed class PendingRecord
{
    public PendingRecord(string typeName, object?[] args, PyDict? kwargs)
    {
        TypeName = typeName;
        Args = args;
        Kwargs = kwargs;
    }

    public string TypeName { get; }

    public object?[] Args { get; }

    public PyDict? Kwargs { get; }

    public object? State { get; set; }

    public PyDict? DictItems { get; set; }

    public List<object?>? ListItems { get; set; }
}
