using DpHubert.Hub;
using static TorchSharp.torch;

namespace DpHubert.Checkpoints;

/// <summary>Hints for formats that do not describe their own architecture.</summary>
public sealed record CheckpointReadOptions
{
    /// <summary>A preset name (<c>hubert_base</c> ...) for a bare state_dict.</summary>
    public string? Arch { get; init; }

    /// <summary>A DPHuBERT config JSON file for a bare state_dict or safetensors file.</summary>
    public string? ConfigPath { get; init; }

    /// <summary>How <c>hf://</c> checkpoints are fetched (null: endpoint, token, cache and offline mode from the
    /// environment, as huggingface_hub reads them).</summary>
    public HubOptions? Hub { get; init; }

    /// <summary>The type every floating weight is converted to at load (float32 unless a caller computes in another):
    /// a float16 / bfloat16 / float64 checkpoint is widened or narrowed once, here.</summary>
    public ScalarType WeightDType { get; init; } = ScalarType.Float32;
}
