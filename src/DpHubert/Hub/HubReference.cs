using System;
using System.Linq;
using System.Text.RegularExpressions;

namespace DpHubert.Hub;

/// <summary>
/// A model on the Hugging Face Hub: <c>hf://ORG/REPO[@REVISION][/PATH]</c>. Without a path it names the repository
/// as a model folder (config.json + weights); with one, that file. Every part is checked on construction, so nothing
/// a caller names can reach outside the cache.
/// </summary>
public sealed partial record HubReference
{
    /// <summary>The prefix of a Hub reference.</summary>
    public const string Scheme = "hf://";

    /// <summary>The revision used when none is named.</summary>
    public const string DefaultRevision = "main";

    /// <summary>Creates a reference after checking each part.</summary>
    /// <param name="repoId"><c>ORG/REPO</c>.</param>
    /// <param name="revision">A branch, tag, <c>refs/pr/N</c> or 40-hex commit (default <c>main</c>).</param>
    /// <param name="file">A file inside the repository (<c>/</c>-separated), or null for the model folder.</param>
    /// <exception cref="ArgumentException">A part outside what the Hub allows, named with its reason.</exception>
    public HubReference(string repoId, string? revision = null, string? file = null)
    {
        RepoId = CheckRepoId(repoId);
        Revision = CheckRevision(revision ?? DefaultRevision);
        File = file is null ? null : CheckPath(file, "file path");
    }

    /// <summary><c>ORG/REPO</c>.</summary>
    public string RepoId { get; }

    /// <summary>The branch, tag or commit.</summary>
    public string Revision { get; }

    /// <summary>The file inside the repository, or null for the model folder.</summary>
    public string? File { get; }

    /// <summary>Whether <see cref="Revision"/> is a full commit hash (a cached copy is then used without a request).</summary>
    public bool RevisionIsCommit => IsCommitHash(Revision);

    /// <summary>This reference with another file (null: the folder).</summary>
    /// <param name="file">The file.</param>
    public HubReference WithFile(string? file) => new(RepoId, Revision, file);

    /// <summary>This reference at another revision.</summary>
    /// <param name="revision">The revision.</param>
    public HubReference WithRevision(string revision) => new(RepoId, revision, File);

    /// <summary>Whether <paramref name="text"/> starts with <c>hf://</c>.</summary>
    /// <param name="text">A checkpoint argument.</param>
    public static bool IsHubReference(string? text) => text is not null && text.StartsWith(Scheme, StringComparison.Ordinal);

    /// <summary>Reads <c>hf://ORG/REPO[@REVISION][/PATH]</c>. A revision with slashes is written URL-encoded
    /// (<c>@refs%2Fpr%2F1</c>) or as <c>@refs/pr/N</c>.</summary>
    /// <param name="text">The reference.</param>
    /// <exception cref="ArgumentException">Not of that form, or a part the Hub does not allow.</exception>
    public static HubReference Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (!IsHubReference(text))
            throw new ArgumentException($"'{text}' is not a Hub reference: expected hf://ORG/REPO[@REVISION][/PATH].", nameof(text));
        string rest = text[Scheme.Length..];
        var parts = rest.Split('/');
        if (parts.Length < 2 || parts[0].Length == 0 || parts[1].Length == 0)
            throw new ArgumentException($"'{text}' names no repository: expected hf://ORG/REPO[@REVISION][/PATH].", nameof(text));
        string repo = parts[1];
        string? revision = null;
        int next = 2;
        int at = repo.IndexOf('@');
        if (at >= 0)
        {
            revision = Uri.UnescapeDataString(repo[(at + 1)..]);
            repo = repo[..at];
            // refs/pr/N and refs/convert/X span three segments.
            if (revision == "refs" && parts.Length >= 4)
            {
                revision = $"refs/{parts[2]}/{parts[3]}";
                next = 4;
            }
            if (revision.Length == 0)
                throw new ArgumentException($"'{text}' has an empty revision after '@'.", nameof(text));
        }
        string? file = parts.Length > next ? string.Join('/', parts.Skip(next)) : null;
        if (file is { Length: 0 }) file = null; // a trailing slash names the folder
        try
        {
            return new HubReference($"{parts[0]}/{repo}", revision, file);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"'{text}': {e.Message}", nameof(text), e);
        }
    }

    /// <summary>The <c>hf://</c> form.</summary>
    public override string ToString() =>
        Scheme + RepoId + (Revision == DefaultRevision ? "" : "@" + (Revision.Contains('/') ? Uri.EscapeDataString(Revision) : Revision))
        + (File is null ? "" : "/" + File);

    /// <summary>Whether <paramref name="text"/> is a full 40-hex commit hash.</summary>
    /// <param name="text">A revision.</param>
    public static bool IsCommitHash(string? text) => text is not null && CommitPattern().IsMatch(text);

    [GeneratedRegex("^[0-9a-f]{40}$")]
    private static partial Regex CommitPattern();

    [GeneratedRegex(@"^[A-Za-z0-9_.\-]{1,96}$")]
    private static partial Regex NamePart();

    [GeneratedRegex(@"^[A-Za-z0-9_.\-/]{1,255}$")]
    private static partial Regex RevisionPattern();

    private static string CheckRepoId(string repoId)
    {
        ArgumentNullException.ThrowIfNull(repoId);
        var parts = repoId.Split('/');
        if (parts.Length != 2)
            throw new ArgumentException($"repository '{repoId}' is not ORG/REPO.");
        foreach (var p in parts)
        {
            if (!NamePart().IsMatch(p))
                throw new ArgumentException($"repository '{repoId}' has characters outside the Hub's (letters, digits, '-', '_', '.'; 1 to 96 each side).");
            if (p.Contains("--", StringComparison.Ordinal) || p.Contains("..", StringComparison.Ordinal))
                throw new ArgumentException($"repository '{repoId}' contains '--' or '..', which the Hub does not allow.");
            if (p[0] is '-' or '.' || p[^1] is '-' or '.')
                throw new ArgumentException($"repository '{repoId}' starts or ends a name with '-' or '.', which the Hub does not allow.");
        }
        return repoId;
    }

    private static string CheckRevision(string revision)
    {
        if (!RevisionPattern().IsMatch(revision))
            throw new ArgumentException($"revision '{revision}' has characters outside a branch, tag or commit name (letters, digits, '-', '_', '.', '/').");
        CheckPath(revision, "revision");
        return revision;
    }

    /// <summary>A relative path inside the repository or cache: no leading '/', no '\', no empty, '.' or '..' segment,
    /// no control character.</summary>
    internal static string CheckPath(string path, string what)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (path.Length == 0) throw new ArgumentException($"the {what} is empty.");
        if (path.StartsWith('/')) throw new ArgumentException($"the {what} '{path}' starts with '/': it must be relative to the repository.");
        if (path.Contains('\\')) throw new ArgumentException($"the {what} '{path}' contains '\\': use '/' between folders.");
        if (path.Any(char.IsControl)) throw new ArgumentException($"the {what} '{Printable(path)}' contains a control character.");
        if (path.Length >= 2 && path[1] == ':') throw new ArgumentException($"the {what} '{path}' looks like a drive path.");
        foreach (var segment in path.Split('/'))
            if (segment is "" or "." or "..")
                throw new ArgumentException($"the {what} '{path}' has a{(segment == "" ? "n empty" : $" '{segment}'")} segment, which could leave the cache.");
        return path;
    }

    internal static string Printable(string s) => new(s.Select(c => char.IsControl(c) ? '?' : c).ToArray());
}
