using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace DpHubert.PyTorch;

/// <summary>The checks and the report of inert records.</summary>
internal static class InertRecords
{
    /// <summary>
    /// Refuses <paramref name="record"/> when a tensor or storage is reachable from it: weights inside an unknown
    /// object are not something we can read without knowing the class.
    /// </summary>
    public static void EnsureNoTensor(PendingRecord record, string file)
    {
        var seen = new HashSet<object>(ReferenceEqualityComparer.Instance);
        var todo = new Stack<object?>();
        todo.Push(record);
        while (todo.Count > 0)
        {
            var v = todo.Pop();
            if (v is null || v is string or long or double or bool or byte[] || !seen.Add(v))
                continue;
            switch (v)
            {
                case PendingTensor or StorageRef:
                    throw new UnsafePickleException(record.TypeName, file,
                        "an object of a class outside the allow-list holds a tensor");
                case PendingRecord r:
                    foreach (var a in r.Args) todo.Push(a);
                    todo.Push(r.Kwargs);
                    todo.Push(r.State);
                    todo.Push(r.DictItems);
                    todo.Push(r.ListItems);
                    break;
                case PyObject o:
                    foreach (var a in o.Args) todo.Push(a);
                    todo.Push(o.State);
                    break;
                case PyDict d:
                    foreach (var kv in d)
                    {
                        todo.Push(kv.Key);
                        todo.Push(kv.Value);
                    }
                    todo.Push(d.Attributes);
                    break;
                case List<object?> l:
                    foreach (var x in l) todo.Push(x);
                    break;
                case object?[] t:
                    foreach (var x in t) todo.Push(x);
                    break;
            }
        }
    }

    /// <summary>
    /// Where the inert records of a read checkpoint are, grouped by class, e.g.
    /// <c>fairseq.data.dictionary.Dictionary at task_state.dictionaries[0]</c>. Records inside records are not listed.
    /// </summary>
    public static List<string> Describe(object? root, int maxPathsPerType = 8)
    {
        var found = new List<(string Type, string Path)>();
        var seen = new HashSet<object>(ReferenceEqualityComparer.Instance);
        Walk(root, "", found, seen, 0);
        var lines = new List<string>();
        foreach (var group in found.GroupBy(f => f.Type))
        {
            var paths = group.Select(g => g.Path.Length == 0 ? "(top level)" : g.Path).ToList();
            var shown = string.Join(", ", paths.Take(maxPathsPerType));
            var more = paths.Count > maxPathsPerType ? $" and {paths.Count - maxPathsPerType} more" : "";
            lines.Add($"{group.Key} at {shown}{more} (not part of the model: read as an inert record, never executed)");
        }
        return lines;
    }

    private static void Walk(object? v, string path, List<(string, string)> found, HashSet<object> seen, int depth)
    {
        if (v is null || v is string or long or double or bool or byte[] || depth > 200 || !seen.Add(v))
            return;
        switch (v)
        {
            case InertRecord r:
                found.Add((r.IsTypeReference ? $"class {r.TypeName}" : r.TypeName, path));
                break;
            case PyDict d:
                foreach (var kv in d)
                    Walk(kv.Value, kv.Key is string s ? (path.Length == 0 ? s : $"{path}.{s}") : $"{path}[{Key(kv.Key)}]", found, seen, depth + 1);
                break;
            case List<object?> l:
                for (var i = 0; i < l.Count; i++) Walk(l[i], $"{path}[{i}]", found, seen, depth + 1);
                break;
            case object?[] t:
                for (var i = 0; i < t.Length; i++) Walk(t[i], $"{path}[{i}]", found, seen, depth + 1);
                break;
        }
    }

    private static string Key(object k) => k switch
    {
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => d.ToString(CultureInfo.InvariantCulture),
        _ => k.ToString() ?? "?",
    };
}
