using System;
using System.Collections;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using DpHubert.Checkpoints.ConfigMaps;
using DpHubert.Checkpoints.KeyMaps;
using DpHubert.Config;
using DpHubert.PyTorch;
using static TorchSharp.torch;

namespace DpHubert.Checkpoints.Formats;

/// <summary>Hugging Face models (config.json, preprocessor_config.json and one weight layout), keys by
/// <see cref="HuggingFaceKeyMap"/>, config by <see cref="HuggingFaceConfigMap"/>: a model folder, or its weights given
/// as a file with the config.json beside them.</summary>
internal sealed class HuggingFaceFormat : FormatReader
{
    private readonly IEnumerable<KeyValuePair<string, Tensor>> _weights;
    private readonly string _configPath;
    private readonly string _weightSource;
    private readonly Dictionary<string, object?> _cfg;

    private HuggingFaceFormat(IEnumerable<KeyValuePair<string, Tensor>> weights, string configPath, string source, string weightSource, CheckpointReadOptions options)
        : base(source, CheckpointFormat.HuggingFace, options)
    {
        _weights = weights;
        _configPath = configPath;
        _weightSource = weightSource;
        _cfg = ConfigFiles.ReadJsonObject(configPath);
    }

    /// <summary>A Hugging Face model folder: config.json (+ preprocessor_config.json) and one weight layout.</summary>
    public static HuggingFaceFormat FromFolder(string path, CheckpointReadOptions options)
    {
        var configPath = Path.Combine(path, "config.json");
        if (!File.Exists(configPath))
        {
            var files = Directory.GetFiles(path).Select(Path.GetFileName).OrderBy(x => x, StringComparer.Ordinal).ToList();
            throw new CheckpointFormatException(
                "not a Hugging Face model folder: no config.json (found: " + (files.Count == 0 ? "nothing" : string.Join(", ", files)) + ")", path);
        }
        var weights = ReadHfWeights(path, out var weightSource);
        return new HuggingFaceFormat(weights, configPath, path, weightSource, options);
    }

    /// <summary>HF weights given as a file (<c>pytorch_model.bin</c>, or a .safetensors file whose config is HF's): the
    /// config is <paramref name="configPath"/> or the config.json beside the file.</summary>
    public static HuggingFaceFormat FromWeightFile(IEnumerable<KeyValuePair<string, Tensor>> weights, string path, CheckpointReadOptions options, string? configPath = null)
    {
        configPath ??= Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, "config.json");
        if (!File.Exists(configPath))
            throw new CheckpointFormatException(
                "these are Hugging Face weights without their config.json: load the model folder (config.json beside the weights)", path);
        return new HuggingFaceFormat(weights, configPath, path, path, options);
    }

    /// <summary>A config JSON written by transformers (it names the model type or class).</summary>
    public static bool IsHuggingFaceConfig(IReadOnlyDictionary<string, object?> config) =>
        config.ContainsKey("model_type") || config.ContainsKey("architectures");

    /// <summary>HF names the projection <c>feature_projection.*</c> and the layers <c>encoder.layers.*</c>; we
    /// (torchaudio, DPHuBERT) nest both under <c>encoder.</c> / <c>encoder.transformer.</c>.</summary>
    public static bool HasHuggingFaceNames(IEnumerable<string> keys) => keys.Any(k =>
        !HuggingFaceKeyMap.Instance.Map(k).Unknown
        && (k.StartsWith("feature_projection.", StringComparison.Ordinal) || k.StartsWith("encoder.layers.", StringComparison.Ordinal)
            || k.Contains(".feature_projection.", StringComparison.Ordinal) && !k.Contains("encoder.feature_projection.", StringComparison.Ordinal)));

    public override string WeightSource => _weightSource;

    public override KeyMap KeyMap => HuggingFaceKeyMap.Instance;

    public override IEnumerable<KeyValuePair<string, Tensor>> Weights(LoadReport report) => _weights;

    public override Wav2Vec2Config? TranslateConfig(LoadReport report)
    {
        var preprocessorPath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(_configPath))!, "preprocessor_config.json");
        var pre = File.Exists(preprocessorPath) ? ConfigFiles.ReadJsonObject(preprocessorPath) : null;
        report.Notes.Add($"weights from {Path.GetFileName(_weightSource)}");
        return HfConfig(_cfg, pre, _configPath, report);
    }

    /// <summary>The CTC head's size: <c>aux_num_out</c> = the rows of <c>lm_head</c> (renamed <c>aux</c>).</summary>
    public override Wav2Vec2Config ConfigFromWeights(Wav2Vec2Config? translated, StateDict weights, LoadReport report)
    {
        var architectures = Architectures(_cfg);
        bool ctcArch = architectures.Any(x => x.EndsWith("ForCTC", StringComparison.Ordinal));
        if (weights.TryGetValue("aux.weight", out var aux))
        {
            int rows = (int)aux.shape[0];
            if (_cfg.TryGetValue("vocab_size", out var vs) && vs is long vocab && vocab != rows)
                report.Notes.Add($"vocab_size {vocab} differs from the lm_head rows {rows}; using {rows}");
            report.Notes.Add($"aux_num_out = {rows} (lm_head → aux)");
            return ConfigFiles.Translate((translated! with { AuxNumOut = rows }).Validate, _configPath, null);
        }
        if (ctcArch)
            throw new CheckpointFormatException($"{architectures.First(x => x.EndsWith("ForCTC", StringComparison.Ordinal))} without lm_head weights", _configPath, "lm_head.weight");
        return translated!;
    }

    /// <summary>Models whose feature projection has no LayerNorm get an identity one (ones, zeros).</summary>
    public override void Finish(ModelCheckpoint checkpoint)
    {
        var sd = checkpoint.StateDict;
        if (sd.ContainsKey("encoder.feature_projection.layer_norm.weight") || HfFeatProjLayerNorm(_cfg)) return;
        int channels = checkpoint.Config.ExtractorOutputChannels;
        sd["encoder.feature_projection.layer_norm.weight"] = ones(channels, dtype: Options.WeightDType);
        sd["encoder.feature_projection.layer_norm.bias"] = zeros(channels, dtype: Options.WeightDType);
        checkpoint.Report.Notes.Add("the feature projection has no LayerNorm (feat_proj_layer_norm = false): "
            + "inserted an identity one (encoder.feature_projection.layer_norm weight = 1, bias = 0)");
    }

    private static List<string> Architectures(Dictionary<string, object?> cfg) =>
        cfg.TryGetValue("architectures", out var a) && a is IList list ? list.OfType<string>().ToList() : new List<string>();

    /// <summary>Loads model.safetensors, pytorch_model.bin, or their sharded forms (an *.index.json).</summary>
    internal static List<KeyValuePair<string, Tensor>> ReadHfWeights(string folder, out string weightSource)
    {
        foreach (var (index, single) in new[]
                 {
                     ("model.safetensors.index.json", "model.safetensors"),
                     ("pytorch_model.bin.index.json", "pytorch_model.bin"),
                 })
        {
            var singlePath = Path.Combine(folder, single);
            if (File.Exists(singlePath))
            {
                weightSource = singlePath;
                return ReadWeightFile(singlePath);
            }
            var indexPath = Path.Combine(folder, index);
            if (File.Exists(indexPath))
            {
                weightSource = indexPath;
                return ReadShards(folder, indexPath);
            }
        }
        var other = new[] { "tf_model.h5", "flax_model.msgpack" }.Where(f => File.Exists(Path.Combine(folder, f))).ToList();
        throw new CheckpointFormatException(
            "no weights: expected model.safetensors, pytorch_model.bin or a sharded *.index.json"
            + (other.Count > 0 ? $" (found {string.Join(", ", other)}, which is not supported: save the model with PyTorch)" : ""), folder);
    }

    /// <summary>One weight file: safetensors, or a pickled state_dict (bare or under <c>state_dict</c>).</summary>
    internal static List<KeyValuePair<string, Tensor>> ReadWeightFile(string file)
    {
        if (file.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
        {
            using var st = SafeTensors.Load(file);
            return st.Keys.ToList().Select(k => new KeyValuePair<string, Tensor>(k, st.Detach(k))).ToList();
        }
        var data = TorchCheckpointReader.Load(file);
        data.TakeTensors(); // the load's scope owns them: each was created inside it
        return CheckpointPipeline.BareWeights(data.Root.ExpectDict(file, null), file, new List<string>()).ToList();
    }

    internal static List<KeyValuePair<string, Tensor>> ReadShards(string folder, string indexPath)
    {
        var index = ConfigFiles.ReadJsonObject(indexPath);
        index.TryGetValue("weight_map", out var wm);
        var map = AsStringMap(wm) ?? throw new CheckpointFormatException("the index has no 'weight_map' object", indexPath, "weight_map");
        var result = new List<KeyValuePair<string, Tensor>>();
        foreach (var shard in map.Values.Distinct(StringComparer.Ordinal))
        {
            if (shard.Contains('/') || shard.Contains('\\') || shard.Contains(".."))
                throw new CheckpointFormatException($"shard name '{shard}' is not a plain file name", indexPath, "weight_map");
            var shardPath = Path.Combine(folder, shard);
            if (!File.Exists(shardPath))
                throw new CheckpointFormatException($"shard '{shard}' listed in the index is missing", indexPath, map.First(kv => kv.Value == shard).Key);
            var tensors = ReadWeightFile(shardPath);
            var names = new HashSet<string>(tensors.Select(t => t.Key), StringComparer.Ordinal);
            result.AddRange(tensors);
            var lacking = map.Where(kv => kv.Value == shard && !names.Contains(kv.Key)).Select(kv => kv.Key).FirstOrDefault();
            if (lacking is not null)
                throw new CheckpointFormatException($"the index places this key in '{shard}', which lacks it", indexPath, lacking);
        }
        return result;
    }

    private static Dictionary<string, string>? AsStringMap(object? v)
    {
        // JSON objects arrive as lists of key/value pairs (Wav2Vec2Config.FromJsonElement).
        if (v is not IEnumerable<KeyValuePair<string, object?>> pairs) return null;
        var r = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (k, value) in pairs)
        {
            if (value is not string file) return null;
            r[k] = file;
        }
        return r;
    }

    private static bool HfFeatProjLayerNorm(Dictionary<string, object?> cfg) =>
        !cfg.TryGetValue("feat_proj_layer_norm", out var v) || v is not false;

    /// <summary>HF config.json (+ preprocessor_config.json) → our config.</summary>
    private static Wav2Vec2Config HfConfig(Dictionary<string, object?> cfg, Dictionary<string, object?>? pre, string path,
        LoadReport report)
    {
        string? modelType = cfg.TryGetValue("model_type", out var mt) ? mt as string : null;
        var architectures = Architectures(cfg);
        var types = HuggingFaceConfigMap.ModelTypes;
        if (modelType is null && architectures.Count > 0)
            modelType = types.Select(t => t.ModelType).FirstOrDefault(t => architectures[0].StartsWith(t, StringComparison.OrdinalIgnoreCase));
        if (modelType is null || !types.Any(t => t.ModelType == modelType))
            throw new CheckpointFormatException(
                $"unsupported model_type '{modelType ?? "(none)"}'; supported: {string.Join(", ", types.Select(t => t.ModelType))}", path, "model_type");
        var kind = types.First(t => t.ModelType == modelType).Kind;
        static double Dbl(object? v) => Wav2Vec2Config.AsDouble(v);

        // Settings that change the computation and that we do not implement.
        foreach (var (key, expected) in new[] { ("hidden_act", "gelu"), ("feat_extract_activation", "gelu") })
            if (cfg.TryGetValue(key, out var act) && act is string s && s != expected)
                throw new CheckpointFormatException($"{key} = '{s}' is not supported (only '{expected}')", path, key);
        if (cfg.TryGetValue("layer_norm_eps", out var eps) && Math.Abs(Dbl(eps) - 1e-5) > 1e-12)
            throw new CheckpointFormatException($"layer_norm_eps = {Wav2Vec2Config.Describe(eps)} is not supported (only 1e-5)", path, "layer_norm_eps");
        foreach (var key in new[] { "conv_pos_batch_norm", "add_adapter", "use_weighted_layer_sum_in_forward" })
            if (cfg.TryGetValue(key, out var flag) && flag is true)
                throw new CheckpointFormatException($"{key} = true is not supported", path, key);
        if (cfg.TryGetValue("num_conv_pos_embedding_layers", out var pl) && pl is long depth && depth != 1)
            throw new CheckpointFormatException($"num_conv_pos_embedding_layers = {depth} is not supported (only 1)", path, "num_conv_pos_embedding_layers");

        var config = HuggingFaceConfigMap.Read(cfg.TryGetValue, kind, path, report);
        bool layerNorm = config.ExtractorMode == ExtractorMode.LayerNorm;
        bool normalize;
        if (pre is not null && pre.TryGetValue("do_normalize", out var dn) && dn is bool b)
            normalize = b;
        else
        {
            normalize = layerNorm;
            report.Notes.Add($"normalize_waveform = {(normalize ? "true" : "false")} (no preprocessor_config.json do_normalize; "
                + "taken from feat_extract_norm == \"layer\")");
        }
        config = config with { NormalizeWaveform = normalize };

        return ConfigFiles.Translate(config.Validate, path, null);
    }
}
