using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.RegularExpressions;
using DpHubert.Checkpoints.KeyMaps;
using DpHubert.Config;
using DpHubert.PyTorch;
using static DpHubert.Checkpoints.LoadSteps;
using static TorchSharp.torch;

namespace DpHubert.Checkpoints;

/// <summary>
/// bshall/hubert's HuBERT-Soft (<c>hubert-soft-0d54a1f4.pt</c>, so-vits-svc 3.x's encoder): a bare state_dict with
/// <c>module.</c> prefixes and no config, keys by <see cref="HubertSoftKeyMap"/>. The architecture is the original's
/// fixed one, read off the weights (widths, layer count, kernel sizes) with its strides and 64-wide heads; a config
/// JSON (<see cref="CheckpointReadOptions.ConfigPath"/>) replaces it. <c>proj</c> (E → 256) is kept as the optional
/// projection <c>Extras["final_proj"]</c>: the soft units are <c>proj</c> of the last layer.
/// </summary>
internal static class HubertSoftFormat
{
    /// <summary>The original's conv strides (kernels 10, 3, 3, 3, 3, 2, 2 are read from the weights).</summary>
    private static readonly int[] Strides = { 5, 2, 2, 2, 2, 2, 2 };

    /// <summary>Width of one attention head in the original (768 / 12).</summary>
    public const int HeadDim = 64;

    public static bool Matches(PyDict d) =>
        d.Keys.Any(k => k is "module.feature_extractor.conv0.weight" or "feature_extractor.conv0.weight");

    public static ModelCheckpoint Read(PyDict root, string path, CheckpointReadOptions options)
    {
        var report = new LoadReport(path, CheckpointFormat.HubertSoft);
        var proj = new StateDict();
        StateDict? sd = null;
        return DisposeOnFailure(() =>
        {
            sd = LoadSteps.ApplyKeyMap(LoadSteps.ToStateDict(root, path, "state_dict"), HubertSoftKeyMap.Instance, report, path,
                (key, tensor) =>
                {
                    var m = Regex.Match(key, @"^(?:module\.)?proj\.(weight|bias)$");
                    if (!m.Success) return false;
                    proj[m.Groups[1].Value] = tensor;
                    return true;
                });
            LoadSteps.CanonicalizeStateDict(sd, report, path);
            var config = options.ConfigPath is not null ? TorchaudioFormat.ConfigFromFile(options.ConfigPath, report) : FromWeights(sd, path, report);
            var checkpoint = new ModelCheckpoint(config, sd, report) { Kind = ModelKind.Hubert };
            LoadSteps.KeepProjection(checkpoint, proj, "proj (the soft units)");
            return checkpoint;
        }, () =>
        {
            proj.Dispose();
            sd?.Dispose();
        });
    }

    /// <summary>The original architecture at the widths the weights have.</summary>
    private static Wav2Vec2Config FromWeights(StateDict sd, string path, LoadReport report)
    {
        Tensor Need(string key) => sd.TryGetValue(key, out var t) ? t
            : throw new CheckpointFormatException("HuBERT-Soft weights without this tensor", path, key);
        var convs = new List<ConvLayerSpec>();
        for (var i = 0; sd.ContainsKey($"feature_extractor.conv_layers.{i}.conv.weight"); i++)
        {
            var w = sd[$"feature_extractor.conv_layers.{i}.conv.weight"];
            if (i >= Strides.Length) break;
            convs.Add(new ConvLayerSpec((int)w.shape[0], (int)w.shape[2], Strides[i]));
        }
        if (convs.Count != Strides.Length || sd.ContainsKey($"feature_extractor.conv_layers.{Strides.Length}.conv.weight"))
            throw new CheckpointFormatException($"HuBERT-Soft has {Strides.Length} feature-extractor convolutions (conv0 ... conv6)", path, "feature_extractor.conv0.weight");
        int embed = (int)Need("encoder.feature_projection.projection.weight").shape[0];
        int layers = sd.Keys.Select(k => Regex.Match(k, @"^encoder\.transformer\.layers\.(\d+)\.")).Where(m => m.Success)
            .Select(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) + 1).DefaultIfEmpty(0).Max();
        if (layers == 0)
            throw new CheckpointFormatException("HuBERT-Soft weights without encoder layers", path, "encoder.layers.0.self_attn.in_proj_weight");
        int ffn = (int)Need("encoder.transformer.layers.0.feed_forward.intermediate_dense.weight").shape[0];
        var pos = Need("encoder.transformer.pos_conv_embed.conv.weight_v");
        if (embed % HeadDim != 0)
            throw new CheckpointFormatException(new OptionText($"width {embed} is not a multiple of HuBERT-Soft's head width {HeadDim}: give the architecture as {ApiOption.ConfigPath}"), path,
                "feature_projection.projection.weight");
        report.Notes.Add($"architecture of bshall/hubert's HuBERT-Soft read off the weights: {layers} layers of {embed} ({embed / HeadDim} heads of {HeadDim}), "
            + $"FFN {ffn}, conv {convs[0].OutChannels} channels, positional conv {pos.shape[2]} / {embed / pos.shape[1]} groups; post-LN, normalize_waveform = false");
        return TranslateConfig(() => ConfigDictionaryMap.ReadUniform(new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["extractor_mode"] = "group_norm",
            ["extractor_conv_layer_config"] = convs.Select(c => (object?)new object?[] { (long)c.OutChannels, (long)c.KernelSize, (long)c.Stride }).ToList(),
            ["extractor_conv_bias"] = false,
            ["encoder_embed_dim"] = (long)embed,
            ["encoder_projection_dropout"] = 0.1,
            ["encoder_pos_conv_kernel"] = pos.shape[2],
            ["encoder_pos_conv_groups"] = embed / pos.shape[1],
            ["encoder_num_layers"] = (long)layers,
            ["encoder_num_heads"] = (long)(embed / HeadDim),
            ["encoder_attention_dropout"] = 0.1, // nn.TransformerEncoderLayer's one dropout, everywhere
            ["encoder_ff_interm_features"] = (long)ffn,
            ["encoder_ff_interm_dropout"] = 0.1,
            ["encoder_dropout"] = 0.1,
            ["encoder_layer_norm_first"] = false,
            ["encoder_layer_drop"] = 0.0,
            ["normalize_waveform"] = false,
        }, ModelKind.Hubert, note: null), path, null);
    }
}
