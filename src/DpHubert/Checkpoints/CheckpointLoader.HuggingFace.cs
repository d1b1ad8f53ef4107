using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using DpHubert.Checkpoints.KeyMaps;
using DpHubert.Config;
using DpHubert.PyTorch;

namespace DpHubert.Checkpoints;

public static partial class CheckpointLoader
{
    private static readonly string[] HfModelTypes = { "wav2vec2", "hubert", "wavlm" };

    /// <summary>A Hugging Face model folder: config.json (+ preprocessor_config.json) and one weight layout.</summary>
    private static ModelCheckpoint ReadFolder(string path, CheckpointReadOptions options)
    {
        var configPath = Path.Combine(path, "config.json");
        if (!File.Exists(configPath))
        {
            var files = Directory.GetFiles(path).Select(Path.GetFileName).OrderBy(x => x, StringComparer.Ordinal).ToList();
            throw new CheckpointFormatException(
                "not a Hugging Face model folder: no config.json (found: " + (files.Count == 0 ? "nothing" : string.Join(", ", files)) + ")", path);
        }
        var weights = ReadHfWeights(path, out var weightSource);
        return FromHuggingFace(weights, configPath, path, weightSource);
    }

    /// <summary>Loads model.safetensors, pytorch_model.bin, or their sharded forms (an *.index.json).</summary>
    private static List<KeyValuePair<string, Tensor>> ReadHfWeights(string folder, out string weightSource)
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

    private static List<KeyValuePair<string, Tensor>> ReadWeightFile(string file)
    {
        if (file.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
        {
            using var st = SafeTensors.Load(file);
            return st.Keys.ToList().Select(k => new KeyValuePair<string, Tensor>(k, st.Detach(k))).ToList();
        }
        var root = TorchCheckpointReader.Load(file);
        if (root is PyDict d && d.ContainsKey("state_dict") && d["state_dict"] is PyDict inner && d.Values.All(v => v is not Tensor))
        {
            foreach (var kv in d) if (!ReferenceEquals(kv.Value, inner)) DisposeTensors(kv.Value);
            root = inner;
        }
        try
        {
            return ToStateDict(root, file, "weights").ToList();
        }
        catch
        {
            DisposeTensors(root);
            throw;
        }
    }

    private static List<KeyValuePair<string, Tensor>> ReadShards(string folder, string indexPath)
    {
        var index = ReadJsonObject(indexPath);
        index.TryGetValue("weight_map", out var wm);
        var map = AsStringMap(wm) ?? throw new CheckpointFormatException("the index has no 'weight_map' object", indexPath, "weight_map");
        var result = new List<KeyValuePair<string, Tensor>>();
        try
        {
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
        catch
        {
            foreach (var kv in result) kv.Value.Dispose();
            throw;
        }
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

    /// <summary>Maps HF weights and config into a checkpoint (the weights become owned by it).</summary>
    private static ModelCheckpoint FromHuggingFace(List<KeyValuePair<string, Tensor>> weights, string configPath, string source,
        string weightSource)
    {
        var report = new LoadReport(source, CheckpointFormat.HuggingFace);
        StateDict? sd = null;
        try
        {
            var cfg = ReadJsonObject(configPath);
            var preprocessorPath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(configPath))!, "preprocessor_config.json");
            var pre = File.Exists(preprocessorPath) ? ReadJsonObject(preprocessorPath) : null;
            report.Notes.Add($"weights from {Path.GetFileName(weightSource)}");
            var owned = weights.ToList();
            weights.Clear(); // ApplyKeyMap owns them now, also on failure
            sd = ApplyKeyMap(owned, HuggingFaceKeyMap.Instance, report, weightSource);
            CanonicalizeStateDict(sd, report, weightSource);
            var config = HfConfig(cfg, pre, configPath, report, sd);
            if (!sd.ContainsKey("encoder.feature_projection.layer_norm.weight") && !HfFeatProjLayerNorm(cfg))
                InsertIdentityProjectionNorm(sd, config.ExtractorOutputChannels, report);
            return new ModelCheckpoint(config, sd, report);
        }
        catch
        {
            foreach (var kv in weights) kv.Value.Dispose();
            weights.Clear();
            sd?.Dispose();
            throw;
        }
    }

    private static bool HfFeatProjLayerNorm(Dictionary<string, object?> cfg) =>
        !cfg.TryGetValue("feat_proj_layer_norm", out var v) || v is not false;

    /// <summary>HF config.json (+ preprocessor_config.json) → our config.</summary>
    private static Wav2Vec2Config HfConfig(Dictionary<string, object?> cfg, Dictionary<string, object?>? pre, string path,
        LoadReport report, StateDict sd)
    {
        string? modelType = cfg.TryGetValue("model_type", out var mt) ? mt as string : null;
        var architectures = cfg.TryGetValue("architectures", out var a) && a is IList list
            ? list.OfType<string>().ToList() : new List<string>();
        if (modelType is null && architectures.Count > 0)
            modelType = HfModelTypes.FirstOrDefault(t => architectures[0].StartsWith(t, StringComparison.OrdinalIgnoreCase));
        if (modelType is null || !HfModelTypes.Contains(modelType))
            throw new CheckpointFormatException(
                $"unsupported model_type '{modelType ?? "(none)"}'; supported: {string.Join(", ", HfModelTypes)}", path, "model_type");
        bool wavlm = modelType == "wavlm";

        T Get<T>(string key, T fallback, Func<object?, T> convert) => cfg.TryGetValue(key, out var raw)
            ? ConvertField(key, raw, convert, path)
            : DefaultField(key, fallback, report, "config.json", "the transformers");
        static int Int(object? v) => Wav2Vec2Config.AsInt(v);
        static double Dbl(object? v) => Wav2Vec2Config.AsDouble(v);
        static bool Bool(object? v) => Wav2Vec2Config.AsBool(v);
        static string Str(object? v) => v as string ?? throw new FormatException("expected a string");
        static IReadOnlyList<int> Ints(object? v) => Wav2Vec2Config.AsList(v, Wav2Vec2Config.AsInt);

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

        var norm = Get("feat_extract_norm", "group", Str);
        if (norm is not ("group" or "layer"))
            throw new CheckpointFormatException($"feat_extract_norm = '{norm}' (expected 'group' or 'layer')", path, "feat_extract_norm");
        var convDim = Get("conv_dim", (IReadOnlyList<int>)new[] { 512, 512, 512, 512, 512, 512, 512 }, Ints);
        var convKernel = Get("conv_kernel", (IReadOnlyList<int>)new[] { 10, 3, 3, 3, 3, 2, 2 }, Ints);
        var convStride = Get("conv_stride", (IReadOnlyList<int>)new[] { 5, 2, 2, 2, 2, 2, 2 }, Ints);
        if (convDim.Count != convKernel.Count || convDim.Count != convStride.Count)
            throw new CheckpointFormatException(
                $"conv_dim, conv_kernel and conv_stride have {convDim.Count}, {convKernel.Count} and {convStride.Count} entries", path, "conv_dim");
        int embed = Get("hidden_size", 768, Int);
        int layers = Get("num_hidden_layers", 12, Int);
        int heads = Get("num_attention_heads", 12, Int);
        int ffn = Get("intermediate_size", 3072, Int);
        if (heads <= 0 || embed % heads != 0)
            throw new CheckpointFormatException($"hidden_size {embed} is not a multiple of num_attention_heads {heads}", path, "num_attention_heads");

        bool normalize;
        if (pre is not null && pre.TryGetValue("do_normalize", out var dn) && dn is bool b)
            normalize = b;
        else
        {
            normalize = norm == "layer";
            report.Notes.Add($"normalize_waveform = {(normalize ? "true" : "false")} (no preprocessor_config.json do_normalize; "
                + "taken from feat_extract_norm == \"layer\")");
        }

        var config = new Wav2Vec2Config
        {
            ExtractorMode = norm == "layer" ? ExtractorMode.LayerNorm : ExtractorMode.GroupNorm,
            ExtractorConvLayerConfig = convDim.Select((c, i) => new ConvLayerSpec(c, convKernel[i], convStride[i])).ToArray(),
            ExtractorConvBias = Get("conv_bias", false, Bool),
            EncoderEmbedDim = embed,
            EncoderProjectionDropout = Get("feat_proj_dropout", 0.0, Dbl),
            EncoderPosConvKernel = Get("num_conv_pos_embeddings", 128, Int),
            EncoderPosConvGroups = Get("num_conv_pos_embedding_groups", 16, Int),
            EncoderNumLayers = layers,
            EncoderUseAttention = Enumerable.Repeat(true, layers).ToArray(),
            EncoderUseFeedForward = Enumerable.Repeat(true, layers).ToArray(),
            EncoderNumHeads = wavlm ? null : Enumerable.Repeat(heads, layers).ToArray(),
            EncoderHeadDim = wavlm ? null : embed / heads,
            EncoderTotalNumHeads = wavlm ? Enumerable.Repeat(heads, layers).ToArray() : null,
            EncoderRemainingHeads = wavlm
                ? Enumerable.Range(0, layers).Select(_ => (IReadOnlyList<int>)Enumerable.Range(0, heads).ToArray()).ToArray()
                : null,
            EncoderNumBuckets = wavlm ? Get("num_buckets", 320, Int) : null,
            EncoderMaxDistance = wavlm ? Get("max_bucket_distance", 800, Int) : null,
            EncoderAttentionDropout = Get("attention_dropout", 0.1, Dbl),
            EncoderFfIntermFeatures = Enumerable.Repeat(ffn, layers).ToArray(),
            EncoderFfIntermDropout = Get("activation_dropout", 0.1, Dbl),
            EncoderDropout = Get("hidden_dropout", 0.1, Dbl),
            EncoderLayerNormFirst = Get("do_stable_layer_norm", false, Bool),
            EncoderLayerDrop = Get("layerdrop", 0.1, Dbl),
            NormalizeWaveform = normalize,
        };

        bool ctcArch = architectures.Any(x => x.EndsWith("ForCTC", StringComparison.Ordinal));
        if (sd.TryGetValue("aux.weight", out var aux))
        {
            int rows = (int)aux.shape[0];
            if (cfg.TryGetValue("vocab_size", out var vs) && vs is long vocab && vocab != rows)
                report.Notes.Add($"vocab_size {vocab} differs from the lm_head rows {rows}; using {rows}");
            config = config with { AuxNumOut = rows };
            report.Notes.Add($"aux_num_out = {rows} (lm_head → aux)");
        }
        else if (ctcArch)
            throw new CheckpointFormatException($"{architectures.First(x => x.EndsWith("ForCTC", StringComparison.Ordinal))} without lm_head weights", path, "lm_head.weight");
        try
        {
            return config.Validate();
        }
        catch (ArgumentException e)
        {
            throw new CheckpointFormatException(e.Message, path, null, e);
        }
    }
}
