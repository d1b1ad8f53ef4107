using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Enumeration;
using System.Linq;
using System.Runtime.InteropServices;
using DpHubert.Audio;

namespace DpHubert.IO;

/// <summary>
/// The audio files of a folder, as folder runs read them: recursively, every extension <see cref="AudioReader"/> reads,
/// following links to folders but reading each real folder once, and telling regular files from FIFOs, sockets and
/// devices without opening them (opening a FIFO that no program writes blocks forever; .NET's file APIs report all of
/// these as "Normal" files).
/// </summary>
public static class AudioFiles
{
    private const uint S_IFMT = 0xF000, S_IFREG = 0x8000;

    /// <summary>False for a path that is (or links to) something other than a regular file; true where it is one or
    /// where this platform's file type cannot be read here (then opening it is the only check left).</summary>
    /// <param name="path">The path.</param>
    public static bool IsRegularOrUnknown(string path)
    {
        // st_mode's offset in glibc's struct stat: after st_dev, st_ino (and st_nlink on x86-64).
        int modeOffset = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => 24,
            Architecture.Arm64 => 16,
            _ => -1,
        };
        if (!OperatingSystem.IsLinux() || modeOffset < 0) return true;
        var buffer = new byte[256]; // larger than struct stat on either architecture
        try
        {
            if (stat(path, buffer) != 0) return true; // gone or unreadable: the reader reports it
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return true; // a C library without a plain stat symbol (glibc before 2.33)
        }
        uint mode = BitConverter.ToUInt32(buffer, modeOffset);
        return (mode & S_IFMT) == S_IFREG;
    }

    /// <summary>The error of a folder entry that is not a regular file (a FIFO, socket or device): a run fails it
    /// without opening it, since opening a FIFO that no program writes blocks forever.</summary>
    /// <param name="path">The entry.</param>
    public static AudioFormatException NotRegularFile(string path) =>
        new($"{path}: not a regular file (a FIFO, socket or device): a folder run reads regular files only, so it was not opened.", path);

    /// <summary>The audio files below <paramref name="root"/> (<see cref="AudioReader.Extensions"/>, any case), full
    /// paths in ordinal order; see <see cref="FilesBelow"/>.</summary>
    /// <param name="root">The folder.</param>
    /// <param name="skipped">Told of each link to a folder not followed, and the folder it repeats; may be null.</param>
    public static List<string> Find(string root, Action<string, string>? skipped = null) =>
        FilesBelow(root, skipped ?? ((_, _) => { })).Where(AudioReader.HasAudioExtension).Order(StringComparer.Ordinal).ToList();

    /// <summary>
    /// Every file below <paramref name="root"/>, recursively, following links to folders but reading each real folder
    /// once: a link back to an ancestor would otherwise be followed about 40 levels deep, every file read again at
    /// each. <paramref name="skipped"/> is told of each link not followed and the folder it repeats.
    /// </summary>
    /// <param name="root">The folder.</param>
    /// <param name="skipped">Told of each link to a folder not followed, and the folder it repeats.</param>
    private static List<string> FilesBelow(string root, Action<string, string> skipped)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal) { RealPath(root) };
        var files = new FileSystemEnumerable<string>(root, (ref FileSystemEntry e) => e.ToFullPath(),
            new EnumerationOptions { RecurseSubdirectories = true })
        {
            ShouldIncludePredicate = (ref FileSystemEntry e) => !e.IsDirectory,
            ShouldRecursePredicate = (ref FileSystemEntry e) =>
            {
                string path = e.ToFullPath();
                string real = RealPath(path);
                if (seen.Add(real)) return true;
                skipped(path, real);
                return false;
            },
        };
        return files.ToList();
    }

    /// <summary>The path with every link resolved (the path itself where that fails).</summary>
    private static string RealPath(string path)
    {
        string full = Path.GetFullPath(path);
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS())
            return Directory.ResolveLinkTarget(full, returnFinalTarget: true)?.FullName ?? full;
        try
        {
            IntPtr resolved = realpath(full, IntPtr.Zero);
            if (resolved == IntPtr.Zero) return full;
            try { return Marshal.PtrToStringUTF8(resolved) ?? full; }
            finally { free(resolved); }
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return full;
        }
    }

    [DllImport("libc")]
    private static extern IntPtr realpath([MarshalAs(UnmanagedType.LPUTF8Str)] string path, IntPtr resolved);

    [DllImport("libc")]
    private static extern void free(IntPtr pointer);

    [DllImport("libc", SetLastError = true)]
    private static extern int stat([MarshalAs(UnmanagedType.LPUTF8Str)] string path, byte[] buffer);
}
