using System;

namespace DpHubert.Audio;

/// <summary>
/// An audio file could not be decoded: it is not a RIFF/WAVE file, it is truncated, or it uses an
/// encoding this library does not read. The message names the file (or stream) and the problem.
/// </summary>
public class AudioFormatException : Exception
{
    /// <summary>Creates the exception with a message that already names <paramref name="path"/>.</summary>
    /// <param name="message">What is wrong, including the file name.</param>
    /// <param name="path">The file path, or the name given for a stream; null if unknown.</param>
    /// <param name="innerException">The underlying error, if any.</param>
    public AudioFormatException(string message, string? path, Exception? innerException = null)
        : base(message, innerException)
    {
        Path = path;
    }

    /// <summary>Creates the exception with a message and no file name.</summary>
    /// <param name="message">What is wrong.</param>
    public AudioFormatException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception with no details.</summary>
    public AudioFormatException()
    {
    }

    /// <summary>Creates the exception with a message and an underlying error.</summary>
    /// <param name="message">What is wrong.</param>
    /// <param name="innerException">The underlying error.</param>
    public AudioFormatException(string message, Exception? innerException) : base(message, innerException)
    {
    }

    /// <summary>The file path, or the name given for a stream, of the audio that failed to decode.</summary>
    public string? Path { get; }
}
