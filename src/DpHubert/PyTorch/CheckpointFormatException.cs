using System;

namespace DpHubert.PyTorch;

/// <summary>
/// A checkpoint file is malformed, truncated or of an unsupported format. The message names the file and,
/// where one is involved, the record or tensor key.
/// </summary>
public class CheckpointFormatException : Exception
{
    /// <summary>Creates the exception for <paramref name="filePath"/>.</summary>
    public CheckpointFormatException(string message, string filePath, string? key = null, Exception? inner = null)
        : base(Compose(message, filePath, key), inner)
    {
        FilePath = filePath;
        Key = key;
    }

    /// <summary>Creates the exception for <paramref name="filePath"/> with a message that names options of the
    /// library's API, kept as data (<see cref="OptionText.Of"/>) for front ends that name them their own way.</summary>
    public CheckpointFormatException(OptionText message, string filePath, string? key = null, Exception? inner = null)
        : this((message ?? throw new ArgumentNullException(nameof(message))).ToString(), filePath, key, inner)
    {
        message.Then(Where(filePath, key)).Attach(this);
    }

    /// <summary>The file (or display name of the stream) that failed to read or write.</summary>
    public string FilePath { get; }

    /// <summary>The record, storage or tensor key involved, when there is one.</summary>
    public string? Key { get; }

    private static string Compose(string message, string filePath, string? key) => message + Where(filePath, key);

    private static string Where(string filePath, string? key) => key is null ? $" in {filePath}" : $" (key '{key}') in {filePath}";
}
