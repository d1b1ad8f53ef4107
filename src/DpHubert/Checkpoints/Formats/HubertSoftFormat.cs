using System.Collections.Generic;
using System.Linq;
using System.Text.RegularExpressions;
using DpHubert.Checkpoints.KeyMaps;
using DpHubert.Config;
using DpHubert.PyTorch;

namespace DpHubert.Checkpoints.Formats;

/// <summary>
/// bshall/hubert's HuBERT-Soft (<c>hubert-soft-0d54a1f4.pt</c>, so-vits-svc 3.x's encoder): a bare state_dict with
/// <c>module.</c> prefixes and no config, keys by <see cref="HubertSoftKeyMap"/>. The architecture is the original's
/// fixed one, read off the weights (widths, layer count, kernel sizes) with its strides and 64-wide heads; a config
/// JSON (<see cref="CheckpointReadOptions.ConfigPath"/>) replaces it. <c>proj</c> (E → 256) is kept as the optional
/// projection <c>Extras["final_proj"]</c>: the soft units are <c>proj</c> of the last layer.
/// </summary>
internal sealed class HubertSoftFormat : FormatReader
{
    /// <summary>The original's conv strides (kernels 10, 3, 3, 3, 3, 2, 2 are read from the weights).</summary>
    private static readonly int[] Strides = { 5, 2, 2, 2, 2, 2, 2 };

    /// <summary>Width of one attention head in the original (768 / 12).</summary>
    public const int HeadDim = 64;

    private readonly PyDict _root;

    public HubertSoftFormat(PyDict root, string path, CheckpointReadOptions options) : base(path, CheckpointFormat.HubertSoft, options) => _root = root;

    public static bool Matches(PyDict d) =>
        d.Keys.Any(k => k is "module.feature_extractor.conv0.weight" or "feature_extractor.conv0.weight");

    public override KeyMap KeyMap => HubertSoftKeyMap.Instance;

    public override IEnumerable<KeyValuePair<string, Tensor>> Weights(LoadReport report) => StateDict.FromPickled(_root, Source, "state_dict");

    public override (string Group, string Name)? Extra(string key) =>
        Regex.Match(key, @"^(?:module\.)?proj\.(weight|bias)$") is { Success: true } m ? (CheckpointLoader.FinalProjKey, m.Groups[1].Value) : null;

    /// <summary>A config JSON given as <see cref="CheckpointReadOptions.ConfigPath"/>; otherwise none yet: the original's architecture is read off the weights.</summary>
    public override Wav2Vec2Config? TranslateConfig(LoadReport report) =>
        Options.ConfigPath is not null ? AsHubert(ConfigFiles.FromFile(Options.ConfigPath, report)) : null;

    // A config file (a dictionary) declares no family; the format does.
    private static Wav2Vec2Config AsHubert(Wav2Vec2Config config) =>
        config.Kind == ModelKind.Wav2Vec2 ? config with { Kind = ModelKind.Hubert } : config;

    public override Wav2Vec2Config ConfigFromWeights(Wav2Vec2Config? translated, StateDict weights, LoadReport report) =>
        translated ?? FromWeights(weights, Source, report);

    public override void Finish(ModelCheckpoint checkpoint) => KeepProjection(checkpoint, "proj (the soft units)");

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
        return ConfigFiles.Translate(new UniformArchitecture
        {
            Kind = ModelKind.Hubert,
            ExtractorMode = ExtractorMode.GroupNorm,
            ConvLayers = convs,
            ConvBias = false,
            EmbedDim = embed,
            ProjectionDropout = 0.1,
            PosConvKernel = (int)pos.shape[2],
            PosConvGroups = (int)(embed / pos.shape[1]),
            NumLayers = layers,
            NumHeads = embed / HeadDim,
            AttentionDropout = 0.1, // nn.TransformerEncoderLayer's one dropout, everywhere
            FfIntermFeatures = ffn,
            FfIntermDropout = 0.1,
            Dropout = 0.1,
            LayerNormFirst = false,
            LayerDrop = 0.0,
            NormalizeWaveform = false,
        }.ToConfig().Validate, path, null);
    }
}
