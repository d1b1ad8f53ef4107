using System;
using System.Collections;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using DpHubert.Checkpoints.ConfigMaps;
using DpHubert.Checkpoints.KeyMaps;
using DpHubert.Config;
using DpHubert.PyTorch;
using TorchSharp;
using static TorchSharp.torch;

namespace DpHubert.Checkpoints;

/// <summary>The steps every format loader shares: pickled dicts to state_dicts, key renaming, the common
/// normalization, and disposing what a failed load had taken over.</summary>
internal static class LoadSteps
{
    /// <summary>Turns a pickled mapping of name to tensor into a <see cref="StateDict"/>.</summary>
    internal static StateDict ToStateDict(object? value, string path, string what)
    {
        if (value is not PyDict dict)
            throw new CheckpointFormatException($"'{what}' is a {Describe(value)}, expected a mapping of names to tensors", path, what);
        var sd = new StateDict();
        foreach (var (key, tensor) in dict)
        {
            if (key is not string name)
                throw new CheckpointFormatException($"'{what}' has a non-string key {key}", path, what);
            if (tensor is not Tensor t)
                throw new CheckpointFormatException($"'{what}' entry is a {Describe(tensor)}, expected a tensor", path, name);
            sd[name] = t;
        }
        return sd;
    }

    internal static string Describe(object? v) => v switch
    {
        null => "None",
        PyDict => "dict",
        InertRecord r => $"{r} that the loader does not read",
        Tensor t => $"tensor {Shapes.Format(t)}",
        System.Collections.IList => "list",
        _ => v.GetType().Name,
    };

    internal static void DisposeTensors(object? v)
    {
        switch (v)
        {
            case Tensor t: t.Dispose(); break;
            case PyDict d: foreach (var kv in d) DisposeTensors(kv.Value); break;
            case System.Collections.IEnumerable e when v is not string: foreach (var x in e) DisposeTensors(x); break;
        }
    }
    private const string PosConvPrefix = "encoder.transformer.pos_conv_embed.conv.";

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
    /// norm per kernel tap) and <c>weight_v</c> (itself). Dtypes stay as read: <see cref="ConvertFloating"/> brings
    /// them to the one dtype the checkpoint is wanted in, once.
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
    }

    /// <summary>Converts every floating tensor of the model's state_dict that is not <paramref name="dtype"/> to it
    /// (float32 for a checkpoint as read; the compute dtype when a model is loaded to run in it, so fp16 / bf16 weights
    /// are converted once rather than widened and narrowed again).</summary>
    internal static void ConvertFloating(ModelCheckpoint checkpoint, ScalarType dtype)
    {
        var sd = checkpoint.StateDict;
        var converted = new List<string>();
        foreach (var key in sd.Keys.ToList())
        {
            var t = sd[key];
            if (t.is_floating_point() && t.dtype != dtype)
            {
                sd[key] = t.to(dtype);
                t.Dispose();
                converted.Add(key);
            }
        }
        if (converted.Count > 0)
            checkpoint.Report.Notes.Add($"{converted.Count} tensors converted to {DTypeName(dtype)} (e.g. {converted[0]})");
    }

    private static string DTypeName(ScalarType dtype) => dtype switch
    {
        ScalarType.Float32 => "float32",
        ScalarType.BFloat16 => "bfloat16",
        ScalarType.Float16 => "float16",
        _ => dtype.ToString(),
    };

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

    /// <summary>Keeps a format's optional projection (fairseq's <c>final_proj</c>, HuBERT-Soft's <c>proj</c>) beside the
    /// model as <see cref="ModelCheckpoint.Extras"/>[<see cref="CheckpointLoader.FinalProjKey"/>], or disposes the group when it is empty.</summary>
    internal static void KeepProjection(ModelCheckpoint checkpoint, StateDict projection, string what)
    {
        if (!projection.ContainsKey("weight"))
        {
            projection.Dispose();
            return;
        }
        checkpoint.Extras[CheckpointLoader.FinalProjKey] = projection;
        checkpoint.Report.Notes.Add($"{what} ({Shapes.Format(projection["weight"])}) kept as the optional projection Extras[\"{CheckpointLoader.FinalProjKey}\"]");
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

    /// <summary>
    /// Runs one format's read; when it throws, runs <paramref name="cleanup"/> (which disposes the half-built state_dicts
    /// and the tensors the read had taken over, read at that moment through its captured variables) and rethrows.
    /// Disposing a tensor twice is harmless, so a cleanup may cover tensors that already moved on.
    /// </summary>
    internal static T DisposeOnFailure<T>(Func<T> read, Action cleanup)
    {
        try
        {
            return read();
        }
        catch
        {
            cleanup();
            throw;
        }
    }

    /// <summary>A config translated by <paramref name="translate"/>, whose refusal (an <see cref="ArgumentException"/>)
    /// becomes a <see cref="CheckpointFormatException"/> naming the file and, where there is one, the config's key.</summary>
    internal static Wav2Vec2Config TranslateConfig(Func<Wav2Vec2Config> translate, string path, string? key)
    {
        try
        {
            return translate();
        }
        catch (ArgumentException e)
        {
            throw new CheckpointFormatException(e.Message, path, key, e);
        }
    }
}
