using System;
using System.Collections.Generic;
using DpHubert.Checkpoints.ConfigMaps;
using DpHubert.Checkpoints.KeyMaps;
using DpHubert.Config;
using DpHubert.PyTorch;

namespace DpHubert.Checkpoints.Formats;

/// <summary>fairseq wav2vec 2.0 / HuBERT / ContentVec checkpoints: <c>{"cfg" | "args", "model", ...}</c>, keys by
/// <see cref="FairseqKeyMap"/>, config by <see cref="FairseqConfigMap"/>; <c>final_proj</c> kept as the optional projection.</summary>
internal sealed class FairseqFormat : FormatReader
{
    private readonly PyDict _root;

    public FairseqFormat(PyDict root, string path, CheckpointReadOptions options) : base(path, CheckpointFormat.Fairseq, options) => _root = root;

    internal static bool Matches(PyDict d) =>
        d.DictAt("model") is not null && (d.DictAt("cfg") ?? d.DictAt("args")) is not null;

    public override KeyMap KeyMap => FairseqKeyMap.Instance;

    public override Wav2Vec2Config? TranslateConfig(LoadReport report) => FairseqConfig(_root, Source, report);

    public override IEnumerable<KeyValuePair<string, Tensor>> Weights(LoadReport report) => StateDict.FromPickled(_root["model"], Source, "model");

    // HuBERT / ContentVec / wav2vec 2.0 keep their final projection as an optional extra.
    public override (string Group, string Name)? Extra(string key) =>
        key is "final_proj.weight" or "final_proj.bias" ? (CheckpointLoader.FinalProjKey, key["final_proj.".Length..]) : null;

    public override Wav2Vec2Config ConfigFromWeights(Wav2Vec2Config? translated, StateDict weights, LoadReport report) =>
        WithAuxFromWeights(translated!, weights, report, "proj");

    public override void Finish(ModelCheckpoint checkpoint) => KeepProjection(checkpoint, "final_proj");

    /// <summary>The architecture from <c>cfg.model</c> (DictConfig or dict) or <c>args</c> (Namespace); for fine-tuned
    /// models from <c>w2v_args</c>, with the fine-tuning dropout overrides, as fairseq builds them.</summary>
    internal static Wav2Vec2Config FairseqConfig(PyDict root, string path, LoadReport report)
    {
        PyDict model, task;
        if (root.DictAt("cfg") is { } cfg)
        {
            model = cfg.DictAt("model")
                ?? throw new CheckpointFormatException("cfg has no 'model' section", path, "cfg.model");
            task = cfg.DictAt("task") ?? new PyDict();
        }
        else
        {
            model = (PyDict)root["args"]!;
            task = model;
        }

        PyDict arch = model;
        PyDict? overrides = null;
        var archName = Str(model, "_name") ?? Str(model, "arch");
        if (model.TryGetValue("w2v_args", out var w2v) || archName is not null && archName.EndsWith("_ctc", StringComparison.Ordinal))
        {
            if (w2v is not PyDict w2vArgs)
                throw new CheckpointFormatException(
                    $"a fine-tuned checkpoint without w2v_args: its architecture is in the pre-trained file ({Str(model, "w2v_path") ?? "w2v_path"})",
                    path, "w2v_args");
            arch = w2vArgs.DictAt("model") ?? w2vArgs;
            overrides = model;
            report.Notes.Add($"fine-tuned ({archName}): architecture from w2v_args, dropouts from the fine-tuning config");
        }
        var innerName = Str(arch, "_name") ?? Str(arch, "arch") ?? "";
        if (innerName.Contains("wavlm", StringComparison.OrdinalIgnoreCase) || innerName.Contains("data2vec", StringComparison.OrdinalIgnoreCase)
            || innerName.Contains("conformer", StringComparison.OrdinalIgnoreCase))
            throw new CheckpointFormatException($"fairseq model '{innerName}' is not supported (wav2vec 2.0 and HuBERT are)", path, "_name");
        var kind = FairseqConfigMap.KindOf(innerName);
        return Architecture(arch, overrides, new[] { (task, "task"), (model, "model") }, kind, path, report, "the fairseq config");
    }

    /// <summary>
    /// A wav2vec 2.0-style architecture section in fairseq's field names (<c>encoder_embed_dim</c>,
    /// <c>conv_feature_layers</c> ...), also what unilm's WavLM cfg uses. <paramref name="overrides"/> (a fine-tuning
    /// config) wins for the dropouts; <c>normalize</c> is taken from the first of <paramref name="normalizeSources"/> that has it.
    /// </summary>
    internal static Wav2Vec2Config Architecture(PyDict arch, PyDict? overrides, (PyDict Section, string Name)[] normalizeSources,
        ModelKind kind, string path, LoadReport report, string where)
    {
        if (Str(arch, "layer_type") is { } lt && lt != "transformer")
            throw new CheckpointFormatException($"layer_type '{lt}' is not supported (only 'transformer')", path, "layer_type");
        if (Str(arch, "activation_fn") is { } fn && fn != "gelu")
            throw new CheckpointFormatException($"activation_fn '{fn}' is not supported (only 'gelu')", path, "activation_fn");
        if (arch.TryGetValue("pos_conv_depth", out var depth) && depth is long d && d != 1)
            throw new CheckpointFormatException($"pos_conv_depth {d} is not supported (only 1)", path, "pos_conv_depth");

        var config = FairseqConfigMap.Read(arch.TryGetValue, overrides is null ? null : overrides.TryGetValue, kind, path, where, report);

        bool normalize = false;
        string? normalizeFrom = null;
        foreach (var (section, name) in normalizeSources)
            if (normalizeFrom is null && section.TryGetValue("normalize", out var n) && n is bool nb)
            {
                normalize = nb;
                normalizeFrom = name;
            }
        report.Notes.Add(normalizeFrom is null
            ? "normalize_waveform = false (the checkpoint does not say)"
            : $"normalize_waveform = {(normalize ? "true" : "false")} (from {normalizeFrom}.normalize)");
        return ConfigFiles.Translate((config with { NormalizeWaveform = normalize }).Validate, path, "cfg");
    }

    private static string? Str(PyDict d, string key) => d.TryGetValue(key, out var v) ? v as string : null;
}
