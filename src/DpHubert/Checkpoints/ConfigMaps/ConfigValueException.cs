using System;

namespace DpHubert.Checkpoints.ConfigMaps;

/// <summary>A value a converter refuses with a complete message (no "(got ...)" appended).</summary>
internal sealed class ConfigValueException : FormatException
{
    public ConfigValueException(string message) : base(message) { }

    public ConfigValueException(string message, Exception inner) : base(message, inner) { }
}
