using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;

namespace DpHubert.IO;

/// <summary>The temporary files a killed writer leaves next to its targets (every file here is written to a hidden
/// temporary sibling and renamed into place, so a kill leaves that sibling behind, never a partial target).</summary>
public static class PartialFiles
{
    /// <summary>The leftover temporary files of <paramref name="targets"/>: one scan per folder, only files written
    /// for one of these targets (other writers' temporaries in the same folder are not touched).</summary>
    /// <param name="targets">Feature or checkpoint files, in any folders.</param>
    public static IReadOnlyList<string> Find(IEnumerable<string> targets)
    {
        ArgumentNullException.ThrowIfNull(targets);
        var found = new List<string>();
        foreach (var folder in targets.Select(Path.GetFullPath).GroupBy(t => Path.GetDirectoryName(t) ?? ".", StringComparer.Ordinal))
        {
            if (!Directory.Exists(folder.Key)) continue;
            var names = folder.Select(Path.GetFileName).ToHashSet(StringComparer.Ordinal);
            foreach (var file in Directory.EnumerateFiles(folder.Key, ".*.tmp"))
                if (AtomicFile.TargetOfTemp(Path.GetFileName(file)) is { } target && names.Contains(target))
                    found.Add(file);
        }
        return found;
    }
}
