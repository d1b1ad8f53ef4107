using System;
using System.Globalization;
using System.IO;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Threading;

namespace DpHubert;

/// <summary>
/// The <c>auto</c> GEMM backend's measurement, kept per machine in the user's cache folder
/// (<c>$XDG_CACHE_HOME/dphubert/gemm-backend</c>, else <c>~/.cache/dphubert/gemm-backend</c>), one small file per
/// CPU, libtorch build, thread count, oneDNN level setting and set of timed GEMM shapes. Every later process with the
/// same key reads the ratio instead of timing again: short commands skip the measurement's cost, and the processes of
/// a corpus run on one machine all take the same library (their features stay bit-identical). Processes that start
/// together wait for the first to measure (a lock file). Delete the folder to measure again; where it cannot be
/// written, each process measures for itself.
/// </summary>
internal static class GemmBackendRecord
{
    /// <summary>Replaces the folder (tests); null uses the user's cache folder.</summary>
    internal static string? DirectoryOverride { get; set; }

    /// <summary>How long a process waits for another that is measuring before it measures for itself.</summary>
    private static readonly TimeSpan LockWait = TimeSpan.FromSeconds(20);

    /// <summary>The folder, or null when no home or cache folder is known.</summary>
    internal static string? Folder
    {
        get
        {
            if (DirectoryOverride is { } d) return d;
            string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            string? root = !string.IsNullOrEmpty(xdg) ? xdg : string.IsNullOrEmpty(home) ? null : Path.Combine(home, ".cache");
            return root is null ? null : Path.Combine(root, "dphubert", "gemm-backend");
        }
    }

    /// <summary>The record's file for <paramref name="key"/> (<see cref="Key"/>), or null when no cache folder is known.</summary>
    internal static string? PathFor(string key)
    {
        if (Folder is not { } folder) return null;
        var hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(key)))[..16].ToLowerInvariant();
        return Path.Combine(folder, hash + ".txt");
    }

    /// <summary>What the measurement depends on: the timed <paramref name="shapes"/>, the CPU, the libtorch build, the
    /// thread count and oneDNN's level setting (read once per measurement: /proc/cpuinfo among them).</summary>
    internal static string Key(string shapes)
    {
        var torchSharp = typeof(TorchSharp.torch).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
                         ?? typeof(TorchSharp.torch).Assembly.GetName().Version?.ToString() ?? "?";
        return string.Join("\n", "v2", CpuSignature(), "torchsharp " + torchSharp,
            "threads " + TorchSharp.torch.get_num_threads().ToString(CultureInfo.InvariantCulture),
            "ONEDNN_MAX_CPU_ISA=" + Environment.GetEnvironmentVariable("ONEDNN_MAX_CPU_ISA"),
            "shapes " + shapes);
    }

    /// <summary>The first processor's identity and instruction sets from /proc/cpuinfo on Linux; elsewhere what the
    /// runtime tells.</summary>
    private static string CpuSignature()
    {
        try
        {
            if (File.Exists("/proc/cpuinfo"))
            {
                var sb = new StringBuilder();
                foreach (var line in File.ReadLines("/proc/cpuinfo"))
                {
                    if (line.Length == 0) break; // the first processor is enough
                    int colon = line.IndexOf(':');
                    if (colon < 0) continue;
                    string name = line[..colon].Trim();
                    if (name is "vendor_id" or "cpu family" or "model" or "model name" or "stepping" or "flags" or "Features" or "CPU implementer" or "CPU part")
                        sb.Append(name).Append('=').Append(line[(colon + 1)..].Trim()).Append(';');
                }
                if (sb.Length > 0) return sb.ToString();
            }
        }
        catch (IOException)
        {
            // Fall through to what the runtime knows.
        }
        catch (UnauthorizedAccessException)
        {
        }
        return $"{RuntimeInformation.ProcessArchitecture};{RuntimeInformation.OSDescription};{Environment.ProcessorCount};" +
               Environment.GetEnvironmentVariable("PROCESSOR_IDENTIFIER");
    }

    /// <summary>Reads a record: (BLAS, oneDNN) milliseconds, or null when absent or unreadable (then measured again).</summary>
    internal static (double Blas, double OneDnn)? Read(string path)
    {
        try
        {
            if (!File.Exists(path)) return null;
            double? blas = null, onednn = null;
            foreach (var line in File.ReadLines(path))
            {
                var parts = line.Split('=', 2);
                if (parts.Length != 2) continue;
                if (!double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || !(v > 0) || double.IsInfinity(v)) continue;
                if (parts[0] == "blas_ms") blas = v;
                else if (parts[0] == "onednn_ms") onednn = v;
            }
            return blas is { } b && onednn is { } o ? (b, o) : null;
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

    /// <summary>Writes a record atomically; false when the folder cannot be written (the choice then holds for this
    /// process only).</summary>
    internal static bool Write(string path, double blas, double onednn, string key)
    {
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var inv = CultureInfo.InvariantCulture;
            var text = $"blas_ms={blas.ToString("R", inv)}\nonednn_ms={onednn.ToString("R", inv)}\n" +
                       $"measured_utc={DateTime.UtcNow.ToString("O", inv)}\n# key:\n# {key.Replace("\n", "\n# ")}\n";
            AtomicFile.Write(path, fs => fs.Write(Encoding.UTF8.GetBytes(text)));
            return true;
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Holds the folder's lock file while the result is alive, so that processes starting together measure
    /// once; null when it could not be taken within <see cref="LockWait"/> or the folder cannot be written.</summary>
    internal static IDisposable? Lock(string path)
    {
        string lockPath = path + ".lock";
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
        var deadline = DateTime.UtcNow + LockWait;
        while (true)
        {
            try
            {
                return new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.None);
            }
            catch (UnauthorizedAccessException)
            {
                return null;
            }
            catch (IOException)
            {
                // Another process holds it (or the folder vanished): wait a little, then measure without it.
                if (DateTime.UtcNow >= deadline) return null;
                Thread.Sleep(20);
            }
        }
    }
}
