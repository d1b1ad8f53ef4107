using System;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Threading;

namespace DpHubert;

/// <summary>
/// Keeps the C heap's freed memory for reuse while passes run, and bounds how much of it stays resident. libtorch's
/// CPU tensors come from glibc malloc. Left to itself glibc maps every block above a sliding threshold (128 KB rising to
/// 32 MB) afresh and lets the rest fragment its arenas: over 1,000 HuBERT Base clips of 0.5-4 s the process grew by 28%
/// (tools/bench <c>soak</c>; its runs are recorded in tools/bench/README.md). Pinning the threshold at 4 MB kept that
/// flat but made every large activation a fresh mapping the kernel zeroes page by page (the same benchmark's
/// <c>Extract</c> against the raw forward). So blocks up to
/// <see cref="LargeBlockBytes"/> now come from the arenas and are reused pass after pass, free memory at the heap's top
/// is kept (<see cref="KeepTopBytes"/>), and <see cref="HeapTrimPolicy"/> returns free pages (<c>malloc_trim</c>) only
/// when no pass is running and either the resident free memory exceeds what the passes since the last trim can use, or
/// the process has been idle for <see cref="HeapTrimPolicy.DefaultIdleDelay"/>.
/// </summary>
internal static class NativeHeap
{
    /// <summary>Blocks at least this large get their own mapping, returned to the system when freed (a 40 s recording's
    /// first conv block and larger).</summary>
    public const int LargeBlockBytes = 256 << 20;

    /// <summary>Free memory at the heap's top up to this much stays mapped when a block is freed (glibc's default, 128 KB
    /// once the mmap threshold is set, gives it back after nearly every pass).</summary>
    public const int KeepTopBytes = 256 << 20;

    private const int M_TRIM_THRESHOLD = -1;
    private const int M_MMAP_THRESHOLD = -3;

    private static int configured;  // 1 once Configure has run in this process
    private static int unavailable; // 1 where there is no glibc malloc_trim / mallopt (macOS, Windows, musl)
    private static int activePasses;

    /// <summary>The process's trim policy (reads this process's resident memory, trims glibc's heap).</summary>
    public static HeapTrimPolicy Policy { get; } = new(ResidentBytes, Trim, () => Volatile.Read(ref activePasses) == 0, HeapTrimPolicy.DefaultIdleDelay);

    /// <summary>Sets glibc's mmap and trim thresholds once per process (they are process-wide; setting the mmap
    /// threshold also stops glibc from sliding it). Each is left alone where the process was started with glibc's own
    /// setting for it (<c>MALLOC_MMAP_THRESHOLD_</c> / <c>MALLOC_TRIM_THRESHOLD_</c>, or <c>GLIBC_TUNABLES</c> naming
    /// <c>glibc.malloc.mmap_threshold</c> / <c>glibc.malloc.trim_threshold</c>): that is the host's choice.</summary>
    /// <returns>Whether this call set either.</returns>
    public static bool Configure() =>
        Interlocked.Exchange(ref configured, 1) == 0 && Apply(Environment.GetEnvironmentVariable, SetOption);

    /// <summary>Sets each threshold the environment does not choose, through <paramref name="set"/> (mallopt).</summary>
    /// <returns>Whether it set either.</returns>
    internal static bool Apply(Func<string, string?> environment, Func<int, int, bool> set)
    {
        string? tunables = environment("GLIBC_TUNABLES");
        bool any = false;
        if (!HostChose(environment("MALLOC_MMAP_THRESHOLD_"), tunables, "mmap_threshold")) any |= set(M_MMAP_THRESHOLD, LargeBlockBytes);
        if (!HostChose(environment("MALLOC_TRIM_THRESHOLD_"), tunables, "trim_threshold")) any |= set(M_TRIM_THRESHOLD, KeepTopBytes);
        return any;
    }

    /// <summary>Whether this process was started with its own glibc mmap threshold.</summary>
    internal static bool HostChoseThreshold() =>
        HostChose(Environment.GetEnvironmentVariable("MALLOC_MMAP_THRESHOLD_"), Environment.GetEnvironmentVariable("GLIBC_TUNABLES"), "mmap_threshold");

    /// <summary>Whether these environment values set glibc's malloc tunable <paramref name="name"/> (e.g. mmap_threshold).</summary>
    internal static bool HostChose(string? mallocEnv, string? glibcTunables, string name) =>
        !string.IsNullOrEmpty(mallocEnv) ||
        (glibcTunables ?? "").Split(':').Any(t => t.StartsWith($"glibc.malloc.{name}=", StringComparison.Ordinal));

    /// <summary>Marks a forward pass of about <paramref name="estimatedBytes"/> as running; disposing it ends the pass,
    /// and the last pass to end lets the trim policy run.</summary>
    public static PassLease Pass(long estimatedBytes)
    {
        Interlocked.Increment(ref activePasses);
        return new PassLease(estimatedBytes);
    }

    /// <summary>Ends a pass begun by <see cref="Pass"/>.</summary>
    public readonly struct PassLease(long estimatedBytes) : IDisposable
    {
        public void Dispose()
        {
            Policy.PassEnded(estimatedBytes);
            if (Interlocked.Decrement(ref activePasses) == 0) Policy.Idle();
        }
    }

    /// <summary>Returns the C heap's free pages to the system (glibc only; elsewhere nothing happens).</summary>
    /// <returns>Whether it ran.</returns>
    public static bool Trim()
    {
        if (Volatile.Read(ref unavailable) != 0 || !OperatingSystem.IsLinux()) return false;
        try
        {
            malloc_trim(0);
            return true;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            Volatile.Write(ref unavailable, 1);
            return false;
        }
    }

    /// <summary>Calls glibc's mallopt now (the once-per-process rule is <see cref="Configure"/>'s).</summary>
    /// <returns>Whether glibc accepted it.</returns>
    internal static bool SetOption(int param, int value)
    {
        if (!OperatingSystem.IsLinux() || Volatile.Read(ref unavailable) != 0) return false;
        try
        {
            return mallopt(param, value) == 1;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            Volatile.Write(ref unavailable, 1);
            return false;
        }
    }

    /// <summary>Whether glibc serves a fresh block of <paramref name="bytes"/> from a mapping of its own (true) or
    /// from an arena (false); null off glibc. Reads the flag glibc keeps in the word before the block.</summary>
    internal static bool? IsOwnMapping(nuint bytes)
    {
        if (!OperatingSystem.IsLinux() || Volatile.Read(ref unavailable) != 0) return null;
        try
        {
            IntPtr p = malloc(bytes);
            if (p == IntPtr.Zero) return null;
            try
            {
                const long IsMmapped = 0x2; // glibc's chunk-size flag for a block with its own mapping
                return (Marshal.ReadInt64(p, -8) & IsMmapped) != 0;
            }
            finally
            {
                free(p);
            }
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return null;
        }
    }

    /// <summary>This process's resident memory in bytes (Linux /proc/self/statm), or null where it cannot be read.
    /// Read after every pass, so it allocates nothing managed (a stream's blocks must not feed the GC).</summary>
    internal static long? ResidentBytes()
    {
        if (!OperatingSystem.IsLinux()) return null;
        Span<byte> text = stackalloc byte[128];
        int n;
        try
        {
            using var file = File.OpenHandle("/proc/self/statm");
            n = RandomAccess.Read(file, text, 0);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        return ParseStatmResident(text[..n]) is { } pages ? pages * Environment.SystemPageSize : null;
    }

    /// <summary>The second field (resident pages) of a /proc/self/statm line, or null when it has none.</summary>
    internal static long? ParseStatmResident(ReadOnlySpan<byte> statm)
    {
        int space = statm.IndexOf((byte)' ');
        if (space < 0) return null;
        var rest = statm[(space + 1)..];
        long pages = 0;
        int digits = 0;
        for (; digits < rest.Length && rest[digits] is >= (byte)'0' and <= (byte)'9'; digits++) pages = pages * 10 + (rest[digits] - '0');
        return digits == 0 || digits > 18 ? null : pages;
    }

    /// <summary>Maps in every page of fresh memory about to be filled (<c>MADV_POPULATE_WRITE</c>, Linux 5.14+) in one
    /// call, instead of one page fault per page as the filling touches it; a hint only: where the kernel or libc has no
    /// such call, the pages fault in as before.</summary>
    /// <returns>Whether the kernel populated the range.</returns>
    internal static bool Prefault(IntPtr address, long bytes)
    {
        const int MADV_POPULATE_WRITE = 23;
        long page = Environment.SystemPageSize; // madvise takes page-aligned ranges (4 KB here, 16-64 KB on some arm64)
        if (!OperatingSystem.IsLinux() || Volatile.Read(ref noPopulate) != 0 || bytes < 64 * page) return false;
        long start = ((long)address + page - 1) & ~(page - 1);
        long end = ((long)address + bytes) & ~(page - 1);
        if (end <= start) return false;
        try
        {
            return madvise((IntPtr)start, (nuint)(end - start), MADV_POPULATE_WRITE) == 0;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            Volatile.Write(ref noPopulate, 1);
            return false;
        }
    }

    private static int noPopulate;

    [DllImport("libc", EntryPoint = "madvise")]
    private static extern int madvise(IntPtr address, nuint length, int advice);

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int mallopt(int param, int value);

    [DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int malloc_trim(nuint pad);

    [DllImport("libc", EntryPoint = "malloc")]
    private static extern IntPtr malloc(nuint size);

    [DllImport("libc", EntryPoint = "free")]
    private static extern void free(IntPtr p);
}

/// <summary>
/// When to give the C heap's free pages back. Free memory is worth keeping while it will be reused: after a pass, what
/// stays resident beyond the level the last trim left is that pass's working memory plus fragmentation. It trims when
/// no pass runs and that excess exceeds <see cref="SlackPerEstimatedByte"/> times the largest pass estimated since the
/// last trim (at least <see cref="MinimumSlackBytes"/>), so passes of a steady size never trim (every trim makes the next
/// pass fault its memory in again: trimming after every pass cost about 25% more CPU) and growth by fragmentation is cut
/// off; and, once no pass has run for the idle delay (<see cref="DefaultIdleDelay"/>), it trims so an idle process holds little.
/// </summary>
internal sealed class HeapTrimPolicy
{
    /// <summary>Resident free memory allowed per byte of the largest estimated pass since the last trim.</summary>
    public const double SlackPerEstimatedByte = 2.0;

    /// <summary>Resident free memory always allowed.</summary>
    public const long MinimumSlackBytes = 64L << 20;

    /// <summary>No pass for this long: trim (long enough that requests a few seconds apart keep their memory warm).</summary>
    public static readonly TimeSpan DefaultIdleDelay = TimeSpan.FromSeconds(10);

    private readonly Func<long?> residentBytes;
    private readonly Func<bool> trim;
    private readonly object gate = new();
    private readonly Func<bool> noPassRunning;
    private readonly Timer? idleTimer;
    private readonly TimeSpan idleDelay;
    private long floor = -1;     // resident bytes right after the last trim; -1 before the first
    private long largestPass;    // largest pass estimate since the last trim
    private long passesEnded;    // passes ended so far (the idle timer trims only if none ended since it was set)
    private long timerSetAt = -1;

    /// <summary>A policy over these readings and actions (the process's own, or a test's).</summary>
    /// <param name="residentBytes">The process's resident memory now, or null where unknown (then only idle trims).</param>
    /// <param name="trim">Returns free pages to the system; false where it cannot.</param>
    /// <param name="noPassRunning">Whether no pass runs now (checked again when the idle timer fires).</param>
    /// <param name="idleDelay">How long without a pass before the idle timer trims (<see cref="DefaultIdleDelay"/>);
    /// null: no timer (tests call <see cref="IdleTimerFired"/> themselves).</param>
    public HeapTrimPolicy(Func<long?> residentBytes, Func<bool> trim, Func<bool> noPassRunning, TimeSpan? idleDelay)
    {
        this.idleDelay = idleDelay ?? TimeSpan.Zero;
        this.residentBytes = residentBytes;
        this.trim = trim;
        this.noPassRunning = noPassRunning;
        if (idleDelay is not null) this.idleTimer = new Timer(_ => IdleTimerFired(), null, Timeout.Infinite, Timeout.Infinite);
    }

    /// <summary>Trims done by this policy.</summary>
    public long Trims { get; private set; }

    /// <summary>Passes ended so far.</summary>
    public long PassesEnded
    {
        get
        {
            lock (gate) return passesEnded;
        }
    }

    /// <summary>Records a finished pass of about <paramref name="estimatedBytes"/>.</summary>
    public void PassEnded(long estimatedBytes)
    {
        lock (gate)
        {
            largestPass = Math.Max(largestPass, estimatedBytes);
            passesEnded++;
        }
    }

    /// <summary>The last running pass ended: trims if the resident free memory exceeds the allowance, and arms the idle timer.</summary>
    /// <returns>Whether it trimmed.</returns>
    public bool Idle()
    {
        lock (gate)
        {
            timerSetAt = passesEnded;
            idleTimer?.Change(idleDelay, Timeout.InfiniteTimeSpan);
            if (residentBytes() is not { } now) return false;
            if (floor >= 0 && now - floor <= Allowance) return false;
            return TrimNow();
        }
    }

    /// <summary>The idle timer: trims unless a pass ended since it was armed or one is running.</summary>
    /// <returns>Whether it trimmed.</returns>
    public bool IdleTimerFired()
    {
        lock (gate)
        {
            if (timerSetAt != passesEnded || !noPassRunning() || largestPass == 0) return false;
            return TrimNow();
        }
    }

    /// <summary>Resident bytes above the last trim's level that idle passes may keep.</summary>
    public long Allowance => Math.Max(MinimumSlackBytes, (long)(SlackPerEstimatedByte * largestPass));

    private bool TrimNow()
    {
        bool done = trim();
        floor = residentBytes() ?? -1;
        largestPass = 0;
        if (done) Trims++;
        return done;
    }
}
