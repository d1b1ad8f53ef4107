using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace DpHubert.Tests.Hub;

/// <summary>
/// A loopback HTTP/1.1 server on 127.0.0.1 that speaks the Hub's download protocol: HEAD/GET on
/// <c>/ORG/REPO/resolve/REV/FILE</c> answer with X-Repo-Commit, an ETag (git SHA-1 for small files, the SHA-256 in
/// X-Linked-Etag for LFS files, which redirect to a separate <c>/blobs/SHA</c> path with X-Linked-Size), gated and
/// missing repositories answer as the Hub does (X-Error-Code), and faults can be injected per request.
/// </summary>
internal sealed class HubTestServer : IDisposable
{
    public sealed class Repo
    {
        public required string Id { get; init; }
        public string Commit { get; init; } = RandomCommit();
        public Dictionary<string, byte[]> Files { get; } = new(StringComparer.Ordinal);
        public string? RequiredToken { get; init; }
        public string? RenamedTo { get; init; }

        public static string RandomCommit() => Convert.ToHexString(RandomNumberGenerator.GetBytes(20)).ToLowerInvariant();
    }

    public sealed record Request(string Method, string Path, string? Range, string? Authorization);

    /// <summary>A fault for one request it applies to: it answers (or breaks) the request itself.</summary>
    public sealed record Fault(Func<Request, bool> AppliesTo, Action<Request, Stream, byte[]> Run);

    private readonly TcpListener listener;
    private readonly CancellationTokenSource stop = new();
    private readonly Task loop;
    private readonly ConcurrentDictionary<string, Repo> repos = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte[]> blobs = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<Request> log = new();
    private readonly Queue<Fault> faults = new();

    public HubTestServer()
    {
        listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        Endpoint = $"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}";
        loop = Task.Run(AcceptLoop);
    }

    public string Endpoint { get; }

    /// <summary>Where LFS redirects point (default: this server's own address).</summary>
    public string? BlobOrigin { get; set; }

    public IReadOnlyList<Request> Requests => log.ToArray();

    /// <summary>Extra headers a hostile server adds or overrides on resolve answers (e.g. ETag, X-Linked-Size).</summary>
    public ConcurrentDictionary<string, string> HeaderOverrides { get; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Bytes per write and the pause between writes of a body (a slow trickle); 0: all at once.</summary>
    public int TrickleBytes { get; set; }

    public TimeSpan TricklePause { get; set; } = TimeSpan.FromMilliseconds(20);

    /// <summary>Blob GETs wait until this many HEADs of any file have arrived (two clients both past their HEAD).</summary>
    public int HoldBlobsUntilHeads { get; set; }

    public Repo Add(Repo repo)
    {
        repos[repo.Id] = repo;
        foreach (var bytes in repo.Files.Values) blobs[Sha256(bytes)] = bytes;
        return repo;
    }

    /// <summary>Faults taken in order, one per request that reaches a body (HEAD or GET), until the queue is empty.</summary>
    public void Inject(params Fault[] next)
    {
        lock (faults)
            foreach (var f in next) faults.Enqueue(f);
    }

    private Fault? TakeFault(Request request)
    {
        lock (faults)
            return faults.TryPeek(out var f) && f.AppliesTo(request) ? faults.Dequeue() : null;
    }

    public int PendingFaults
    {
        get
        {
            lock (faults) return faults.Count;
        }
    }

    public static bool IsLfs(string file) =>
        file.EndsWith(".pth", StringComparison.Ordinal) || file.EndsWith(".pt", StringComparison.Ordinal)
        || file.EndsWith(".safetensors", StringComparison.Ordinal) || file.EndsWith(".bin", StringComparison.Ordinal);

    public static string Sha256(byte[] bytes) => Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant();

    public static string GitSha1(byte[] bytes)
    {
        var header = Encoding.ASCII.GetBytes($"blob {bytes.Length}\0");
        return Convert.ToHexString(SHA1.HashData(header.Concat(bytes).ToArray())).ToLowerInvariant();
    }

    public int Count(string method, string pathPart) =>
        Requests.Count(r => r.Method == method && r.Path.Contains(pathPart, StringComparison.Ordinal));

    private async Task AcceptLoop()
    {
        while (!stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await listener.AcceptTcpClientAsync(stop.Token);
            }
            catch (Exception)
            {
                return;
            }
            _ = Task.Run(async () =>
            {
                using (client)
                {
                    try
                    {
                        await Handle(client.GetStream());
                    }
                    catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
                    {
                        // the client went away or the test cut the connection
                    }
                }
            });
        }
    }

    private async Task Handle(NetworkStream stream)
    {
        var head = new StringBuilder();
        var one = new byte[1];
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            if (await stream.ReadAsync(one, stop.Token) == 0) return;
            head.Append((char)one[0]);
            if (head.Length > 16384) return;
        }
        var lines = head.ToString().Split("\r\n");
        var first = lines[0].Split(' ');
        var headers = lines.Skip(1).Where(l => l.Contains(':'))
            .ToDictionary(l => l[..l.IndexOf(':')].Trim(), l => l[(l.IndexOf(':') + 1)..].Trim(), StringComparer.OrdinalIgnoreCase);
        var request = new Request(first[0], Uri.UnescapeDataString(first[1]), headers.GetValueOrDefault("Range"), headers.GetValueOrDefault("Authorization"));
        log.Enqueue(request);
        await Respond(request, stream);
    }

    private async Task Respond(Request request, Stream stream)
    {
        bool head = request.Method == "HEAD";
        if (request.Path.StartsWith("/blobs/", StringComparison.Ordinal))
        {
            if (!blobs.TryGetValue(request.Path["/blobs/".Length..], out var blob))
            {
                await Send(stream, 404, new(), null, head);
                return;
            }
            if (HoldBlobsUntilHeads > 0)
                for (int i = 0; i < 600 && Count("HEAD", "/resolve/") < HoldBlobsUntilHeads; i++) await Task.Delay(100);
            if (TakeFault(request) is { } fault)
            {
                fault.Run(request, stream, blob);
                return;
            }
            await SendBody(stream, request, blob, new(), head);
            return;
        }
        // /ORG/REPO/resolve/REV/FILE
        var parts = request.Path.TrimStart('/').Split('/', 5);
        if (parts.Length < 5 || parts[2] != "resolve")
        {
            await Send(stream, 404, new(), null, head);
            return;
        }
        string repoId = parts[0] + "/" + parts[1], revision = parts[3], file = parts[4];
        if (!repos.TryGetValue(repoId, out var repo))
        {
            await Send(stream, 404, new() { ["X-Error-Code"] = "RepoNotFound" }, null, head);
            return;
        }
        if (repo.RenamedTo is { } renamed)
        {
            await Send(stream, 307, new() { ["Location"] = $"/{renamed}/resolve/{parts[3]}/{parts[4]}" }, null, head);
            return;
        }
        if (repo.RequiredToken is { } required && request.Authorization != $"Bearer {required}")
        {
            await Send(stream, request.Authorization is null ? 401 : 403, new() { ["X-Error-Code"] = "GatedRepo" }, null, head);
            return;
        }
        if (revision != "main" && revision != repo.Commit)
        {
            await Send(stream, 404, new() { ["X-Error-Code"] = "RevisionNotFound" }, null, head);
            return;
        }
        var common = new Dictionary<string, string> { ["X-Repo-Commit"] = repo.Commit };
        if (!repo.Files.TryGetValue(file, out var bytes))
        {
            common["X-Error-Code"] = "EntryNotFound";
            await Send(stream, 404, common, null, head);
            return;
        }
        if (TakeFault(request) is { } f)
        {
            f.Run(request, stream, bytes);
            return;
        }
        if (IsLfs(file))
        {
            common["ETag"] = $"\"{GitSha1(Encoding.ASCII.GetBytes("pointer " + file))}\"";
            common["X-Linked-Etag"] = $"\"{Sha256(bytes)}\"";
            common["X-Linked-Size"] = bytes.Length.ToString(CultureInfo.InvariantCulture);
            common["Location"] = $"{BlobOrigin ?? Endpoint}/blobs/{Sha256(bytes)}";
            foreach (var (k, v) in HeaderOverrides) common[k] = v;
            await Send(stream, 302, common, null, head);
            return;
        }
        common["ETag"] = $"\"{GitSha1(bytes)}\"";
        foreach (var (k, v) in HeaderOverrides) common[k] = v;
        await SendBody(stream, request, bytes, common, head);
    }

    private async Task SendBody(Stream stream, Request request, byte[] body, Dictionary<string, string> headers, bool head)
    {
        int from = 0;
        int status = 200;
        if (request.Range is { } range && range.StartsWith("bytes=", StringComparison.Ordinal))
        {
            from = int.Parse(range["bytes=".Length..].TrimEnd('-').Split('-')[0], CultureInfo.InvariantCulture);
            if (from >= body.Length)
            {
                await Send(stream, 416, new() { ["Content-Range"] = $"bytes */{body.Length}" }, null, head);
                return;
            }
            status = 206;
            headers["Content-Range"] = $"bytes {from}-{body.Length - 1}/{body.Length}";
        }
        await Send(stream, status, headers, body.AsMemory(from), head);
    }

    public async Task Send(Stream stream, int status, Dictionary<string, string> headers, ReadOnlyMemory<byte>? body, bool head, long? contentLength = null)
    {
        var text = new StringBuilder($"HTTP/1.1 {status} {Reason(status)}\r\n");
        if (!headers.ContainsKey("Content-Length"))
            text.Append($"Content-Length: {contentLength ?? body?.Length ?? 0}\r\n");
        foreach (var (k, v) in headers) text.Append($"{k}: {v}\r\n");
        text.Append("Connection: close\r\n\r\n");
        await stream.WriteAsync(Encoding.ASCII.GetBytes(text.ToString()));
        if (head || body is not { } b) return;
        if (TrickleBytes <= 0)
        {
            await stream.WriteAsync(b);
            return;
        }
        for (int at = 0; at < b.Length; at += TrickleBytes)
        {
            await stream.WriteAsync(b.Slice(at, Math.Min(TrickleBytes, b.Length - at)));
            await Task.Delay(TricklePause);
        }
    }

    private static string Reason(int status) => status switch
    {
        200 => "OK", 206 => "Partial Content", 302 => "Found", 307 => "Temporary Redirect", 401 => "Unauthorized",
        403 => "Forbidden", 404 => "Not Found", 416 => "Range Not Satisfiable", 429 => "Too Many Requests", _ => "Status",
    };

    // Faults.

    /// <summary>Announces the whole length but sends <paramref name="bytes"/> of it, then closes the connection.</summary>
    public Fault CutAfter(long bytes) => new(r => r.Method == "GET", (request, stream, body) =>
    {
        int from = request.Range is { } r ? int.Parse(r["bytes=".Length..].TrimEnd('-'), CultureInfo.InvariantCulture) : 0;
        var headers = new Dictionary<string, string>();
        if (from > 0) headers["Content-Range"] = $"bytes {from}-{body!.Length - 1}/{body.Length}";
        int take = (int)Math.Min(bytes, body!.Length - from);
        Send(stream, from > 0 ? 206 : 200, headers, body.AsMemory(from, take), false, contentLength: body.Length - from).GetAwaiter().GetResult();
        stream.Flush(); // the connection then closes with the body short
    });

    /// <summary>Answers with <paramref name="status"/> (429, 503, ...) and no body.</summary>
    public Fault Status(int status, string method, string? retryAfter = null) => new(r => r.Method == method, (request, stream, _) =>
    {
        var headers = new Dictionary<string, string>();
        if (retryAfter is not null) headers["Retry-After"] = retryAfter;
        Send(stream, status, headers, null, request.Method == "HEAD").GetAwaiter().GetResult();
    });

    /// <summary>Sends the right length of wrong bytes (one flipped).</summary>
    public Fault WrongBytes() => new(r => r.Method == "GET", (request, stream, body) =>
    {
        var bad = body!.ToArray();
        bad[bad.Length / 2] ^= 0xFF;
        Send(stream, 200, new(), bad, false).GetAwaiter().GetResult();
    });

    /// <summary>A chunked body that never ends (until the client leaves, or 256 MB).</summary>
    public Fault EndlessBody() => new(r => r.Method == "GET", (request, stream, _) =>
    {
        stream.Write(Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"));
        var chunk = new byte[65536];
        var size = Encoding.ASCII.GetBytes($"{chunk.Length:x}\r\n");
        for (int i = 0; i < 4096; i++)
        {
            stream.Write(size);
            stream.Write(chunk);
            stream.Write("\r\n"u8);
        }
    });

    public void Dispose()
    {
        stop.Cancel();
        listener.Stop();
        try
        {
            loop.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }
        stop.Dispose();
    }
}
