using System.Collections.Generic;
using DpHubert.Checkpoints.KeyMaps;
using DpHubert.Config;
using DpHubert.PyTorch;

namespace DpHubert.Checkpoints.Formats;

/// <summary>
/// microsoft/unilm WavLM checkpoints (<c>WavLM-Base+.pt</c>, <c>WavLM-Large.pt</c>; so-vits-svc's WavLMBasePlus encoder):
/// <c>{"cfg": WavLMConfig fields as a flat dict, "model": state_dict}</c>, keys by <see cref="UnilmWavLmKeyMap"/>.
/// </summary>
internal sealed class UnilmWavLmFormat : FormatReader
{
    private readonly PyDict _root;

    public UnilmWavLmFormat(PyDict root, string path, CheckpointReadOptions options) : base(path, CheckpointFormat.UnilmWavLm, options) => _root = root;

    /// <summary>A flat cfg (no fairseq <c>model</c> section) that describes a WavLM, beside the weights.</summary>
    public static bool Matches(PyDict root) =>
        root.DictAt("cfg") is { } cfg && !cfg.ContainsKey("model") && root.DictAt("model") is not null
        && (cfg.ContainsKey("relative_position_embedding") || cfg.ContainsKey("gru_rel_pos"));

    public override KeyMap KeyMap => UnilmWavLmKeyMap.Instance;

    public override Wav2Vec2Config? TranslateConfig(LoadReport report)
    {
        var cfg = _root.DictAt("cfg")!;
        foreach (var key in new[] { "relative_position_embedding", "gru_rel_pos" })
            if (!cfg.TryGetValue(key, out var flag) || flag is not true)
                throw new CheckpointFormatException($"{key} is not true: only WavLM with gated relative position bias is supported", Source, key);
        return FairseqFormat.Architecture(cfg, null, new[] { (cfg, "cfg") }, ModelKind.WavLM, Source, report, "the WavLM cfg");
    }

    public override IEnumerable<KeyValuePair<string, Tensor>> Weights(LoadReport report) => StateDict.FromPickled(_root["model"], Source, "model");
}
