using System;
using System.IO;
using System.Text.RegularExpressions;

namespace DpHubert.Hub;

/// <summary>
/// The cache as huggingface_hub lays it out: <c>models--ORG--REPO/blobs/&lt;etag&gt;</c> (the bytes, named by their
/// ETag; <c>&lt;etag&gt;.incomplete</c> while downloading), <c>refs/&lt;revision&gt;</c> (the commit a branch or
/// tag pointed at), <c>snapshots/&lt;commit&gt;/&lt;file&gt;</c> (relative symbolic links to the blobs, copies where
/// links cannot be made) and <c>.locks/models--ORG--REPO/&lt;etag&gt;.lock</c>.
/// </summary>
public sealed partial class HubCache
{
    /// <summary>A cache rooted at <paramref name="root"/>.</summary>
    /// <param name="root">The cache folder (<see cref="HubOptions.ResolveCacheDirectory"/>).</param>
    public HubCache(string root) => Root = Path.GetFullPath(root);

    /// <summary>The cache folder.</summary>
    public string Root { get; }

    /// <summary>The folder of a repository: <c>models--ORG--REPO</c>.</summary>
    /// <param name="repoId">ORG/REPO (checked by <see cref="HubReference"/>).</param>
    public string RepoFolder(string repoId) => Path.Combine(Root, "models--" + repoId.Replace("/", "--", StringComparison.Ordinal));

    /// <summary>The blob named by <paramref name="etag"/>.</summary>
    public string BlobPath(string repoId, string etag) => Path.Combine(RepoFolder(repoId), "blobs", CheckETag(etag));

    /// <summary>The lock file of a blob.</summary>
    public string LockPath(string repoId, string etag) =>
        Path.Combine(Root, ".locks", Path.GetFileName(RepoFolder(repoId)), CheckETag(etag) + ".lock");

    /// <summary>The snapshot folder of a commit.</summary>
    public string SnapshotFolder(string repoId, string commit) => Path.Combine(RepoFolder(repoId), "snapshots", CheckCommit(commit));

    /// <summary>A file in the snapshot of a commit.</summary>
    public string SnapshotPath(string repoId, string commit, string file) =>
        Path.Combine(SnapshotFolder(repoId, commit), HubReference.CheckPath(file, "file path").Replace('/', Path.DirectorySeparatorChar));

    /// <summary>The commit a revision resolves to from the cache alone: the revision itself when it is a commit hash,
    /// else what <c>refs/&lt;revision&gt;</c> holds (null when absent or not a commit hash).</summary>
    public string? CachedCommit(string repoId, string revision)
    {
        if (HubReference.IsCommitHash(revision)) return revision;
        string refPath = RefPath(repoId, revision);
        try
        {
            if (!File.Exists(refPath)) return null;
            string commit = File.ReadAllText(refPath).Trim();
            return HubReference.IsCommitHash(commit) ? commit : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>The cached file of a reference, or null when the cache does not have it.</summary>
    public string? CachedFile(string repoId, string revision, string file)
    {
        string? commit = CachedCommit(repoId, revision);
        if (commit is null) return null;
        string path = SnapshotPath(repoId, commit, file);
        return File.Exists(path) ? path : null; // follows the link: a link to a missing blob is not a cached file
    }

    internal string RefPath(string repoId, string revision) =>
        Path.Combine(RepoFolder(repoId), "refs", HubReference.CheckPath(revision, "revision").Replace('/', Path.DirectorySeparatorChar));

    /// <summary>Records that <paramref name="revision"/> points at <paramref name="commit"/> (written only when it
    /// changes, atomically).</summary>
    internal void WriteRef(string repoId, string revision, string commit)
    {
        CheckCommit(commit);
        if (revision == commit) return;
        string path = RefPath(repoId, revision);
        if (CachedCommit(repoId, revision) == commit) return;
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        string temp = path + "." + Guid.NewGuid().ToString("N") + ".tmp";
        File.WriteAllText(temp, commit); // no newline, as huggingface_hub writes it
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>Points <paramref name="pointer"/> at <paramref name="blob"/>: a relative symbolic link, or a copy where
    /// the file system has no links. The link is made under a temporary name and renamed, so two processes doing this
    /// at once both succeed.</summary>
    internal static void Link(string blob, string pointer)
    {
        string dir = Path.GetDirectoryName(pointer)!;
        Directory.CreateDirectory(dir);
        string temp = Path.Combine(dir, "." + Path.GetFileName(pointer) + "." + Guid.NewGuid().ToString("N") + ".tmp");
        try
        {
            File.CreateSymbolicLink(temp, Path.GetRelativePath(dir, blob));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or PlatformNotSupportedException)
        {
            File.Copy(blob, temp, overwrite: true);
        }
        File.Move(temp, pointer, overwrite: true);
    }

    /// <summary>An ETag as the protocol allows it: hex only (a git blob SHA-1 or an LFS SHA-256), so it can name a
    /// file in <c>blobs/</c>.</summary>
    internal static string CheckETag(string etag)
    {
        if (!ETagPattern().IsMatch(etag))
            throw new HubException(HubErrorKind.Refused, $"the server's ETag '{HubReference.Printable(Shorten(etag))}' is not a hex digest, so it cannot name a file in the cache; refused.");
        return etag;
    }

    internal static string CheckCommit(string commit)
    {
        if (!HubReference.IsCommitHash(commit))
            throw new HubException(HubErrorKind.Refused, $"the server's commit '{HubReference.Printable(Shorten(commit))}' is not a 40-hex commit hash; refused.");
        return commit;
    }

    private static string Shorten(string s) => s.Length <= 80 ? s : s[..80] + "...";

    [GeneratedRegex("^[0-9a-fA-F]{8,128}$")]
    private static partial Regex ETagPattern();
}
