using System.CommandLine;

namespace DpHubert.FeatureExtraction;

/// <summary><c>dphubert convert</c> (wired to the checkpoint converter).</summary>
internal static class ConvertCommand
{
    public static Command Create() => new("convert", "Convert any supported checkpoint to the DPHuBERT .pth layout or safetensors.");
}
