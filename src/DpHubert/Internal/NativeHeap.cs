using System;
using System.Diagnostics;
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
/// </summary>
internal static class NativeHeap
{
    /// <summary>Forward-pass time between two trims.</summary>
    public static readonly TimeSpan ComputeBetweenTrims = TimeSpan.FromSeconds(2);

    private static long computeTicks; // Stopwatch ticks of forward passes since the last trim
    private static int unavailable;   // 1 where there is no glibc malloc_trim (macOS, Windows, musl)

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

    [DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int malloc_trim(nuint pad);
}
