using System;
using System.Collections.Generic;
using DpHubert.Config;

namespace DpHubert.Checkpoints;

/// <summary>
/// A checkpoint read into memory: the model config, the state_dict in DPHuBERT key names, any extra tensors
/// (e.g. DPHuBERT's <c>distill_linear_projs</c>, ContentVec's <c>final_proj</c>) and the load report.
/// Owns its tensors; dispose it once the model is built.
/// </summary>
public sealed class ModelCheckpoint : IDisposable
{
    /// <summary>Creates the checkpoint.</summary>
    /// <param name="config">Model config.</param>
    /// <param name="stateDict">Weights in DPHuBERT key names.</param>
    /// <param name="report">What the load did.</param>
    public ModelCheckpoint(Wav2Vec2Config config, StateDict stateDict, LoadReport report)
    {
        Config = config;
        StateDict = stateDict;
        Report = report;
    }

    /// <summary>The model family, <see cref="Wav2Vec2Config.Kind"/> of <see cref="Config"/>: what the checkpoint declares
    /// (Hugging Face <c>model_type</c>, fairseq <c>_name</c>, the format itself); for a config dictionary, which declares
    /// none, WavLM when the config has WavLM head fields and wav2vec 2.0 otherwise.</summary>
    public ModelKind Kind => Config.Kind;

    /// <summary>The model config.</summary>
    public Wav2Vec2Config Config { get; }

    /// <summary>The weights, keyed as the model's state_dict.</summary>
    public StateDict StateDict { get; }

    /// <summary>Extra named tensor groups kept beside the model: <c>distill_linear_projs</c> (DPHuBERT),
    /// <c>final_proj</c> (HuBERT / ContentVec projection).</summary>
    public Dictionary<string, StateDict> Extras { get; } = new(StringComparer.Ordinal);

    /// <summary>What the load did.</summary>
    public LoadReport Report { get; }

    /// <summary>Disposes every tensor.</summary>
    public void Dispose()
    {
        StateDict.Dispose();
        foreach (var e in Extras.Values) e.Dispose();
    }
}
