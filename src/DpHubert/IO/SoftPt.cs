using System;
using System.IO;
using DpHubert.PyTorch;
using static TorchSharp.torch;

namespace DpHubert.IO;

/// <summary>
/// so-vits-svc's unit files (<c>&lt;name&gt;.wav.soft.pt</c>): a <c>torch.save</c> of one float32 tensor of shape
/// [1, dim, frames], written with the same zip writer as our checkpoints so that <c>torch.load</c> reads it.
/// </summary>
public static class SoftPt
{
    /// <summary>The suffix so-vits-svc appends to the audio file's full name (extension kept): <c>a.wav</c> → <c>a.wav.soft.pt</c>.</summary>
    public const string Suffix = ".soft.pt";

    /// <summary>Writes features of shape (frames, dim) as a [1, dim, frames] float32 tensor, atomically (a
    /// temporary file renamed into place).</summary>
    /// <param name="path">Destination.</param>
    /// <param name="data">Values in C order, frame-major.</param>
    /// <param name="frames">Number of frames.</param>
    /// <param name="dim">Feature dimension.</param>
    public static void WriteFloat32(string path, float[] data, long frames, long dim)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (frames < 0 || dim < 0 || frames * dim != data.Length)
            throw new ArgumentException($"(frames {frames}, dim {dim}) holds {frames * dim} values, got {data.Length}.", nameof(data));
        using var scope = NewDisposeScope();
        var units = tensor(data, new[] { frames, dim }).t().unsqueeze(0);
        TorchCheckpointWriter.Save(path, units);
    }

    /// <summary>
    /// The shape [1, dim, frames] of a complete unit file: null when the file is missing, is not a torch zip file
    /// holding one 3-D float32 tensor with a leading 1, or any of its records is cut short.
    /// </summary>
    /// <param name="path">The file.</param>
    public static long[]? TryReadShape(string path)
    {
        if (!File.Exists(path)) return null;
        try
        {
            using var data = TorchCheckpointReader.Load(path);
            return data.Root.AsTensorOrNull is { dtype: ScalarType.Float32, shape: [1, _, _] } t ? t.shape : null;
        }
        catch (Exception e) when (e is CheckpointFormatException or InvalidDataException or IOException
                                      or UnauthorizedAccessException or FormatException or ArgumentException or NotSupportedException)
        {
            return null;
        }
    }
}
