using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using DpHubert.Checkpoints.KeyMaps;
using DpHubert.Config;
using DpHubert.PyTorch;
using TorchSharp;
using static TorchSharp.torch;

namespace DpHubert.Checkpoints;

public static partial class CheckpointLoader
{
    private const string PosConvPrefix = "encoder.transformer.pos_conv_embed.conv.";

    /// <summary>Converts one config value read from a foreign format; a wrong type names the file and the key.</summary>
    internal static T ConvertField<T>(string key, object? raw, Func<object?, T> convert, string path)
    {
        try
        {
            return convert(raw);
        }
        catch (FormatException e)
        {
            throw new CheckpointFormatException($"{e.Message} (got {Wav2Vec2Config.Describe(raw)})", path, key);
        }
    }

    /// <summary>A config value the file lacks: use the framework's default and say so in the report.</summary>
    internal static T DefaultField<T>(string key, T fallback, LoadReport report, string where, string whose)
    {
        report.Notes.Add($"{where} has no '{key}': using {whose} default {Wav2Vec2Config.Describe(fallback)}");
        return fallback;
    }

    /// <summary>
    /// Renames <paramref name="source"/> (whose tensors become owned by this call) with <paramref name="map"/>,
    /// filling <see cref="LoadReport.Mapped"/> and <see cref="LoadReport.Dropped"/>. A dropped tensor is offered to
    /// <paramref name="keepDropped"/> (which returns true when it takes ownership) before being disposed. An unknown
    /// key, or two keys mapping to one name, throws <see cref="CheckpointFormatException"/> naming the key.
    /// </summary>
    internal static StateDict ApplyKeyMap(IEnumerable<KeyValuePair<string, Tensor>> source, KeyMap map, LoadReport report,
        string path, Func<string, Tensor, bool>? keepDropped = null)
    {
        var items = source.ToList();
        var result = new StateDict();
        var origin = new Dictionary<string, string>(StringComparer.Ordinal);
        int i = 0;
        try
        {
            for (; i < items.Count; i++)
            {
                var (key, tensor) = items[i];
                var m = map.Map(key);
                if (m.Dropped)
                {
                    report.Dropped.Add(key);
                    if (keepDropped is null || !keepDropped(key, tensor)) tensor.Dispose();
                    continue;
                }
                if (m.Unknown)
                    throw new CheckpointFormatException(
                        $"Unexpected key: no rule of the {map.Name} key map maps or drops it", path, key);
                if (origin.TryGetValue(m.Result!, out var first))
                    throw new CheckpointFormatException(
                        $"keys '{first}' and '{key}' both map to '{m.Result}'", path, key);
                origin[m.Result!] = key;
                result[m.Result!] = tensor;
                report.Mapped.Add((key, m.Result!));
            }
            return result;
        }
        catch
        {
            for (; i < items.Count; i++) items[i].Value.Dispose();
            result.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Brings what every format may hold to the one layout the model loads: fused attention projections (<c>in_proj_*</c>) split into q, k, v; a fused positional-conv <c>weight</c> becomes <c>weight_g</c> (its
    /// norm per kernel tap) and <c>weight_v</c> (itself); floating tensors other than float32 become float32.
    /// </summary>
    internal static void CanonicalizeStateDict(StateDict sd, LoadReport report, string path)
    {
        FusedAttentionProjections.Split(sd, report, path);
        var fused = PosConvPrefix + "weight";
        if (sd.ContainsKey(fused))
        {
            if (sd.ContainsKey(PosConvPrefix + "weight_g") || sd.ContainsKey(PosConvPrefix + "weight_v"))
                throw new CheckpointFormatException("the positional conv has both a fused weight and weight_g/weight_v", path, fused);
            var w = sd.Remove(fused)!;
            using (no_grad())
            {
                var g = w.to(float32).Power(2).sum(new long[] { 0, 1 }, keepdim: true).sqrt();
                sd[PosConvPrefix + "weight_g"] = g;
                sd[PosConvPrefix + "weight_v"] = w;
            }
            report.Notes.Add($"{fused}: fused weight split into weight_g (its norm per kernel tap) and weight_v");
        }
        var converted = new List<string>();
        foreach (var key in sd.Keys.ToList())
        {
            var t = sd[key];
            if (t.dtype is ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Float64)
            {
                sd[key] = t.to(float32);
                t.Dispose();
                converted.Add(key);
            }
        }
        if (converted.Count > 0)
            report.Notes.Add($"{converted.Count} tensors converted to float32 (e.g. {converted[0]})");
    }

    /// <summary>
    /// The config given by <see cref="CheckpointReadOptions.ConfigPath"/>: a config JSON, or a DPHuBERT <c>.pth</c>
    /// whose <c>"config"</c> is taken (as DPHuBERT's <c>prune.py</c> takes the student's from <c>--original_ckpt</c>).
    /// </summary>
    internal static Wav2Vec2Config ConfigFromFile(string configPath, LoadReport report)
    {
        if (!File.Exists(configPath)) throw new FileNotFoundException($"Config not found: {configPath}", configPath);
        bool json;
        using (var f = File.OpenRead(configPath))
        {
            int b;
            do b = f.ReadByte(); while (b is ' ' or '\t' or '\r' or '\n' or 0xEF or 0xBB or 0xBF);
            json = b == '{';
        }
        if (json)
        {
            report.Notes.Add($"config from {configPath}");
            return ConfigFromDictionary(ReadJsonObject(configPath), configPath, report);
        }
        var root = TorchCheckpointReader.Load(configPath);
        try
        {
            if (root is not PyDict d || !d.TryGetValue("config", out var c) || c is not PyDict config)
                throw new CheckpointFormatException("expected a config JSON or a DPHuBERT .pth with a 'config' entry", configPath);
            report.Notes.Add($"config from {configPath} (its 'config' entry)");
            return ConfigFromDictionary(config.ToDictionary(kv => kv.Key as string
                ?? throw new CheckpointFormatException($"config key {kv.Key} is not a string", configPath, "config"), kv => kv.Value), configPath, report);
        }
        finally
        {
            DisposeTensors(root);
        }
    }

    internal static Dictionary<string, object?> ReadJsonObject(string path)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new CheckpointFormatException("expected a JSON object", path);
            return doc.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => Wav2Vec2Config.FromJsonElement(p.Value), StringComparer.Ordinal);
        }
        catch (JsonException e)
        {
            throw new CheckpointFormatException($"invalid JSON: {e.Message}", path, null, e);
        }
    }

    /// <summary>
    /// A DPHuBERT config dict, or a torchaudio <c>wav2vec2_model</c> one (scalar <c>encoder_num_heads</c> and
    /// <c>encoder_ff_interm_features</c>, no per-layer lists, no <c>normalize_waveform</c>): the latter is expanded.
    /// </summary>
    internal static Wav2Vec2Config ConfigFromDictionary(Dictionary<string, object?> d, string path, LoadReport? report)
    {
        d = new Dictionary<string, object?>(d, StringComparer.Ordinal);
        bool wavlm = d.ContainsKey("encoder_remaining_heads") || d.ContainsKey("encoder_num_buckets") && !d.ContainsKey("encoder_head_dim");
        try
        {
            if (d.TryGetValue("encoder_num_layers", out var nl) && nl is long layers)
            {
                int L = (int)layers;
                void Fill(string key, object? value, string why)
                {
                    if (d.ContainsKey(key)) return;
                    d[key] = value;
                    report?.Notes.Add($"config: {key} = {why}");
                }
                if (d.TryGetValue("encoder_num_heads", out var h) && h is long heads)
                {
                    d["encoder_num_heads"] = Enumerable.Repeat((object?)heads, L).ToList();
                    if (wavlm)
                    {
                        d.Remove("encoder_num_heads");
                        Fill("encoder_total_num_heads", Enumerable.Repeat((object?)heads, L).ToList(), $"[{heads}] * {L}");
                        Fill("encoder_remaining_heads", Enumerable.Range(0, L).Select(_ => (object?)Enumerable.Range(0, (int)heads).Select(x => (object?)(long)x).ToList()).ToList(), "all heads");
                    }
                    else if (d.TryGetValue("encoder_embed_dim", out var e) && e is long embed)
                        Fill("encoder_head_dim", embed / heads, $"{embed / heads} (encoder_embed_dim / encoder_num_heads)");
                }
                if (d.TryGetValue("encoder_ff_interm_features", out var f) && f is long ff)
                    d["encoder_ff_interm_features"] = Enumerable.Repeat((object?)ff, L).ToList();
                Fill("encoder_use_attention", Enumerable.Repeat((object?)true, L).ToList(), "true for every layer");
                Fill("encoder_use_feed_forward", Enumerable.Repeat((object?)true, L).ToList(), "true for every layer");
                Fill("aux_num_out", null, "None");
                Fill("normalize_waveform", false, "false (the config does not say)");
            }
            return Wav2Vec2Config.FromDictionary(d);
        }
        catch (ArgumentException e)
        {
            throw new CheckpointFormatException(e.Message, path, "config", e);
        }
    }

    /// <summary>Keeps a format's optional projection (fairseq's <c>final_proj</c>, HuBERT-Soft's <c>proj</c>) beside the
    /// model as <see cref="ModelCheckpoint.Extras"/>[<see cref="FinalProjKey"/>], or disposes the group when it is empty.</summary>
    internal static void KeepProjection(ModelCheckpoint checkpoint, StateDict projection, string what)
    {
        if (!projection.ContainsKey("weight"))
        {
            projection.Dispose();
            return;
        }
        checkpoint.Extras[FinalProjKey] = projection;
        checkpoint.Report.Notes.Add($"{what} ({Shapes.Format(projection["weight"])}) kept as the optional projection Extras[\"{FinalProjKey}\"]");
    }

    /// <summary>Adds an identity LayerNorm (ones, zeros) for models whose feature projection has none.</summary>
    internal static void InsertIdentityProjectionNorm(StateDict sd, int channels, LoadReport report)
    {
        sd["encoder.feature_projection.layer_norm.weight"] = ones(channels);
        sd["encoder.feature_projection.layer_norm.bias"] = zeros(channels);
        report.Notes.Add("the feature projection has no LayerNorm (feat_proj_layer_norm = false): "
            + "inserted an identity one (encoder.feature_projection.layer_norm weight = 1, bias = 0)");
    }

    internal static void SetAuxFromWeights(ref Wav2Vec2Config config, StateDict sd, LoadReport report, string source)
    {
        if (sd.TryGetValue("aux.weight", out var aux))
        {
            int rows = (int)aux.shape[0];
            if (config.AuxNumOut != rows)
                report.Notes.Add($"aux_num_out = {rows} (rows of the {source} weight)");
            config = config with { AuxNumOut = rows };
        }
    }
}
