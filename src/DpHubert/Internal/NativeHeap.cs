using System;
using System.Diagnostics;
using System.Linq;
using System.Runtime.InteropServices;
using System.Threading;

namespace DpHubert;

/// <summary>
/// Gives the C heap's free pages back to the system now and then. libtorch's CPU tensors come from glibc malloc,
/// whose arenas keep freed memory for reuse; with recordings of varying lengths they fragment, and a process that
/// extracted HuBERT Base features from 1,000 clips of 0.5-4 s grew from 1.75 to 2.23 GB resident although it held no
/// more tensors. <c>malloc_trim</c> returns those pages, but every trim makes the next pass fault its memory in again
/// (trimming after every pass cost about 25% more CPU), so it runs only when the model is idle and at least
/// <see cref="ComputeBetweenTrims"/> of forward passes have run since the last one: a few percent of CPU at most.
/// Trimming alone leaves a sawtooth (HuBERT Base, clips of 0.5-4 s: peaks of 1.08-1.25 GB per 100 clips), because
/// glibc raises its mmap threshold to the size of each large block freed, so the front end's tens-of-MB activations
/// move into the arenas and fragment them; <see cref="FixLargeBlockThreshold"/> pins the threshold so those blocks are
/// mapped and unmapped whole (peaks of 0.78-0.79 GB for 7% more wall time in that run).
/// </summary>
internal static class NativeHeap
{
    /// <summary>Forward-pass time between two trims.</summary>
    public static readonly TimeSpan ComputeBetweenTrims = TimeSpan.FromSeconds(2);

    /// <summary>Blocks at least this large get their own mapping, returned to the system when freed.</summary>
    public const int LargeBlockBytes = 4 << 20;

    private const int M_MMAP_THRESHOLD = -3;
    private static int thresholdFixed; // 1 once FixLargeBlockThreshold has run in this process

    private static long computeTicks; // Stopwatch ticks of forward passes since the last trim
    private static int unavailable;   // 1 where there is no glibc malloc_trim / mallopt (macOS, Windows, musl)

    /// <summary>Counts a finished forward pass of <paramref name="stopwatchTicks"/> (<see cref="Stopwatch.ElapsedTicks"/>).</summary>
    public static void AddCompute(long stopwatchTicks) => Interlocked.Add(ref computeTicks, stopwatchTicks);

    /// <summary>Trims the heap when enough forward-pass time has run since the last trim; call when no pass is running.</summary>
    /// <returns>Whether it trimmed.</returns>
    public static bool TrimIfDue()
    {
        long due = (long)(ComputeBetweenTrims.TotalSeconds * Stopwatch.Frequency);
        long seen = Interlocked.Read(ref computeTicks);
        if (seen < due || Interlocked.CompareExchange(ref computeTicks, 0, seen) != seen) return false;
        return Trim();
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

    /// <summary>
    /// Sets glibc's mmap threshold to <see cref="LargeBlockBytes"/> once per process (it is process-wide, and
    /// setting it also stops glibc from raising it). Left alone where the process was started with glibc's own
    /// setting (<c>MALLOC_MMAP_THRESHOLD_</c>, or <c>GLIBC_TUNABLES</c> naming <c>glibc.malloc.mmap_threshold</c>):
    /// that is the host's choice.
    /// </summary>
    /// <returns>Whether this call set it.</returns>
    public static bool FixLargeBlockThreshold()
    {
        if (Interlocked.Exchange(ref thresholdFixed, 1) != 0 || HostChoseThreshold()) return false;
        return SetLargeBlockThreshold();
    }

    /// <summary>Sets the threshold now, every call (the once-per-process rule is <see cref="FixLargeBlockThreshold"/>'s).</summary>
    /// <returns>Whether glibc accepted it.</returns>
    internal static bool SetLargeBlockThreshold()
    {
        if (!OperatingSystem.IsLinux() || Volatile.Read(ref unavailable) != 0) return false;
        try
        {
            return mallopt(M_MMAP_THRESHOLD, LargeBlockBytes) == 1;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            Volatile.Write(ref unavailable, 1);
            return false;
        }
    }

    /// <summary>Whether this process was started with its own glibc mmap threshold.</summary>
    internal static bool HostChoseThreshold() =>
        HostChoseThreshold(Environment.GetEnvironmentVariable("MALLOC_MMAP_THRESHOLD_"), Environment.GetEnvironmentVariable("GLIBC_TUNABLES"));

    /// <summary>Whether these environment values set glibc's mmap threshold.</summary>
    internal static bool HostChoseThreshold(string? mallocMmapThreshold, string? glibcTunables) =>
        !string.IsNullOrEmpty(mallocMmapThreshold) ||
        (glibcTunables ?? "").Split(':').Any(t => t.StartsWith("glibc.malloc.mmap_threshold=", StringComparison.Ordinal));

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int mallopt(int param, int value);

    [DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int malloc_trim(nuint pad);
}
