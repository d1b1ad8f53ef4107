using System;
using System.Linq;
using DpHubert.Checkpoints.KeyMaps;
using DpHubert.Config;
using DpHubert.PyTorch;
using static DpHubert.Checkpoints.LoadSteps;

namespace DpHubert.Checkpoints;

/// <summary>
/// microsoft/unilm WavLM checkpoints (<c>WavLM-Base+.pt</c>, <c>WavLM-Large.pt</c>; so-vits-svc's WavLMBasePlus encoder):
/// <c>{"cfg": WavLMConfig fields as a flat dict, "model": state_dict}</c>, keys by <see cref="UnilmWavLmKeyMap"/>.
/// </summary>
internal static class UnilmWavLmFormat
{
    /// <summary>A flat cfg (no fairseq <c>model</c> section) that describes a WavLM, beside the weights.</summary>
    public static bool Matches(PyDict root) =>
        root.TryGetValue("cfg", out var c) && c is PyDict cfg && !cfg.ContainsKey("model")
        && root.TryGetValue("model", out var m) && m is PyDict
        && (cfg.ContainsKey("relative_position_embedding") || cfg.ContainsKey("gru_rel_pos"));

    public static ModelCheckpoint Read(PyDict root, string path)
    {
        var report = new LoadReport(path, CheckpointFormat.UnilmWavLm);
        var cfg = (PyDict)root["cfg"]!;
        foreach (var key in new[] { "relative_position_embedding", "gru_rel_pos" })
            if (!cfg.TryGetValue(key, out var flag) || flag is not true)
                throw new CheckpointFormatException($"{key} is not true: only WavLM with gated relative position bias is supported", path, key);
        var config = FairseqFormat.Architecture(cfg, null, new[] { (cfg, "cfg") }, ModelKind.WavLM, path, report, "the WavLM cfg");
        var sd = LoadSteps.ApplyKeyMap(LoadSteps.ToStateDict(root["model"], path, "model"), UnilmWavLmKeyMap.Instance, report, path);
        return DisposeOnFailure(() =>
        {
            foreach (var other in root.Keys.OfType<string>().Where(k => k is not "model"))
                LoadSteps.DisposeTensors(root[other]);
            LoadSteps.CanonicalizeStateDict(sd, report, path);
            return new ModelCheckpoint(config, sd, report);
        }, () =>
        {
            sd.Dispose();
        });
    }
}
