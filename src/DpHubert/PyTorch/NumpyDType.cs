namespace DpHubert.PyTorch;

/// <summary>A numpy dtype object (numpy.dtype('f8') + its BUILD state), used only to decode numpy scalars.</summary>
internal sealed class NumpyDType
{
    public NumpyDType(string descr) => Descr = descr;

    public string Descr { get; }

    public string ByteOrder { get; set; } = "<";
}
