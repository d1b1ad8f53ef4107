namespace DpHubert.Extraction;

/// <summary>Features of one input as a dense float32 array in C order.</summary>
/// <param name="Data">Values.</param>
/// <param name="Shape">[frames, dim], or [layers + 1, frames, dim] for <see cref="LayerSelection.AllLayers"/>.</param>
public sealed record FeatureArray(float[] Data, long[] Shape)
{
    /// <summary>Number of frames.</summary>
    public long Frames => Shape[^2];

    /// <summary>Feature dimension.</summary>
    public long Dim => Shape[^1];
}
