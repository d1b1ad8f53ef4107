namespace DpHubert.PyTorch;

/// <summary>An allowed Python global (class, function or type) referenced by a pickle; never executed.</summary>
internal sealed record PyGlobal(string Module, string Name)
{
    public string FullName => $"{Module}.{Name}";
}
