using System;

namespace DpHubert.Checkpoints.ConfigMaps;

/// <summary>
/// One row of a foreign config table: the foreign <see cref="Key"/>, how its value is converted and set on the
/// architecture being read (<see cref="Apply"/>; a <see cref="FormatException"/> for a wrong type) and the value used
/// when the file lacks it.
/// </summary>
/// <typeparam name="T">What the table reads into.</typeparam>
/// <param name="Key">The foreign key.</param>
/// <param name="Apply">Sets a converted foreign value.</param>
/// <param name="Default">The foreign framework's default, converted like a read value.</param>
internal sealed record ForeignField<T>(string Key, Func<T, object?, T> Apply, object? Default)
{
    /// <summary>Read only for WavLM models.</summary>
    public bool WavLMOnly { get; init; }

    /// <summary>A key of a fine-tuning config that, when set, wins over <see cref="Key"/>.</summary>
    public string? OverrideKey { get; init; }

    /// <summary>Whose default <see cref="Default"/> is, when not the table's.</summary>
    public string? Whose { get; init; }
}
