using System;
using System.IO;

namespace DpHubert;

/// <summary>Writes a file through a temporary sibling that is renamed over the target only on success.</summary>
internal static class AtomicFile
{
    public static void Write(string path, Action<FileStream> write)
    {
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full) ?? ".";
        var temp = Path.Combine(dir, TempName(Path.GetFileName(full)));
        try
        {
            using (var fs = new FileStream(temp, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16))
            {
                write(fs);
                fs.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            try
            {
                File.Delete(temp);
            }
            catch (IOException)
            {
                // Best effort: the original error matters more than a leftover temp file.
            }
            throw;
        }
    }

    /// <summary>The temporary sibling's name for <paramref name="fileName"/>: hidden, unique, ending in .tmp.</summary>
    private static string TempName(string fileName) => $".{fileName}.{Guid.NewGuid():N}.tmp";

    /// <summary>The file name a temporary sibling was written for (what <see cref="Write"/> would have renamed it
    /// to), or null when <paramref name="tempFileName"/> is not one of ours.</summary>
    public static string? TargetOfTemp(string tempFileName)
    {
        const int GuidChars = 32;
        if (tempFileName.Length < 1 + 1 + 1 + GuidChars + 4 || tempFileName[0] != '.' || !tempFileName.EndsWith(".tmp", StringComparison.Ordinal))
            return null;
        int guidStart = tempFileName.Length - 4 - GuidChars;
        if (tempFileName[guidStart - 1] != '.' || !Guid.TryParseExact(tempFileName.AsSpan(guidStart, GuidChars), "N", out _))
            return null;
        return tempFileName[1..(guidStart - 1)];
    }
}
