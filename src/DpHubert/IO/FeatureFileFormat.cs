using System;
using System.IO;

namespace DpHubert.IO;

/// <summary>The file a feature array is written to.</summary>
public enum FeatureFileFormat
{
    /// <summary>A float32 <c>.npy</c> of the array's own shape, (frames, dim) or (layers, frames, dim); the audio
    /// file's extension is replaced (<c>a.wav</c> → <c>a.npy</c>), as RVC names its feature files.</summary>
    Npy,

    /// <summary>so-vits-svc's <c>&lt;name&gt;.wav.soft.pt</c>: a torch.save of a float32 [1, dim, frames] tensor;
    /// single-layer features only.</summary>
    SoftPt,
}

/// <summary>What a complete feature file holds, read back from the file.</summary>
/// <param name="Frames">Number of frames.</param>
/// <param name="Dim">Feature dimension.</param>
/// <param name="Shape">The array's shape in the file's own layout.</param>
public sealed record FeatureFileInfo(long Frames, long Dim, long[] Shape);

/// <summary>Naming, writing and checking feature files of each <see cref="FeatureFileFormat"/>.</summary>
public static class FeatureFiles
{
    /// <summary>Parses <c>npy</c> or <c>soft-pt</c> (case-insensitive).</summary>
    /// <exception cref="FormatException">Any other name; the message lists the valid ones.</exception>
    public static FeatureFileFormat ParseFormat(string text) => text?.Trim().ToLowerInvariant() switch
    {
        "npy" => FeatureFileFormat.Npy,
        "soft-pt" => FeatureFileFormat.SoftPt,
        _ => throw new FormatException($"unknown feature file format '{text}'; expected npy or soft-pt."),
    };

    /// <summary>The format's name as <see cref="ParseFormat"/> reads it.</summary>
    public static string Name(this FeatureFileFormat format) => format switch
    {
        FeatureFileFormat.Npy => "npy",
        FeatureFileFormat.SoftPt => "soft-pt",
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, null),
    };

    /// <summary>The feature file name for an audio file name: <c>a.wav</c> → <c>a.npy</c> or <c>a.wav.soft.pt</c>.</summary>
    public static string OutputName(this FeatureFileFormat format, string audioFileName) => format switch
    {
        FeatureFileFormat.Npy => Path.ChangeExtension(audioFileName, ".npy"),
        FeatureFileFormat.SoftPt => audioFileName + SoftPt.Suffix,
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, null),
    };

    /// <summary>Whether the format can hold features of this many dimensions (soft-pt holds one layer: 2-D).</summary>
    public static bool CanHold(this FeatureFileFormat format, int rank) => format == FeatureFileFormat.Npy || rank == 2;

    /// <summary>The shape features of <paramref name="shape"/> ((frames, dim) or (layers, frames, dim)) have in a file
    /// of this format ([1, dim, frames] for soft-pt).</summary>
    public static long[] StoredShape(this FeatureFileFormat format, long[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        return format == FeatureFileFormat.SoftPt ? new[] { 1, shape[^1], shape[^2] } : shape;
    }

    /// <summary>Writes features atomically (a temporary file renamed into place).</summary>
    /// <param name="format">The file format.</param>
    /// <param name="path">Destination.</param>
    /// <param name="data">float32 values in C order.</param>
    /// <param name="shape">(frames, dim), or (layers, frames, dim) for npy.</param>
    /// <exception cref="ArgumentException">soft-pt and features that are not (frames, dim).</exception>
    public static void Write(this FeatureFileFormat format, string path, float[] data, long[] shape)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(shape);
        switch (format)
        {
            case FeatureFileFormat.Npy:
                Npy.WriteFloat32(path, data, shape);
                break;
            case FeatureFileFormat.SoftPt:
                if (shape.Length != 2)
                    throw new ArgumentException($"a .soft.pt file holds one layer of shape (frames, dim), not {Shapes.Format(shape)}.", nameof(shape));
                SoftPt.WriteFloat32(path, data, shape[0], shape[1]);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(format), format, null);
        }
    }

    /// <summary>What the complete feature file at <paramref name="path"/> holds, or null when it is missing,
    /// cut short, corrupt or of another format (its header parses and its size matches its shape).</summary>
    public static FeatureFileInfo? Inspect(this FeatureFileFormat format, string path)
    {
        switch (format)
        {
            case FeatureFileFormat.Npy:
                var shape = Npy.TryReadFloat32Shape(path);
                return shape is { Length: >= 2 } ? new FeatureFileInfo(shape[^2], shape[^1], shape) : null;
            case FeatureFileFormat.SoftPt:
                var units = SoftPt.TryReadShape(path);
                return units is null ? null : new FeatureFileInfo(units[2], units[1], units);
            default:
                throw new ArgumentOutOfRangeException(nameof(format), format, null);
        }
    }
}
