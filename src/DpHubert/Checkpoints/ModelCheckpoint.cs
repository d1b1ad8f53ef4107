using System;
using System.Collections.Generic;
using System.Linq;
using DpHubert.Config;
using DpHubert.PyTorch;

namespace DpHubert.Checkpoints;

/// <summary>The checkpoint layouts the loader recognizes.</summary>
public enum CheckpointFormat
{
    /// <summary>DPHuBERT / so-vits-svc <c>.pth</c>: <c>{"config", "state_dict"[, "distill_linear_projs"]}</c>.</summary>
    DpHubert,

    /// <summary>safetensors weights with a DPHuBERT config JSON beside them (what <c>convert</c> writes).</summary>
    DpHubertSafeTensors,

    /// <summary>A bare torchaudio <c>Wav2Vec2Model</c> state_dict (needs a preset or config).</summary>
    Torchaudio,

    /// <summary>A fairseq wav2vec 2.0 / HuBERT / ContentVec checkpoint (<c>{"cfg" | "args", "model"}</c>).</summary>
    Fairseq,

    /// <summary>A Hugging Face model folder (<c>config.json</c> + weights).</summary>
    HuggingFace,

    /// <summary>A microsoft/unilm WavLM checkpoint (<c>WavLM-Base+.pt</c>: <c>{"cfg", "model"}</c>).</summary>
    UnilmWavLm,

    /// <summary>bshall/hubert's HuBERT-Soft (a bare state_dict with <c>module.</c> prefixes).</summary>
    HubertSoft,

    /// <summary>A PyTorch Lightning <c>.ckpt</c> from DPHuBERT's distill.py / final_distill.py (config given separately).</summary>
    DpHubertLightning,
}

/// <summary>What a load did with the keys of a checkpoint: printed by the CLI's <c>--verbose</c>.</summary>
public sealed class LoadReport
{
    /// <summary>Creates an empty report.</summary>
    /// <param name="source">The file or folder.</param>
    /// <param name="format">Its format.</param>
    public LoadReport(string source, CheckpointFormat format)
    {
        Source = source;
        Format = format;
    }

    /// <summary>The file or folder.</summary>
    public string Source { get; }

    /// <summary>Its format.</summary>
    public CheckpointFormat Format { get; }

    /// <summary>Keys renamed by the format's key map: (original, ours).</summary>
    public List<(string From, string To)> Mapped { get; } = new();

    /// <summary>Keys of the file with no counterpart in the model, dropped on purpose (training-only heads ...).</summary>
    public List<string> Dropped { get; } = new();

    /// <summary>Model keys the file lacks that were given their default (<c>dummy_weight</c> = ones).</summary>
    public List<string> Defaulted { get; } = new();

    /// <summary>
    /// Objects of the file that are not part of the model and were read as <see cref="InertRecord"/>s (never
    /// executed, never used), by class and where they were, e.g. fairseq's label dictionaries in <c>task_state</c>.
    /// </summary>
    public List<string> Ignored { get; } = new();

    /// <summary>Anything else worth telling (config values derived, etc.).</summary>
    public List<string> Notes { get; } = new();

    /// <summary>A multi-line human-readable summary.</summary>
    public override string ToString()
    {
        var lines = new List<string> { $"Loaded {Source} as {Format}." };
        int renamed = Mapped.Count(m => m.From != m.To);
        lines.Add($"  keys: {Mapped.Count} loaded ({renamed} renamed), {Dropped.Count} dropped, {Defaulted.Count} defaulted");
        foreach (var (from, to) in Mapped.Where(m => m.From != m.To)) lines.Add($"  mapped   {from} -> {to}");
        foreach (var d in Dropped) lines.Add($"  dropped  {d}");
        foreach (var d in Defaulted) lines.Add($"  default  {d}");
        foreach (var i in Ignored) lines.Add($"  ignored  {i}");
        foreach (var n in Notes) lines.Add($"  note     {n}");
        return string.Join(Environment.NewLine, lines);
    }
}

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
    public Wav2Vec2Config Config { get; set; }

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
