namespace DpHubert.PyTorch;

/// <summary>A global outside the allow-list as the unpickler first sees it: usable only to create an inert record.</summary>
internal sealed record ForeignGlobal(string Module, string Name)
{
    public string FullName => $"{Module}.{Name}";
}
