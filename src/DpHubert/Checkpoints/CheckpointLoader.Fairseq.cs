using System;
using System.Collections.Generic;
using System.Linq;
using DpHubert.Checkpoints.KeyMaps;
using DpHubert.Config;
using DpHubert.PyTorch;

namespace DpHubert.Checkpoints;

public static partial class CheckpointLoader
{
    /// <summary>Name of the <see cref="ModelCheckpoint.Extras"/> entry holding HuBERT / ContentVec's <c>final_proj</c>.</summary>
    public const string FinalProjKey = "final_proj";

    /// <summary>Name of the <see cref="ModelCheckpoint.Extras"/> entry holding DPHuBERT's distillation heads.</summary>
    public const string DistillLinearProjsKey = "distill_linear_projs";

    private static bool IsFairseq(PyDict d) =>
        d.TryGetValue("model", out var m) && m is PyDict
        && (d.TryGetValue("cfg", out var c) && c is PyDict || d.TryGetValue("args", out var a) && a is PyDict);

    /// <summary>A fairseq checkpoint: <c>{"cfg" | "args", "model", ...}</c>.</summary>
    private static ModelCheckpoint FromFairseq(PyDict root, string path)
    {
        var report = new LoadReport(path, CheckpointFormat.Fairseq);
        var config = FairseqConfig(root, path, report);
        var finalProj = new StateDict();
        StateDict? sd = null;
        try
        {
            var model = ToStateDict(root["model"], path, "model");
            sd = ApplyKeyMap(model, FairseqKeyMap.Instance, report, path, (key, tensor) =>
            {
                // HuBERT / ContentVec / wav2vec 2.0 keep their final projection as an optional extra.
                if (key is "final_proj.weight" or "final_proj.bias")
                {
                    finalProj[key["final_proj.".Length..]] = tensor;
                    return true;
                }
                return false;
            });
            foreach (var other in root.Keys.OfType<string>().Where(k => k != "model"))
                DisposeTensors(root[other]);
            CanonicalizeStateDict(sd, report, path);
            SetAuxFromWeights(ref config, sd, report, "proj");
            var checkpoint = new ModelCheckpoint(config, sd, report);
            KeepProjection(checkpoint, finalProj, "final_proj");
            return checkpoint;
        }
        catch
        {
            finalProj.Dispose();
            sd?.Dispose();
            throw;
        }
    }

    /// <summary>The architecture from <c>cfg.model</c> (DictConfig or dict) or <c>args</c> (Namespace); for fine-tuned
    /// models from <c>w2v_args</c>, with the fine-tuning dropout overrides, as fairseq builds them.</summary>
    private static Wav2Vec2Config FairseqConfig(PyDict root, string path, LoadReport report)
    {
        PyDict model, task;
        if (root.TryGetValue("cfg", out var c) && c is PyDict cfg)
        {
            model = cfg.TryGetValue("model", out var m) && m is PyDict md ? md
                : throw new CheckpointFormatException("cfg has no 'model' section", path, "cfg.model");
            task = cfg.TryGetValue("task", out var t) && t is PyDict td ? td : new PyDict();
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
            arch = w2vArgs.TryGetValue("model", out var inner) && inner is PyDict im ? im : w2vArgs;
            overrides = model;
            report.Notes.Add($"fine-tuned ({archName}): architecture from w2v_args, dropouts from the fine-tuning config");
        }
        var innerName = Str(arch, "_name") ?? Str(arch, "arch") ?? "";
        if (innerName.Contains("wavlm", StringComparison.OrdinalIgnoreCase) || innerName.Contains("data2vec", StringComparison.OrdinalIgnoreCase)
            || innerName.Contains("conformer", StringComparison.OrdinalIgnoreCase))
            throw new CheckpointFormatException($"fairseq model '{innerName}' is not supported (wav2vec 2.0 and HuBERT are)", path, "_name");
        return FairseqArchitecture(arch, overrides, new[] { (task, "task"), (model, "model") }, path, report, "the fairseq config");
    }

    /// <summary>
    /// A wav2vec 2.0-style architecture section in fairseq's field names (<c>encoder_embed_dim</c>,
    /// <c>conv_feature_layers</c> ...), also what unilm's WavLM cfg uses. <paramref name="overrides"/> (a fine-tuning
    /// config) wins for the dropouts; <c>normalize</c> is taken from the first of <paramref name="normalizeSources"/> that has it.
    /// </summary>
    internal static Wav2Vec2Config FairseqArchitecture(PyDict arch, PyDict? overrides, (PyDict Section, string Name)[] normalizeSources,
        string path, LoadReport report, string where)
    {
        if (Str(arch, "layer_type") is { } lt && lt != "transformer")
            throw new CheckpointFormatException($"layer_type '{lt}' is not supported (only 'transformer')", path, "layer_type");
        if (Str(arch, "activation_fn") is { } fn && fn != "gelu")
            throw new CheckpointFormatException($"activation_fn '{fn}' is not supported (only 'gelu')", path, "activation_fn");
        if (arch.TryGetValue("pos_conv_depth", out var depth) && depth is long d && d != 1)
            throw new CheckpointFormatException($"pos_conv_depth {d} is not supported (only 1)", path, "pos_conv_depth");

        T Get<T>(string key, T fallback, Func<object?, T> convert, string? overrideKey = null)
        {
            object? raw;
            if (overrides is not null && overrideKey is not null && overrides.TryGetValue(overrideKey, out var o) && o is not null) raw = o;
            else if (!arch.TryGetValue(key, out raw) || raw is null)
                return DefaultField(key, fallback, report, where, "fairseq's");
            return ConvertField(key, raw, convert, path);
        }
        static int Int(object? v) => Wav2Vec2Config.AsInt(v);
        static double Dbl(object? v) => Wav2Vec2Config.AsDouble(v);
        static bool Bool(object? v) => Wav2Vec2Config.AsBool(v);

        var mode = Get("extractor_mode", "default", v => v as string ?? throw new FormatException("expected a string"));
        if (mode is not ("default" or "layer_norm"))
            throw new CheckpointFormatException($"extractor_mode '{mode}' (expected 'default' or 'layer_norm')", path, "extractor_mode");
        var convText = Get("conv_feature_layers", "[(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512,2,2)] + [(512,2,2)]",
            v => v as string ?? throw new FormatException("expected a string"));
        IReadOnlyList<ConvLayerSpec> convLayers;
        try
        {
            convLayers = FairseqConvLayers.Parse(convText);
        }
        catch (FormatException e)
        {
            throw new CheckpointFormatException(e.Message, path, "conv_feature_layers", e);
        }
        int embed = Get("encoder_embed_dim", 768, Int);
        int layers = Get("encoder_layers", 12, Int);
        int heads = Get("encoder_attention_heads", 12, Int);
        int ffn = Get("encoder_ffn_embed_dim", 3072, Int);
        if (heads <= 0 || embed % heads != 0)
            throw new CheckpointFormatException($"encoder_embed_dim {embed} is not a multiple of encoder_attention_heads {heads}", path, "encoder_attention_heads");

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

        try
        {
            return new Wav2Vec2Config
            {
                ExtractorMode = mode == "layer_norm" ? ExtractorMode.LayerNorm : ExtractorMode.GroupNorm,
                ExtractorConvLayerConfig = convLayers,
                ExtractorConvBias = Get("conv_bias", false, Bool),
                EncoderEmbedDim = embed,
                EncoderProjectionDropout = Get("dropout_input", 0.0, Dbl, "dropout_input"),
                EncoderPosConvKernel = Get("conv_pos", 128, Int),
                EncoderPosConvGroups = Get("conv_pos_groups", 16, Int),
                EncoderNumLayers = layers,
                EncoderUseAttention = Enumerable.Repeat(true, layers).ToArray(),
                EncoderUseFeedForward = Enumerable.Repeat(true, layers).ToArray(),
                EncoderNumHeads = Enumerable.Repeat(heads, layers).ToArray(),
                EncoderHeadDim = embed / heads,
                EncoderAttentionDropout = Get("attention_dropout", 0.1, Dbl, "attention_dropout"),
                EncoderFfIntermFeatures = Enumerable.Repeat(ffn, layers).ToArray(),
                EncoderFfIntermDropout = Get("activation_dropout", 0.0, Dbl, "activation_dropout"),
                EncoderDropout = Get("dropout", 0.1, Dbl, "dropout"),
                EncoderLayerNormFirst = Get("layer_norm_first", false, Bool),
                EncoderLayerDrop = Get("encoder_layerdrop", 0.0, Dbl, "layerdrop"),
                NormalizeWaveform = normalize,
            }.Validate();
        }
        catch (ArgumentException e)
        {
            throw new CheckpointFormatException(e.Message, path, "cfg", e);
        }
    }

    private static string? Str(PyDict d, string key) => d.TryGetValue(key, out var v) ? v as string : null;
}
