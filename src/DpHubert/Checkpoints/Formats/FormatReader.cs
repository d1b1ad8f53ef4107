using System.Collections.Generic;
using DpHubert.Checkpoints.KeyMaps;
using DpHubert.Config;

namespace DpHubert.Checkpoints.Formats;

/// <summary>
/// What one checkpoint layout supplies to <see cref="CheckpointPipeline"/>, which does the rest (reading, ownership,
/// renaming, canonical form, the report): the tensors and their key map, the config, and the tensors it keeps beside
/// the model. A reader is made by <see cref="CheckpointPipeline"/>'s recognition over what was read, and never frees
/// a tensor: the pipeline's <see cref="LoadScope"/> owns them all.
/// </summary>
internal abstract class FormatReader
{
    protected FormatReader(string source, CheckpointFormat format, CheckpointReadOptions options)
    {
        Source = source;
        Format = format;
        Options = options;
    }

    /// <summary>The file or folder, as the report names it.</summary>
    public string Source { get; }

    /// <summary>The file errors about a weight's key name (a folder's weight file; otherwise <see cref="Source"/>).</summary>
    public virtual string WeightSource => Source;

    /// <summary>The layout.</summary>
    public CheckpointFormat Format { get; }

    /// <summary>The caller's hints.</summary>
    protected CheckpointReadOptions Options { get; }

    /// <summary>The table renaming <see cref="Weights"/> to the model's keys.</summary>
    public abstract KeyMap KeyMap { get; }

    /// <summary>The tensors the key map renames, under the file's names (notes about other entries go to the report).</summary>
    public abstract IEnumerable<KeyValuePair<string, Tensor>> Weights(LoadReport report);

    /// <summary>A weight the format keeps beside the model rather than in it: its <see cref="ModelCheckpoint.Extras"/>
    /// group and its name there; null for a weight of the model.</summary>
    public virtual (string Group, string Name)? Extra(string key) => null;

    /// <summary>The config from the format's own table (or file), with the model family it declares, before the
    /// weights are renamed; null when the format reads it off the weights (<see cref="ConfigFromWeights"/>).</summary>
    public abstract Wav2Vec2Config? TranslateConfig(LoadReport report);

    /// <summary>The final config, with the renamed canonical weights at hand: sizes a config does not state (the aux
    /// head's rows, prune flags, a whole architecture) are read off them. By default the translated config.</summary>
    public virtual Wav2Vec2Config ConfigFromWeights(Wav2Vec2Config? translated, StateDict weights, LoadReport report) =>
        translated!;

    /// <summary>What the format adds to the finished checkpoint (tensors it inserts are owned by the load's scope).</summary>
    public virtual void Finish(ModelCheckpoint checkpoint) { }

    /// <summary>Keeps an optional projection (fairseq's <c>final_proj</c>, HuBERT-Soft's <c>proj</c>) that
    /// <see cref="Extra"/> put in <see cref="ModelCheckpoint.Extras"/>[<see cref="CheckpointLoader.FinalProjKey"/>] when it
    /// has a weight; a group without one is left to the load's scope.</summary>
    protected static void KeepProjection(ModelCheckpoint checkpoint, string what)
    {
        if (!checkpoint.Extras.TryGetValue(CheckpointLoader.FinalProjKey, out var projection)) return;
        if (!projection.TryGetValue("weight", out var weight))
        {
            checkpoint.Extras.Remove(CheckpointLoader.FinalProjKey);
            return;
        }
        checkpoint.Report.Notes.Add($"{what} ({Shapes.Format(weight)}) kept as the optional projection Extras[\"{CheckpointLoader.FinalProjKey}\"]");
    }

    /// <summary><c>aux_num_out</c> = the rows of the renamed <c>aux.weight</c>, when there is one (CTC heads).</summary>
    protected static Wav2Vec2Config WithAuxFromWeights(Wav2Vec2Config config, StateDict weights, LoadReport report, string source)
    {
        if (!weights.TryGetValue("aux.weight", out var aux)) return config;
        int rows = (int)aux.shape[0];
        if (config.AuxNumOut != rows)
            report.Notes.Add($"aux_num_out = {rows} (rows of the {source} weight)");
        return config with { AuxNumOut = rows };
    }
}
