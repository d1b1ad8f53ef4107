using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using DpHubert.Config;
using DpHubert.PyTorch;

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
