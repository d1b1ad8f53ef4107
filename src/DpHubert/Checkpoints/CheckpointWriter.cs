using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using DpHubert.Config;
using DpHubert.PyTorch;
using static TorchSharp.torch;

namespace DpHubert.Checkpoints;

/// <summary>Writes model checkpoints in DPHuBERT's <c>.pth</c> layout or as safetensors + config JSON.</summary>
public static class CheckpointWriter
{
    /// <summary>
    /// Writes DPHuBERT's layout with <c>torch.save</c>'s zip format: <c>{"state_dict": OrderedDict, "config": dict,
    /// "distill_linear_projs": dict}</c>, the config as <see cref="Wav2Vec2Config.ToDictionary"/> gives it (conv layers
    /// as tuples). The file appears only once complete.
    /// </summary>
    /// <param name="path">Target file (.pth).</param>
    /// <param name="config">The model config.</param>
    /// <param name="stateDict">The weights in DPHuBERT key names (written in this order).</param>
    /// <param name="distillLinearProjs">DPHuBERT's distillation heads (an empty dict when null).</param>
    public static void SaveDpHubert(string path, Wav2Vec2Config config, IEnumerable<KeyValuePair<string, Tensor>> stateDict,
        StateDict? distillLinearProjs = null) => SaveDpHubert(path, config, stateDict, distillLinearProjs, null);

    /// <summary>
    /// As <see cref="SaveDpHubert(string, Wav2Vec2Config, IEnumerable{KeyValuePair{string, Tensor}}, StateDict?)"/>, plus an
    /// optional <c>final_proj</c> state_dict (HuBERT / ContentVec projection) stored as a fourth top-level entry
    /// <c>"final_proj"</c>, which DPHuBERT's own code ignores and <see cref="CheckpointLoader"/> reads back into
    /// <see cref="ModelCheckpoint.Extras"/>.
    /// </summary>
    /// <param name="path">Target file (.pth).</param>
    /// <param name="config">The model config.</param>
    /// <param name="stateDict">The weights in DPHuBERT key names.</param>
    /// <param name="distillLinearProjs">DPHuBERT's distillation heads, or null.</param>
    /// <param name="finalProj">The optional final projection (<c>weight</c>, <c>bias</c>), or null.</param>
    public static void SaveDpHubert(string path, Wav2Vec2Config config, IEnumerable<KeyValuePair<string, Tensor>> stateDict,
        StateDict? distillLinearProjs, StateDict? finalProj)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(stateDict);
        var sd = new PyDict(PyDict.OrderedDict);
        foreach (var (k, t) in stateDict) sd[k] = t;
        var cfg = new PyDict();
        foreach (var (k, v) in config.ToDictionary()) cfg[k] = v;
        var projs = new PyDict();
        if (distillLinearProjs is not null)
            foreach (var (k, t) in distillLinearProjs) projs[k] = t;
        var root = new PyDict { ["state_dict"] = sd, ["config"] = cfg, ["distill_linear_projs"] = projs };
        if (finalProj is not null && finalProj.Count > 0)
        {
            var fp = new PyDict(PyDict.OrderedDict);
            foreach (var (k, t) in finalProj) fp[k] = t;
            root[CheckpointLoader.FinalProjKey] = fp;
        }
        TorchCheckpointWriter.Save(path, root);
    }

    /// <summary>
    /// Writes the weights to <paramref name="path"/> (safetensors) and the config to <c>&lt;name&gt;.json</c> beside it
    /// (DPHuBERT key names, as <see cref="Wav2Vec2Config.ToJson"/>); the config is also stored in the file's metadata
    /// under <see cref="CheckpointLoader.SafeTensorsConfigMetadataKey"/>. Both files are written atomically.
    /// </summary>
    /// <param name="path">Target .safetensors file.</param>
    /// <param name="config">The model config.</param>
    /// <param name="stateDict">The weights in DPHuBERT key names.</param>
    /// <param name="extras">Extra groups (<c>distill_linear_projs</c>, <c>final_proj</c>) stored as
    /// <c>&lt;group&gt;.&lt;key&gt;</c>; null for none.</param>
    /// <returns>The path of the config JSON.</returns>
    public static string SaveSafeTensors(string path, Wav2Vec2Config config, IEnumerable<KeyValuePair<string, Tensor>> stateDict,
        IReadOnlyDictionary<string, StateDict>? extras = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(stateDict);
        var json = config.ToJson();
        var all = stateDict.ToList();
        if (extras is not null)
            foreach (var (group, sd) in extras)
                all.AddRange(sd.Select(kv => new KeyValuePair<string, Tensor>(group + "." + kv.Key, kv.Value)));
        var configPath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, Path.GetFileNameWithoutExtension(path) + ".json");
        SafeTensors.Save(path, all, new Dictionary<string, string>
        {
            ["format"] = "pt",
            [CheckpointLoader.SafeTensorsConfigMetadataKey] = config.ToJson(indented: false),
        });
        AtomicFile.Write(configPath, fs => fs.Write(Encoding.UTF8.GetBytes(json + "\n")));
        return configPath;
    }
}

/// <summary>Converts any readable checkpoint to DPHuBERT's <c>.pth</c> layout or to safetensors + config JSON.</summary>
public static class CheckpointConverter
{
    /// <summary>
    /// Reads <paramref name="input"/> (any format <see cref="CheckpointLoader.Read"/> accepts), validates it by building
    /// the model and loading it strictly, then writes <paramref name="output"/>: <c>.pth</c> / <c>.pt</c> → DPHuBERT
    /// layout (<see cref="CheckpointWriter.SaveDpHubert(string, Wav2Vec2Config, IEnumerable{KeyValuePair{string, Tensor}}, StateDict?, StateDict?)"/>),
    /// <c>.safetensors</c> → safetensors + <c>&lt;name&gt;.json</c>. The written state_dict is the model's (so it
    /// includes a defaulted <c>dummy_weight</c>); extras (distillation heads, final_proj) are carried over.
    /// </summary>
    /// <param name="input">A checkpoint file or model folder.</param>
    /// <param name="output">The file to write.</param>
    /// <param name="options">Format hints for the input.</param>
    /// <returns>The load report of the input.</returns>
    /// <exception cref="ArgumentException">An output extension other than .pth, .pt or .safetensors.</exception>
    public static LoadReport Convert(string input, string output, CheckpointReadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(output);
        var ext = Path.GetExtension(output).ToLowerInvariant();
        if (ext is not (".pth" or ".pt" or ".safetensors"))
            throw new ArgumentException($"Unsupported output extension '{ext}': use .pth, .pt or .safetensors", nameof(output));
        using var checkpoint = CheckpointLoader.Read(input, options);
        using var model = CheckpointLoader.BuildModel(checkpoint);
        var state = model.state_dict();
        var stateList = state.Select(kv => new KeyValuePair<string, Tensor>(kv.Key, kv.Value.detach())).ToList();
        try
        {
            if (ext == ".safetensors")
                CheckpointWriter.SaveSafeTensors(output, checkpoint.Config, stateList, checkpoint.Extras);
            else
                CheckpointWriter.SaveDpHubert(output, checkpoint.Config, stateList,
                    checkpoint.Extras.GetValueOrDefault(CheckpointLoader.DistillLinearProjsKey),
                    checkpoint.Extras.GetValueOrDefault(CheckpointLoader.FinalProjKey));
        }
        finally
        {
            foreach (var kv in stateList) kv.Value.Dispose();
        }
        checkpoint.Report.Notes.Add($"written to {output}");
        return checkpoint.Report;
    }
}

/// <summary>
/// The optional final projection of HuBERT / ContentVec (fairseq <c>final_proj</c>, a Linear E → final_dim) applied
/// to encoder features, as so-vits-svc does for ContentVec's 256-dim features.
/// </summary>
public sealed class FinalProjection : IDisposable
{
    private readonly Tensor _weight;
    private readonly Tensor? _bias;

    /// <summary>Creates the projection from its weights (copied).</summary>
    /// <param name="weight">[out, in].</param>
    /// <param name="bias">[out] or null.</param>
    public FinalProjection(Tensor weight, Tensor? bias)
    {
        ArgumentNullException.ThrowIfNull(weight);
        if (weight.dim() != 2) throw new ArgumentException($"final_proj weight must be 2-D, got {Shapes.Format(weight)}", nameof(weight));
        if (bias is not null && (bias.dim() != 1 || bias.shape[0] != weight.shape[0]))
            throw new ArgumentException($"final_proj bias {Shapes.Format(bias)} does not fit weight {Shapes.Format(weight)}", nameof(bias));
        _weight = weight.detach().to(float32).clone();
        _bias = bias?.detach().to(float32).clone();
    }

    /// <summary>Input width (the encoder width E).</summary>
    public long InFeatures => _weight.shape[1];

    /// <summary>Output width (final_dim).</summary>
    public long OutFeatures => _weight.shape[0];

    /// <summary>The projection of a checkpoint (<see cref="ModelCheckpoint.Extras"/>["final_proj"]), or null if it has none.</summary>
    /// <param name="checkpoint">A read checkpoint.</param>
    public static FinalProjection? FromCheckpoint(ModelCheckpoint checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        if (!checkpoint.Extras.TryGetValue(CheckpointLoader.FinalProjKey, out var sd) || !sd.TryGetValue("weight", out var w))
            return null;
        return new FinalProjection(w, sd.TryGetValue("bias", out var b) ? b : null);
    }

    /// <summary>Applies <c>x W^T + b</c> over the last dimension, on the features' device and dtype.</summary>
    /// <param name="features">(..., E).</param>
    public Tensor Apply(Tensor features)
    {
        ArgumentNullException.ThrowIfNull(features);
        if (features.shape[^1] != InFeatures)
            throw new ArgumentException($"features have width {features.shape[^1]}, final_proj expects {InFeatures}", nameof(features));
        using var w = _weight.to(features.dtype, features.device);
        using var b = _bias?.to(features.dtype, features.device);
        return nn.functional.linear(features, w, b);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _weight.Dispose();
        _bias?.Dispose();
    }
}
