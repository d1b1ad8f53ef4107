using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using DpHubert.Checkpoints.Formats;
using DpHubert.PyTorch;
using static TorchSharp.torch;

namespace DpHubert.Checkpoints;

/// <summary>
/// The one way a checkpoint is loaded: read → recognise → translate config → map keys → canonicalise →
/// <see cref="ModelCheckpoint"/>, inside one <see cref="LoadScope"/> that owns every tensor until the checkpoint takes
/// its own, and frees everything once when any step fails. A <see cref="FormatReader"/> supplies only what its
/// layout does differently; which layout a file has is decided here and nowhere else.
/// </summary>
internal static class CheckpointPipeline
{
    private const string PosConvPrefix = "encoder.transformer.pos_conv_embed.conv.";

    /// <summary>Loads a local file or folder (see <see cref="CheckpointLoader.Read(string, CheckpointReadOptions)"/>).</summary>
    public static ModelCheckpoint Load(string path, CheckpointReadOptions options)
    {
        using var scope = new LoadScope();
        var ignored = new List<string>();
        var format = Recognise(path, options, ignored);
        var report = new LoadReport(format.Source, format.Format);
        var translated = format.TranslateConfig(report);
        var extras = new Dictionary<string, StateDict>(StringComparer.Ordinal);
        var weights = MapKeys(format, report, extras);
        Canonicalise(weights, report, format.WeightSource, options.WeightDType);
        var config = format.ConfigFromWeights(translated, weights, report);
        var checkpoint = new ModelCheckpoint(config, weights, report);
        foreach (var (group, tensors) in extras) checkpoint.Extras[group] = tensors;
        format.Finish(checkpoint);
        report.Ignored.AddRange(ignored);
        return scope.HandOver(checkpoint);
    }

    /// <summary>
    /// Reads <paramref name="path"/> and tells its layout: a folder is a Hugging Face model; a <c>.safetensors</c> file
    /// goes with its config JSON (a Hugging Face one makes it Hugging Face weights); a pickled dict is told
    /// apart by its top-level entries, most specific first, and anything else is a bare state_dict (Hugging Face names with a <c>config.json</c> beside them, torchaudio's otherwise).
    /// </summary>
    private static FormatReader Recognise(string path, CheckpointReadOptions options, List<string> ignored)
    {
        if (Directory.Exists(path)) return HuggingFaceFormat.FromFolder(path, options);
        if (!File.Exists(path)) throw new FileNotFoundException($"Checkpoint not found: {path}", path);
        if (path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
        {
            var file = SafeTensorsFormat.Read(path, options);
            return HuggingFaceFormat.IsHuggingFaceConfig(file.Config)
                ? HuggingFaceFormat.FromWeightFile(file.Weights, path, options, file.ConfigFile)
                : new SafeTensorsFormat(file, path, options);
        }

        var data = TorchCheckpointReader.Load(path);
        data.TakeTensors(); // the load's scope owns them: each was created inside it
        var root = data.Root.ExpectDict(path, null);
        ignored.AddRange(InertRecords.Describe(root));
        if (TorchaudioFormat.IsDpHubert(root)) return TorchaudioFormat.DpHubert(root, path, options);
        if (UnilmWavLmFormat.Matches(root)) return new UnilmWavLmFormat(root, path, options);
        if (FairseqFormat.Matches(root)) return new FairseqFormat(root, path, options);
        if (DpHubertLightningFormat.Matches(root)) return new DpHubertLightningFormat(root, path, options);
        if (HubertSoftFormat.Matches(root)) return new HubertSoftFormat(root, path, options);

        var notes = new List<string>();
        var weights = BareWeights(root, path, notes);
        if (options.ConfigPath is null && HuggingFaceFormat.HasHuggingFaceNames(weights.Keys))
            return HuggingFaceFormat.FromWeightFile(weights, path, options);
        return TorchaudioFormat.Bare(weights, notes, path, options);
    }

    /// <summary>A bare state_dict: the dict itself, or its <c>state_dict</c> entry when it has no config beside it
    /// (the other entries are noted and left to the scope).</summary>
    internal static StateDict BareWeights(PyDict root, string path, List<string> notes)
    {
        if (root.DictAt("state_dict") is { } innerDict)
        {
            foreach (var key in root.Keys.OfType<string>().Where(k => k != "state_dict"))
                notes.Add($"ignored top-level entry '{key}' (no 'config' beside 'state_dict')");
            return StateDict.FromPickled(innerDict, path, "state_dict");
        }
        if (root.Count > 0 && root.Values.Any(v => v is not Tensor))
        {
            var keys = string.Join(", ", root.Keys.Take(8).Select(k => $"'{k}'"));
            throw new CheckpointFormatException(
                $"unrecognized checkpoint layout (top-level keys {keys}): expected DPHuBERT's {{config, state_dict}}, fairseq's {{cfg|args, model}} or a bare state_dict",
                path);
        }
        return StateDict.FromPickled(root, path, "state_dict");
    }

    /// <summary>
    /// Renames the format's weights by its key map, filling <see cref="LoadReport.Mapped"/> and
    /// <see cref="LoadReport.Dropped"/>; a weight the format keeps beside the model goes to <paramref name="extras"/>
    /// instead (still reported as dropped when the map drops it). An unknown key, or two keys mapping to one name, throws naming the key.
    /// </summary>
    private static StateDict MapKeys(FormatReader format, LoadReport report, Dictionary<string, StateDict> extras)
    {
        var map = format.KeyMap;
        var result = new StateDict();
        var origin = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, tensor) in format.Weights(report))
        {
            var m = map.Map(key);
            if (m.Dropped) report.Dropped.Add(key);
            if (format.Extra(key) is var (group, name))
            {
                if (!extras.TryGetValue(group, out var tensors)) extras[group] = tensors = new StateDict();
                tensors[name] = tensor;
                continue;
            }
            if (m.Dropped) continue;
            if (m.Unknown)
                throw new CheckpointFormatException(
                    $"Unexpected key: no rule of the {map.Name} key map maps or drops it", format.WeightSource, key);
            if (origin.TryGetValue(m.Result!, out var first))
                throw new CheckpointFormatException($"keys '{first}' and '{key}' both map to '{m.Result}'", format.WeightSource, key);
            origin[m.Result!] = key;
            result[m.Result!] = tensor;
            report.Mapped.Add((key, m.Result!));
        }
        return result;
    }

    /// <summary>
    /// Brings what every format may hold to the one layout the model loads: fused attention projections
    /// (<c>in_proj_*</c>) split into q, k, v; a fused positional-conv <c>weight</c> becomes <c>weight_g</c> (its norm per
    /// kernel tap) and <c>weight_v</c> (itself); floating tensors of another type become <paramref name="dtype"/>.
    /// </summary>
    private static void Canonicalise(StateDict sd, LoadReport report, string path, ScalarType dtype)
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
                sd[PosConvPrefix + "weight_g"] = w.to(float32).Power(2).sum(new long[] { 0, 1 }, keepdim: true).sqrt();
                sd[PosConvPrefix + "weight_v"] = w;
            }
            report.Notes.Add($"{fused}: fused weight split into weight_g (its norm per kernel tap) and weight_v");
        }
        var converted = new List<string>();
        foreach (var key in sd.Keys.ToList())
        {
            var t = sd[key];
            if (t.is_floating_point() && t.dtype != dtype)
            {
                sd[key] = t.to(dtype);
                t.Dispose(); // now, not when the scope ends: the file's copy and ours are never all held at once
                converted.Add(key);
            }
        }
        if (converted.Count > 0)
            report.Notes.Add($"{converted.Count} tensors converted to {DTypeNames.Torch.NameOrNull(dtype) ?? dtype.ToString()} (e.g. {converted[0]})");
    }
}
