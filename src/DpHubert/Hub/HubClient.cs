using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;

namespace DpHubert.Hub;

/// <summary>
/// Downloads models from the Hugging Face Hub (or a mirror) into the cache Python's huggingface_hub uses, and finds
/// them there again without a request when the revision is a commit or when offline. Downloads resume from their
/// <c>.incomplete</c> file, are checked against the announced size and (for LFS files) SHA-256, take a per-file lock
/// so two processes never write the same file, and retry connection errors, 429 and 5xx with backoff.
/// </summary>
/// <example>
/// <code>
/// using var hub = new HubClient();
/// string folder = await hub.DownloadModelAsync(HubReference.Parse("hf://facebook/hubert-base-ls960"), progress, token);
/// using var encoder = SpeechEncoder.Load(folder);
/// </code>
/// </example>
public sealed class HubClient : IDisposable
{
    /// <summary>Weight layouts of a model folder, in the order the loader prefers them: (single file, sharded index).</summary>
    private static readonly (string Single, string Index)[] WeightLayouts =
    {
        ("model.safetensors", "model.safetensors.index.json"),
        ("pytorch_model.bin", "pytorch_model.bin.index.json"),
    };

    private const int MaxRedirects = 10;
    private readonly HttpClient http;
    private readonly bool ownsHttp;
    private readonly HubOptions options;
    private readonly string? token;
    private readonly Uri endpointUri;

    /// <summary>A client with <paramref name="options"/> (null: everything from the environment).</summary>
    /// <param name="options">Endpoint, token, cache, offline, HTTP client, retries.</param>
    /// <exception cref="ArgumentException">HF_ENDPOINT is not an http(s) URL, or a bound is not positive.</exception>
    public HubClient(HubOptions? options = null)
    {
        this.options = options ?? new HubOptions();
        if (this.options.MaxAttempts < 1) throw new ArgumentException("HubOptions.MaxAttempts must be at least 1.");
        if (this.options.MaxFileBytes < 1) throw new ArgumentException("HubOptions.MaxFileBytes must be positive.");
        Endpoint = this.options.ResolveEndpoint();
        endpointUri = new Uri(Endpoint + "/");
        Cache = new HubCache(this.options.ResolveCacheDirectory());
        Offline = this.options.ResolveOffline();
        token = this.options.ResolveToken();
        if (this.options.HttpClient is { } given) http = given;
        else
        {
            http = new HttpClient(new SocketsHttpHandler
            {
                AllowAutoRedirect = false,
                AutomaticDecompression = DecompressionMethods.None,
                ConnectTimeout = TimeSpan.FromSeconds(30),
            }) { Timeout = Timeout.InfiniteTimeSpan };
            ownsHttp = true;
        }
    }

    /// <summary>The Hub or mirror requests go to.</summary>
    public string Endpoint { get; }

    /// <summary>The cache.</summary>
    public HubCache Cache { get; }

    /// <summary>Whether only the cache is used.</summary>
    public bool Offline { get; }

    /// <summary>Disposes the HTTP client if this instance created it.</summary>
    public void Dispose()
    {
        if (ownsHttp) http.Dispose();
    }

    /// <summary>
    /// What a checkpoint loader needs of <paramref name="reference"/>, in the cache, and its local path. A file
    /// reference fetches that file (for a <c>.safetensors</c> file also its config JSON beside it where the repository
    /// has one); a folder reference fetches config.json, preprocessor_config.json where present and one weight layout
    /// (model.safetensors, else its sharded index and shards, else pytorch_model.bin or its shards), all at one commit,
    /// and returns the snapshot folder.
    /// </summary>
    /// <param name="reference">The repository (and file).</param>
    /// <param name="progress">Receives each file's progress.</param>
    /// <param name="cancellationToken">Stops waiting, downloading and retrying (the partial file is kept to resume).</param>
    /// <exception cref="HubException">Not found, not allowed, offline without a copy, a failed check, or a refusal.</exception>
    public async Task<string> DownloadModelAsync(HubReference reference, IProgress<HubDownloadProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reference);
        if (reference.File is { } file)
        {
            var (path, commit) = await FetchAsync(reference, optional: false, progress, cancellationToken).ConfigureAwait(false);
            if (file.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
            {
                // Its config, as SafeTensorsFormat looks for it: <name>.json, else config.json beside it.
                string dir = file.Contains('/') ? file[..file.LastIndexOf('/')] + "/" : "";
                string named = file[..^".safetensors".Length] + ".json";
                var pinned = reference.WithRevision(commit);
                if ((await FetchAsync(pinned.WithFile(named), optional: true, progress, cancellationToken).ConfigureAwait(false)).Path is null)
                    await FetchAsync(pinned.WithFile(dir + "config.json"), optional: true, progress, cancellationToken).ConfigureAwait(false);
            }
            return path!;
        }

        var (config, at) = await FetchAsync(reference.WithFile("config.json"), optional: false, progress, cancellationToken).ConfigureAwait(false);
        var folder = reference.WithRevision(at); // every other file from the same commit
        await FetchAsync(folder.WithFile("preprocessor_config.json"), optional: true, progress, cancellationToken).ConfigureAwait(false);
        foreach (var (single, index) in WeightLayouts)
        {
            if ((await FetchAsync(folder.WithFile(single), optional: true, progress, cancellationToken).ConfigureAwait(false)).Path is not null)
                return Path.GetDirectoryName(config!)!;
            var (indexPath, _) = await FetchAsync(folder.WithFile(index), optional: true, progress, cancellationToken).ConfigureAwait(false);
            if (indexPath is null) continue;
            foreach (var shard in ShardsOf(indexPath))
                await FetchAsync(folder.WithFile(shard), optional: false, progress, cancellationToken).ConfigureAwait(false);
            return Path.GetDirectoryName(config!)!;
        }
        if (Offline)
            throw new HubException(HubErrorKind.Offline,
                $"HF_HUB_OFFLINE is set and the cache has config.json but no weights of {reference} (model.safetensors, pytorch_model.bin or a sharded index under {Path.GetDirectoryName(config!)}); unset HF_HUB_OFFLINE to download them.");
        throw new HubException(HubErrorKind.NotFound,
            $"{reference} has a config.json but no weights this library reads (model.safetensors, pytorch_model.bin or their sharded *.index.json) at commit {at}.");
    }

    /// <summary>The synchronous form of <see cref="DownloadModelAsync"/>.</summary>
    public string DownloadModel(HubReference reference, IProgress<HubDownloadProgress>? progress = null,
        CancellationToken cancellationToken = default) =>
        DownloadModelAsync(reference, progress, cancellationToken).GetAwaiter().GetResult();

    /// <summary>One file of a repository in the cache; returns its snapshot path.</summary>
    /// <param name="reference">The repository, revision and file (<see cref="HubReference.File"/> is required).</param>
    /// <param name="progress">Receives the download's progress.</param>
    /// <param name="cancellationToken">Stops waiting, downloading and retrying.</param>
    /// <exception cref="HubException">Not found, not allowed, offline without a copy, a failed check, or a refusal.</exception>
    public async Task<string> DownloadFileAsync(HubReference reference, IProgress<HubDownloadProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reference);
        if (reference.File is null) throw new ArgumentException($"{reference} names no file; use DownloadModelAsync for a model folder.", nameof(reference));
        return (await FetchAsync(reference, optional: false, progress, cancellationToken).ConfigureAwait(false)).Path!;
    }

    /// <summary>Fetches one file; for an optional file that the repository lacks, returns a null path.</summary>
    private async Task<(string? Path, string Commit)> FetchAsync(HubReference reference, bool optional,
        IProgress<HubDownloadProgress>? progress, CancellationToken ct)
    {
        string repo = reference.RepoId, file = reference.File!, revision = reference.Revision;
        ct.ThrowIfCancellationRequested();
        // A commit's snapshot never changes: a cached copy is used without a request (as huggingface_hub does).
        if (reference.RevisionIsCommit && Cache.CachedFile(repo, revision, file) is { } pinned)
            return (pinned, revision);
        if (Offline)
        {
            if (Cache.CachedFile(repo, revision, file) is { } cached) return (cached, Cache.CachedCommit(repo, revision)!);
            if (optional && Cache.CachedCommit(repo, revision) is { } commitHere) return (null, commitHere);
            string commit = Cache.CachedCommit(repo, revision) is { } c ? $"snapshots/{c}/{file}" : $"refs/{revision}";
            throw new HubException(HubErrorKind.Offline,
                $"HF_HUB_OFFLINE is set and {reference} is not in the cache (no {commit} under {Cache.RepoFolder(repo)}); unset HF_HUB_OFFLINE to download it.");
        }

        FileMetadata meta;
        try
        {
            // With a copy at hand, one attempt: an unreachable Hub then costs no backoff before the copy is used.
            meta = await HeadAsync(reference, Cache.CachedFile(repo, revision, file) is not null, ct).ConfigureAwait(false);
        }
        catch (HubException e) when (optional && e.Kind == HubErrorKind.NotFound && reference.RevisionIsCommit)
        {
            return (null, revision);
        }
        catch (HubException e) when (e.Kind == HubErrorKind.Network && Cache.CachedFile(repo, revision, file) is { } cached)
        {
            return (cached, Cache.CachedCommit(repo, revision)!); // the Hub is unreachable: the copy we have will do
        }
        if (meta.Size > options.MaxFileBytes)
            throw new HubException(HubErrorKind.Refused,
                $"{reference}: the server announces {meta.Size} bytes, more than HubOptions.MaxFileBytes ({options.MaxFileBytes}); refused.");
        Cache.WriteRef(repo, revision, meta.Commit);
        string pointer = Cache.SnapshotPath(repo, meta.Commit, file);
        string blob = Cache.BlobPath(repo, meta.ETag);
        if (!IsComplete(blob, meta.Size))
        {
            string lockPath = Cache.LockPath(repo, meta.ETag);
            using var held = await AcquireLockAsync(lockPath, reference, ct).ConfigureAwait(false);
            if (!IsComplete(blob, meta.Size)) // another process may have finished it while we waited
                await DownloadBlobAsync(reference, meta, blob, progress, ct).ConfigureAwait(false);
        }
        if (!File.Exists(pointer) || !SameFile(pointer, blob)) HubCache.Link(blob, pointer);
        progress?.Report(new HubDownloadProgress(repo, file, meta.Size, meta.Size, Completed: true));
        return (pointer, meta.Commit);
    }

    private static bool IsComplete(string blob, long size)
    {
        var info = new FileInfo(blob);
        return info.Exists && info.Length == size;
    }

    private static bool SameFile(string pointer, string blob)
    {
        var info = new FileInfo(pointer);
        if (info.LinkTarget is { } target)
            return Path.GetFullPath(Path.Combine(Path.GetDirectoryName(pointer)!, target)) == Path.GetFullPath(blob);
        return info.Exists && info.Length == new FileInfo(blob).Length; // a copy (no links on this file system)
    }

    private sealed record FileMetadata(string Commit, string ETag, long Size, Uri Location);

    /// <summary>HEAD on resolve/: commit, ETag, size and where to download from; relative redirects (a renamed
    /// repository) are followed, an absolute one is the download location.</summary>
    private async Task<FileMetadata> HeadAsync(HubReference reference, bool haveCopy, CancellationToken ct)
    {
        var url = new Uri(endpointUri, $"{reference.RepoId}/resolve/{Uri.EscapeDataString(reference.Revision)}/{EscapePath(reference.File!)}");
        return await WithRetriesAsync(reference, "metadata request", async attemptCt =>
        {
            var current = url;
            for (int hop = 0; ; hop++)
            {
                using var request = NewRequest(HttpMethod.Head, current);
                using var response = await SendAsync(request, attemptCt).ConfigureAwait(false);
                var status = (int)response.StatusCode;
                string? location = RawHeader(response, "Location");
                if (status is >= 300 and < 400 && location is not null)
                {
                    var target = ResolveLocation(current, location, reference);
                    if (IsRelative(location))
                    {
                        if (hop >= MaxRedirects)
                            throw new HubException(HubErrorKind.Refused, $"{reference}: more than {MaxRedirects} redirects; refused.");
                        current = target;
                        continue;
                    }
                    return Metadata(response, reference, target);
                }
                ThrowIfFailed(response, reference);
                return Metadata(response, reference, current);
            }
        }, ct, haveCopy ? 1 : null).ConfigureAwait(false);
    }

    private FileMetadata Metadata(HttpResponseMessage response, HubReference reference, Uri location)
    {
        string commit = RawHeader(response, "X-Repo-Commit")
            ?? throw new HubException(HubErrorKind.Refused,
                $"{reference}: the server at {Endpoint} sent no X-Repo-Commit header; it does not speak the Hub's protocol (check HF_ENDPOINT).");
        HubCache.CheckCommit(commit);
        string rawETag = RawHeader(response, "X-Linked-Etag") ?? RawHeader(response, "ETag")
            ?? throw new HubException(HubErrorKind.Refused, $"{reference}: the server sent no ETag; refused (the file could not be checked).");
        string etag = NormalizeETag(rawETag);
        HubCache.CheckETag(etag);
        string? rawSize = RawHeader(response, "X-Linked-Size") ?? response.Content.Headers.ContentLength?.ToString(CultureInfo.InvariantCulture);
        if (rawSize is null || !long.TryParse(rawSize, NumberStyles.None, CultureInfo.InvariantCulture, out long size))
            throw new HubException(HubErrorKind.Refused, $"{reference}: the server sent no file size (X-Linked-Size or Content-Length) or one that is not a number; refused.");
        return new FileMetadata(commit, etag, size, location);
    }

    /// <summary>The ETag as huggingface_hub names blobs by it: without a weak prefix and quotes.</summary>
    private static string NormalizeETag(string etag)
    {
        string e = etag.Trim();
        if (e.StartsWith("W/", StringComparison.Ordinal)) e = e[2..];
        return e.Trim('"');
    }

    private async Task DownloadBlobAsync(HubReference reference, FileMetadata meta, string blob,
        IProgress<HubDownloadProgress>? progress, CancellationToken ct)
    {
        string incomplete = blob + ".incomplete";
        Directory.CreateDirectory(Path.GetDirectoryName(blob)!);
        long have = File.Exists(incomplete) ? new FileInfo(incomplete).Length : 0;
        if (have > meta.Size)
        {
            File.Delete(incomplete);
            have = 0;
        }
        long free = FreeBytes(Path.GetDirectoryName(blob)!);
        if (free >= 0 && meta.Size - have > free)
            throw new HubException(HubErrorKind.DiskFull,
                $"{reference} needs {meta.Size - have} more bytes but {Cache.Root} has {free} free; free some space or set HF_HUB_CACHE to another disk.");
        progress?.Report(new HubDownloadProgress(reference.RepoId, reference.File!, have, meta.Size, false));

        await WithRetriesAsync(reference, "download", attemptCt => DownloadAttemptAsync(reference, meta, incomplete, progress, attemptCt), ct)
            .ConfigureAwait(false);

        long length = new FileInfo(incomplete).Length;
        if (length != meta.Size)
        {
            File.Delete(incomplete);
            throw new HubException(HubErrorKind.Integrity,
                $"{reference}: downloaded {length} bytes but the server announced {meta.Size}; the partial file was deleted, run again to retry.");
        }
        if (meta.ETag.Length == 64)
        {
            string actual;
            await using (var read = new FileStream(incomplete, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan | FileOptions.Asynchronous))
                actual = Convert.ToHexString(await SHA256.HashDataAsync(read, ct).ConfigureAwait(false)).ToLowerInvariant();
            if (!string.Equals(actual, meta.ETag, StringComparison.OrdinalIgnoreCase))
            {
                File.Delete(incomplete);
                throw new HubException(HubErrorKind.Integrity,
                    $"{reference}: SHA-256 of the downloaded file is {actual} but the server's ETag is {meta.ETag}; the download was deleted, run again to retry.");
            }
        }
        File.Move(incomplete, blob, overwrite: true);
    }

    private async Task DownloadAttemptAsync(HubReference reference, FileMetadata meta, string incomplete,
        IProgress<HubDownloadProgress>? progress, CancellationToken ct)
    {
        long have = File.Exists(incomplete) ? new FileInfo(incomplete).Length : 0;
        if (have == meta.Size) return;
        var current = meta.Location;
        for (int hop = 0; ; hop++)
        {
            using var request = NewRequest(HttpMethod.Get, current);
            if (have > 0) request.Headers.Range = new RangeHeaderValue(have, null);
            using var response = await SendAsync(request, ct).ConfigureAwait(false);
            int status = (int)response.StatusCode;
            if (status is >= 300 and < 400 && RawHeader(response, "Location") is { } location)
            {
                if (hop >= MaxRedirects) throw new HubException(HubErrorKind.Refused, $"{reference}: more than {MaxRedirects} redirects; refused.");
                current = ResolveLocation(current, location, reference);
                continue;
            }
            if (status == 416 && have > 0)
            {
                File.Delete(incomplete); // the server cannot continue our partial file: start over
                throw new RetryableException($"the server refused to resume at byte {have}");
            }
            ThrowIfFailed(response, reference);
            bool resumed = status == 206;
            if (resumed && response.Content.Headers.ContentRange is { From: { } from } && from != have)
            {
                File.Delete(incomplete);
                throw new RetryableException($"the server resumed at byte {from}, not {have}");
            }
            if (!resumed) have = 0; // the whole file again (the server ignored the range)
            await using var body = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
            await using var output = new FileStream(incomplete, resumed ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16, FileOptions.Asynchronous);
            var buffer = new byte[1 << 16];
            var lastReport = Stopwatch.StartNew();
            while (true)
            {
                int n;
                using (var stall = CancellationTokenSource.CreateLinkedTokenSource(ct))
                {
                    stall.CancelAfter(options.ReadTimeout);
                    try
                    {
                        n = await body.ReadAsync(buffer, stall.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                    {
                        throw new RetryableException($"no data for {options.ReadTimeout.TotalSeconds:0} s");
                    }
                }
                if (n == 0) break;
                if (have + n > meta.Size)
                {
                    await output.DisposeAsync().ConfigureAwait(false);
                    File.Delete(incomplete);
                    throw new HubException(HubErrorKind.Integrity,
                        $"{reference}: the server sent more than the {meta.Size} bytes it announced; the download was deleted.");
                }
                await output.WriteAsync(buffer.AsMemory(0, n), ct).ConfigureAwait(false);
                have += n;
                if (lastReport.ElapsedMilliseconds >= 100)
                {
                    lastReport.Restart();
                    progress?.Report(new HubDownloadProgress(reference.RepoId, reference.File!, have, meta.Size, false));
                }
            }
            if (have < meta.Size) throw new RetryableException($"the connection ended at byte {have} of {meta.Size}");
            return;
        }
    }

    /// <summary>An attempt that failed in a way another attempt may fix (a cut connection, 429, 5xx).</summary>
    private sealed class RetryableException(string message, TimeSpan? retryAfter = null) : Exception(message)
    {
        public TimeSpan? RetryAfter { get; } = retryAfter;
    }

    private async Task<T> WithRetriesAsync<T>(HubReference reference, string what, Func<CancellationToken, Task<T>> attempt, CancellationToken ct,
        int? maxAttempts = null)
    {
        int attempts = maxAttempts ?? options.MaxAttempts;
        var delay = options.RetryDelay;
        for (int i = 1; ; i++)
        {
            string reason;
            TimeSpan? retryAfter = null;
            try
            {
                return await attempt(ct).ConfigureAwait(false);
            }
            catch (RetryableException e)
            {
                reason = e.Message;
                retryAfter = e.RetryAfter;
            }
            catch (HttpRequestException e)
            {
                reason = e.InnerException?.Message ?? e.Message;
            }
            catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException)
            {
                reason = e.Message;
            }
            if (i >= attempts)
                throw new HubException(HubErrorKind.Network,
                    $"{reference}: {what} to {Endpoint} failed {i} times; last: {reason}. Check the network or HF_ENDPOINT, or set HF_HUB_OFFLINE=1 to use the cache.");
            var wait = retryAfter is { } ra && ra > delay ? ra : delay;
            if (wait > options.MaxRetryDelay) wait = options.MaxRetryDelay;
            await Task.Delay(wait, ct).ConfigureAwait(false);
            delay = delay * 2 > options.MaxRetryDelay ? options.MaxRetryDelay : delay * 2;
        }
    }

    private Task WithRetriesAsync(HubReference reference, string what, Func<CancellationToken, Task> attempt, CancellationToken ct) =>
        WithRetriesAsync(reference, what, async c =>
        {
            await attempt(c).ConfigureAwait(false);
            return true;
        }, ct);

    private HttpRequestMessage NewRequest(HttpMethod method, Uri url)
    {
        var request = new HttpRequestMessage(method, url);
        request.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue("identity"));
        request.Headers.UserAgent.Add(new ProductInfoHeaderValue("dphubert", typeof(HubClient).Assembly.GetName().Version?.ToString(3) ?? "0"));
        // The token goes to the endpoint only, never to the storage a download is redirected to.
        if (token is not null && SameOrigin(url, endpointUri))
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return request;
    }

    private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct)
    {
        HttpResponseMessage response;
        var asked = request.RequestUri!; // a client that follows redirects rewrites the request's URI
        using (var headers = CancellationTokenSource.CreateLinkedTokenSource(ct))
        {
            headers.CancelAfter(options.ReadTimeout);
            try
            {
                response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, headers.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                throw new RetryableException($"no answer from {request.RequestUri!.Host} within {options.ReadTimeout.TotalSeconds:0} s");
            }
        }
        if (response.RequestMessage?.RequestUri is { } sent && sent.ToString() != asked.ToString())
        {
            response.Dispose();
            throw new ArgumentException("HubOptions.HttpClient follows redirects itself, which hides the Hub's metadata; create it with a handler whose AllowAutoRedirect is false.");
        }
        int status = (int)response.StatusCode;
        if (status == 429 || status >= 500)
        {
            var after = response.Headers.RetryAfter is { } ra
                ? ra.Delta ?? (ra.Date is { } date ? date - DateTimeOffset.UtcNow : null)
                : null;
            response.Dispose();
            throw new RetryableException($"HTTP {status} from {request.RequestUri!.Host}", after);
        }
        return response;
    }

    /// <summary>One line for 401 / 403 / 404 and other client errors, using the Hub's X-Error-Code where sent.</summary>
    private void ThrowIfFailed(HttpResponseMessage response, HubReference reference)
    {
        int status = (int)response.StatusCode;
        if (status is >= 200 and < 300) return;
        string code = RawHeader(response, "X-Error-Code") ?? "";
        string repo = reference.RepoId, rev = reference.Revision, file = reference.File ?? "";
        bool hasToken = token is not null;
        throw (status, code) switch
        {
            (_, "GatedRepo") => new HubException(HubErrorKind.Forbidden,
                $"{repo} is gated: accept its conditions on the Hub, then set HF_TOKEN to a token of that account{(hasToken ? " (the token given has no access yet)" : "")}."),
            (_, "RepoNotFound") => new HubException(HubErrorKind.NotFound,
                $"repository {repo} not found at {Endpoint}{(hasToken ? "" : " (if it is private, set HF_TOKEN)")}."),
            (_, "RevisionNotFound") => new HubException(HubErrorKind.NotFound, $"revision '{rev}' not found in {repo}."),
            (_, "EntryNotFound") => new HubException(HubErrorKind.NotFound, $"file '{file}' not found in {repo} at revision '{rev}'."),
            (401, _) => new HubException(HubErrorKind.Unauthorized,
                hasToken ? $"HTTP 401 for {repo}: HF_TOKEN is not accepted (expired or without access)."
                         : $"HTTP 401 for {repo}: the repository is private, gated or missing; set HF_TOKEN to a token with access."),
            (403, _) => new HubException(HubErrorKind.Forbidden,
                $"HTTP 403 for {repo}: access is forbidden (a gated repository: accept its conditions on the Hub and set HF_TOKEN)."),
            (404, _) => new HubException(HubErrorKind.NotFound,
                $"HTTP 404 for {reference}: the repository {repo}, revision '{rev}' or file '{file}' does not exist."),
            _ => new HubException(HubErrorKind.Refused, $"HTTP {status} for {reference} from {response.RequestMessage?.RequestUri?.Host}."),
        };
    }

    private Uri ResolveLocation(Uri current, string location, HubReference reference)
    {
        Uri target;
        if (location.StartsWith("//", StringComparison.Ordinal)) location = current.Scheme + ":" + location;
        if (IsRelative(location)) target = new Uri(current, location);
        else if (!Uri.TryCreate(location, UriKind.Absolute, out target!))
            throw new HubException(HubErrorKind.Refused, $"{reference}: the server redirected to '{HubReference.Printable(location)}', which is not a URL; refused.");
        bool allowed = target.Scheme == Uri.UriSchemeHttps || (target.Scheme == Uri.UriSchemeHttp && current.Scheme == Uri.UriSchemeHttp);
        if (!allowed)
            throw new HubException(HubErrorKind.Refused,
                $"{reference}: the server redirected from {current.Scheme} to {target.Scheme}://{target.Host}; only https (or http from an http endpoint) is followed; refused.");
        return target;
    }

    /// <summary>A Location without scheme and host (<c>/api/...</c>, <c>../x</c>); <c>//host/x</c> names another host.</summary>
    private static bool IsRelative(string location)
    {
        if (location.StartsWith("//", StringComparison.Ordinal)) return false;
        if (location.StartsWith('/')) return true; // checked first: on Unix, Uri reads "/x" as file:///x
        return !Uri.TryCreate(location, UriKind.Absolute, out _);
    }

    private static bool SameOrigin(Uri a, Uri b) =>
        a.Scheme == b.Scheme && string.Equals(a.Host, b.Host, StringComparison.OrdinalIgnoreCase) && a.Port == b.Port;

    private static string? RawHeader(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values)
            ? values.FirstOrDefault()
            : null;

    private static string EscapePath(string path) => string.Join('/', path.Split('/').Select(Uri.EscapeDataString));

    private async Task<FileStream> AcquireLockAsync(string lockPath, HubReference reference, CancellationToken ct)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(lockPath)!);
        var waited = Stopwatch.StartNew();
        var pause = TimeSpan.FromMilliseconds(50);
        while (true)
        {
            try
            {
                // FileShare.None takes an exclusive flock on Unix, the lock huggingface_hub's filelock takes too.
                return new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (waited.Elapsed < options.LockTimeout)
            {
                await Task.Delay(pause, ct).ConfigureAwait(false);
                if (pause < TimeSpan.FromSeconds(1)) pause *= 2;
            }
            catch (IOException e)
            {
                throw new HubException(HubErrorKind.Network,
                    $"{reference}: another process has held {lockPath} for {waited.Elapsed.TotalMinutes:0} minutes (HubOptions.LockTimeout); remove the lock file if no download is running.", e);
            }
        }
    }

    private static long FreeBytes(string folder)
    {
        try
        {
            return new DriveInfo(Path.GetFullPath(folder)).AvailableFreeSpace;
        }
        catch (Exception e) when (e is IOException or ArgumentException or UnauthorizedAccessException)
        {
            return -1;
        }
    }

    /// <summary>The shard files a sharded index names, each checked to be a plain file name.</summary>
    private static List<string> ShardsOf(string indexPath)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(indexPath));
            if (!doc.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw new HubException(HubErrorKind.Refused, $"{indexPath} has no 'weight_map' object.");
            var shards = new List<string>();
            foreach (var entry in map.EnumerateObject())
            {
                string shard = entry.Value.GetString() ?? "";
                if (shard.Length == 0 || shard.Contains('/') || shard.Contains('\\') || shard is "." or "..")
                    throw new HubException(HubErrorKind.Refused, $"{indexPath}: shard name '{HubReference.Printable(shard)}' (for '{entry.Name}') is not a plain file name; refused.");
                if (!shards.Contains(shard, StringComparer.Ordinal)) shards.Add(shard);
            }
            return shards;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw new HubException(HubErrorKind.Refused, $"{indexPath} is not a weight index: {e.Message}", e);
        }
    }
}
