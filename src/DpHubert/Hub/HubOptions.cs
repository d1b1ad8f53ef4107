using System;
using System.IO;
using System.Net.Http;
using System.Text;

namespace DpHubert.Hub;

/// <summary>
/// Where and how <see cref="HubClient"/> downloads. Every setting left null is taken from the environment as
/// Python's huggingface_hub takes it (<c>HF_ENDPOINT</c>, <c>HF_TOKEN</c>, <c>HF_HUB_CACHE</c> / <c>HF_HOME</c>,
/// <c>HF_HUB_OFFLINE</c>), so both share one cache. The token is never printed: <see cref="ToString"/> hides it.
/// </summary>
public sealed record HubOptions
{
    /// <summary>The Hub or a mirror (default: <c>HF_ENDPOINT</c>, else <c>https://huggingface.co</c>).</summary>
    public string? Endpoint { get; init; }

    /// <summary>An access token for gated or private repositories (default: <c>HF_TOKEN</c>, else the token file
    /// huggingface_hub's login writes, <c>$HF_HOME/token</c>). An empty string sends none.</summary>
    public string? Token { get; init; }

    /// <summary>The cache folder (default: <c>HF_HUB_CACHE</c>, else <c>$HF_HOME/hub</c>, else
    /// <c>~/.cache/huggingface/hub</c>).</summary>
    public string? CacheDirectory { get; init; }

    /// <summary>Use the cache only, never the network (default: <c>HF_HUB_OFFLINE</c> is 1, true, yes or on).</summary>
    public bool? Offline { get; init; }

    /// <summary>The client to send requests with (default: one of our own). It must not follow redirects itself
    /// (<c>AllowAutoRedirect = false</c>), since the Hub's metadata is on the redirect; it is not disposed.</summary>
    public HttpClient? HttpClient { get; init; }

    /// <summary>Attempts per request before a connection error, 429 or 5xx is final (default 5).</summary>
    public int MaxAttempts { get; init; } = 5;

    /// <summary>The first wait between attempts; it doubles each time, up to <see cref="MaxRetryDelay"/>
    /// (a server's Retry-After is honoured up to the same bound).</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest wait between attempts.</summary>
    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a request may wait for the server's headers, or a download for its next bytes, before the
    /// attempt counts as a cut connection.</summary>
    public TimeSpan ReadTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How long to wait for another process downloading the same file (its lock) before giving up.</summary>
    public TimeSpan LockTimeout { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>The largest file a server may announce (default 100 GB); larger sizes are refused before a byte is
    /// written.</summary>
    public long MaxFileBytes { get; init; } = 100_000_000_000;

    /// <summary>The environment variables (null: the process's); a test seam.</summary>
    public Func<string, string?>? Environment { get; init; }

    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append($"Endpoint = {Endpoint}, Token = {(string.IsNullOrEmpty(Token) ? "(none)" : "(hidden)")}, ");
        builder.Append($"CacheDirectory = {CacheDirectory}, Offline = {Offline}, MaxAttempts = {MaxAttempts}");
        return true;
    }

    internal string Env(string name) => (Environment ?? System.Environment.GetEnvironmentVariable)(name) is { Length: > 0 } v ? v : "";

    /// <summary>The endpoint this resolves to, without a trailing '/'.</summary>
    public string ResolveEndpoint()
    {
        string e = Endpoint ?? (Env("HF_ENDPOINT") is { Length: > 0 } env ? env : "https://huggingface.co");
        e = e.TrimEnd('/');
        if (!Uri.TryCreate(e, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp))
            throw new ArgumentException($"HF_ENDPOINT '{e}' is not an http(s) URL.");
        return e;
    }

    /// <summary>The cache folder this resolves to.</summary>
    public string ResolveCacheDirectory()
    {
        if (CacheDirectory is { Length: > 0 } c) return Path.GetFullPath(c);
        if (Env("HF_HUB_CACHE") is { Length: > 0 } hub) return Path.GetFullPath(ExpandHome(hub));
        if (Env("HUGGINGFACE_HUB_CACHE") is { Length: > 0 } legacy) return Path.GetFullPath(ExpandHome(legacy));
        return Path.Combine(HfHome(), "hub");
    }

    /// <summary>Whether this resolves to offline.</summary>
    public bool ResolveOffline() => Offline ?? Env("HF_HUB_OFFLINE").ToUpperInvariant() is "1" or "TRUE" or "YES" or "ON";

    internal string? ResolveToken()
    {
        if (Token is not null) return Token.Length == 0 ? null : Token.Trim();
        if (Env("HF_TOKEN") is { Length: > 0 } t) return t.Trim();
        if (Env("HUGGING_FACE_HUB_TOKEN") is { Length: > 0 } legacy) return legacy.Trim();
        string file = Env("HF_TOKEN_PATH") is { Length: > 0 } p ? ExpandHome(p) : Path.Combine(HfHome(), "token");
        try
        {
            return File.Exists(file) && File.ReadAllText(file).Trim() is { Length: > 0 } saved ? saved : null;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    private string HfHome()
    {
        if (Env("HF_HOME") is { Length: > 0 } home) return Path.GetFullPath(ExpandHome(home));
        string xdg = Env("XDG_CACHE_HOME") is { Length: > 0 } x ? ExpandHome(x)
            : Path.Combine(System.Environment.GetFolderPath(System.Environment.SpecialFolder.UserProfile), ".cache");
        return Path.GetFullPath(Path.Combine(xdg, "huggingface"));
    }

    private static string ExpandHome(string p) =>
        p == "~" || p.StartsWith("~/", StringComparison.Ordinal)
            ? System.Environment.GetFolderPath(System.Environment.SpecialFolder.UserProfile) + p[1..]
            : p;
}

/// <summary>How far a download has come (reported at its start, as bytes arrive, and at its end).</summary>
/// <param name="RepoId">The repository.</param>
/// <param name="File">The file in it.</param>
/// <param name="BytesReceived">Bytes on disk so far, a resumed part included.</param>
/// <param name="TotalBytes">The file's size.</param>
/// <param name="Completed">The file is in the cache and checked.</param>
public sealed record HubDownloadProgress(string RepoId, string File, long BytesReceived, long TotalBytes, bool Completed);
