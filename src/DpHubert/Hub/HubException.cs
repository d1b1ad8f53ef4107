using System;

namespace DpHubert.Hub;

/// <summary>What went wrong with a Hub request or the cache.</summary>
public enum HubErrorKind
{
    /// <summary>The repository, revision or file does not exist (HTTP 404, or 401 for a repository the Hub hides).</summary>
    NotFound,

    /// <summary>HTTP 401: a token is needed or the one given is not accepted.</summary>
    Unauthorized,

    /// <summary>HTTP 403: the repository is gated or access is forbidden.</summary>
    Forbidden,

    /// <summary>Offline (HF_HUB_OFFLINE) and the file is not in the cache.</summary>
    Offline,

    /// <summary>The downloaded bytes do not match the announced size or SHA-256 (the partial file was deleted).</summary>
    Integrity,

    /// <summary>Something the server or the caller named could leave the cache or is not what the protocol allows
    /// (a non-hex ETag or commit, a path with <c>..</c>, a redirect to another scheme, an impossible size).</summary>
    Refused,

    /// <summary>The server could not be reached or kept failing (connection errors, 429, 5xx) after every retry.</summary>
    Network,

    /// <summary>The cache's disk has no room for the file.</summary>
    DiskFull,
}

/// <summary>A download from the Hugging Face Hub (or a mirror) or a cache lookup that failed; the message is one line
/// that names the repository, revision or file at fault and never contains the token.</summary>
public sealed class HubException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="kind">What went wrong.</param>
    /// <param name="message">One line for a person.</param>
    /// <param name="inner">The underlying error, if any.</param>
    public HubException(HubErrorKind kind, string message, Exception? inner = null) : base(message, inner) => Kind = kind;

    /// <summary>What went wrong.</summary>
    public HubErrorKind Kind { get; }
}
