namespace DpHubert.PyTorch;

/// <summary>
/// A pickle refers to a global (a class or function) that is not on the loader's allow-list. Nothing from it was
/// executed; the message names the refused global, e.g. <c>refused global 'os.system' in checkpoint.pth</c>.
/// </summary>
public sealed class UnsafePickleException : CheckpointFormatException
{
    /// <summary>Creates the exception for the refused global <paramref name="global"/> in <paramref name="filePath"/>.</summary>
    public UnsafePickleException(string global, string filePath)
        : base($"refused global '{global}'", filePath)
    {
        Global = global;
    }

    /// <summary>Creates the exception with the reason the global was refused, e.g. that the object holds a tensor.</summary>
    public UnsafePickleException(string global, string filePath, string reason)
        : base($"refused global '{global}' ({reason})", filePath)
    {
        Global = global;
    }

    /// <summary>The fully qualified name of the refused global, e.g. <c>os.system</c>.</summary>
    public string Global { get; }
}
