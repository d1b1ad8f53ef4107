using System;
using System.Collections.Generic;
using System.Linq;
using DpHubert.Config;
using DpHubert.Modules;
using TorchSharp;
using Embedding = TorchSharp.Modules.Embedding;
using Linear = TorchSharp.Modules.Linear;
using static TorchSharp.torch;

namespace DpHubert;

/// <summary>
/// Builds <see cref="Wav2Vec2Model"/>s from a <see cref="Wav2Vec2Config"/>: the one place that turns a config into a
/// module graph (the original's <c>wav2vec2_model</c>, <c>wav2vec2_model_original</c>, <c>wavlm_model</c> and the
/// named presets). Models are returned in eval mode with freshly initialized weights.
/// </summary>
public static class ModelFactory
{
    /// <summary>The original <c>wav2vec2_model(**config)</c> dispatcher: WavLM when the config has remaining heads,
    /// else wav2vec 2.0 / HuBERT.</summary>
    /// <param name="config">The architecture; validated first.</param>
    /// <param name="device">Where to put the model (default CPU).</param>
    /// <exception cref="ArgumentException">The config is invalid (every problem listed).</exception>
    public static Wav2Vec2Model Build(Wav2Vec2Config config, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        var extractor = BuildFeatureExtractor(config);
        var encoder = BuildEncoder(config);
        var aux = config.AuxNumOut is { } n ? Modules.DeferredInit.Linear(config.EncoderEmbedDim, n) : null;
        var model = new Wav2Vec2Model(config, extractor, encoder, aux);
        model.eval();
        if (device is not null && device.type != DeviceType.CPU) model.to(device);
        return model;
    }

    /// <summary>
    /// As <see cref="Build"/>, but the large weights are allocated and left uninitialized (contents undefined) for a
    /// checkpoint to fill: every parameter must be overwritten before use. Norm weights, biases of ones / zeros and
    /// other deterministic values keep their defaults.
    /// </summary>
    internal static Wav2Vec2Model BuildUninitialized(Wav2Vec2Config config, ScalarType weightDType = ScalarType.Float32)
    {
        using var _ = Modules.DeferredInit.Scope(weightDType);
        return Build(config);
    }

    /// <summary>The original <c>wav2vec2_model_original</c>: a wav2vec 2.0 / HuBERT model.</summary>
    /// <param name="config">A config with <c>encoder_num_heads</c> and <c>encoder_head_dim</c>.</param>
    public static Wav2Vec2Model BuildWav2Vec2(Wav2Vec2Config config) => config.AttentionKind == AttentionKind.Standard
        ? Build(config)
        : throw new ArgumentException("This is a WavLM config (Kind = WavLM); use BuildWavLM.", nameof(config));

    /// <summary>The original <c>wavlm_model</c>.</summary>
    /// <param name="config">A config with <c>encoder_total_num_heads</c> and <c>encoder_remaining_heads</c>.</param>
    public static Wav2Vec2Model BuildWavLM(Wav2Vec2Config config) => config.AttentionKind == AttentionKind.WavLM
        ? Build(config)
        : throw new ArgumentException($"This is not a WavLM config (Kind = {config.Kind}); use BuildWav2Vec2.", nameof(config));

    /// <summary>wav2vec 2.0 Base.</summary><param name="auxNumOut">CTC head size, or null.</param>
    public static Wav2Vec2Model Wav2Vec2Base(int? auxNumOut = null) => Build(Wav2Vec2Config.Wav2Vec2Base with { AuxNumOut = auxNumOut });

    /// <summary>wav2vec 2.0 Large.</summary><param name="auxNumOut">CTC head size, or null.</param>
    public static Wav2Vec2Model Wav2Vec2Large(int? auxNumOut = null) => Build(Wav2Vec2Config.Wav2Vec2Large with { AuxNumOut = auxNumOut });

    /// <summary>wav2vec 2.0 Large LV-60k.</summary><param name="auxNumOut">CTC head size, or null.</param>
    public static Wav2Vec2Model Wav2Vec2LargeLv60k(int? auxNumOut = null) => Build(Wav2Vec2Config.Wav2Vec2LargeLv60k with { AuxNumOut = auxNumOut });

    /// <summary>HuBERT Base, with the HuBERT pretraining initialization.</summary><param name="auxNumOut">CTC head size, or null.</param>
    public static Wav2Vec2Model HubertBase(int? auxNumOut = null) => InitHubertPretrain(Build(Wav2Vec2Config.HubertBase with { AuxNumOut = auxNumOut }));

    /// <summary>HuBERT Large, with the HuBERT pretraining initialization.</summary><param name="auxNumOut">CTC head size, or null.</param>
    public static Wav2Vec2Model HubertLarge(int? auxNumOut = null) => InitHubertPretrain(Build(Wav2Vec2Config.HubertLarge with { AuxNumOut = auxNumOut }));

    /// <summary>HuBERT X-Large, with the HuBERT pretraining initialization.</summary><param name="auxNumOut">CTC head size, or null.</param>
    public static Wav2Vec2Model HubertXLarge(int? auxNumOut = null) => InitHubertPretrain(Build(Wav2Vec2Config.HubertXLarge with { AuxNumOut = auxNumOut }));

    /// <summary>WavLM Base / Base+.</summary><param name="auxNumOut">CTC head size, or null.</param>
    public static Wav2Vec2Model WavLMBase(int? auxNumOut = null) => Build(Wav2Vec2Config.WavLMBase with { AuxNumOut = auxNumOut });

    /// <summary>WavLM Large.</summary><param name="auxNumOut">CTC head size, or null.</param>
    public static Wav2Vec2Model WavLMLarge(int? auxNumOut = null) => Build(Wav2Vec2Config.WavLMLarge with { AuxNumOut = auxNumOut });

    /// <summary>Builds a preset by its original builder name (<c>hubert_base</c>, <c>wavlm_large</c>, ...).</summary>
    /// <param name="name">Preset name; see <see cref="Wav2Vec2Config.Presets"/>.</param>
    /// <param name="auxNumOut">CTC head size, or null.</param>
    public static Wav2Vec2Model BuildPreset(string name, int? auxNumOut = null) => name switch
    {
        "wav2vec2_base" => Wav2Vec2Base(auxNumOut),
        "wav2vec2_large" => Wav2Vec2Large(auxNumOut),
        "wav2vec2_large_lv60k" => Wav2Vec2LargeLv60k(auxNumOut),
        "hubert_base" => HubertBase(auxNumOut),
        "hubert_large" => HubertLarge(auxNumOut),
        "hubert_xlarge" => HubertXLarge(auxNumOut),
        "wavlm_base" => WavLMBase(auxNumOut),
        "wavlm_large" => WavLMLarge(auxNumOut),
        _ => Build(Wav2Vec2Config.Preset(name)), // throws, listing the presets
    };

    /// <summary>
    /// The HuBERT pretraining initialization the original intends (<c>_init_hubert_pretrain_model</c>, whose class test
    /// is broken there): Kaiming-normal conv weights; positional conv <c>v ~ N(0, sqrt(4 / (K E)))</c>, bias 0; q/k/v
    /// Xavier-uniform with gain 1/sqrt(2); out_proj Xavier-uniform, bias 0; other transformer Linear layers
    /// N(0, 0.02) with bias 0 and the relative-position embedding N(0, 0.02) (BERT init).
    /// </summary>
    /// <param name="model">The model, changed in place.</param>
    /// <returns>The same model.</returns>
    public static Wav2Vec2Model InitHubertPretrain(Wav2Vec2Model model)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var _ = no_grad();
        foreach (var block in model.FeatureExtractor.ConvLayers)
            nn.init.kaiming_normal_(block.Conv.Weight);
        var transformer = model.Encoder.Transformer;
        // BERT init first for every Linear / Embedding of the transformer, then the attention-specific overrides.
        foreach (var (_, m) in transformer.named_modules())
        {
            if (m is Linear linear)
            {
                nn.init.normal_(linear.weight!, 0.0, 0.02);
                if (linear.bias is not null) nn.init.zeros_(linear.bias);
            }
            else if (m is Embedding embedding)
            {
                nn.init.normal_(embedding.weight!, 0.0, 0.02);
            }
        }
        var posConv = transformer.PosConvEmbed;
        double std = Math.Sqrt(4.0 / (posConv.KernelSize * posConv.EmbedDim));
        var posParams = posConv.named_parameters().ToDictionary(p => p.name[(p.name.LastIndexOf('.') + 1)..], p => p.parameter);
        nn.init.normal_(posParams["weight_v"], 0.0, std);
        nn.init.zeros_(posParams["bias"]);
        // g = ||v|| per tap (set after v), so the effective weight g v / ||v|| starts equal to v.
        posParams["weight_g"].copy_(posParams["weight_v"].Power(2).sum(new long[] { 0, 1 }, keepdim: true).sqrt());
        foreach (var layer in transformer.Layers)
        {
            if (layer.Attention is not { } attention) continue;
            foreach (var (name, m) in attention.named_children())
            {
                if (m is not Linear linear) continue;
                if (name is "q_proj" or "k_proj" or "v_proj") nn.init.xavier_uniform_(linear.weight!, 1.0 / Math.Sqrt(2));
                else if (name == "out_proj")
                {
                    nn.init.xavier_uniform_(linear.weight!);
                    if (linear.bias is not null) nn.init.zeros_(linear.bias);
                }
            }
        }
        return model;
    }

    private static FeatureExtractor BuildFeatureExtractor(Wav2Vec2Config c)
    {
        var blocks = new List<ConvLayerBlock>();
        int inChannels = 1;
        for (int i = 0; i < c.ExtractorConvLayerConfig.Count; i++)
        {
            var spec = c.ExtractorConvLayerConfig[i];
            nn.Module<Tensor, Tensor>? norm = c.ExtractorMode switch
            {
                ExtractorMode.GroupNorm when i == 0 => new PerChannelGroupNorm(spec.OutChannels),
                ExtractorMode.LayerNorm => new PrunableLayerNorm(spec.OutChannels, channelsFirst: true),
                _ => null,
            };
            blocks.Add(new ConvLayerBlock(inChannels, spec.OutChannels, spec.KernelSize, spec.Stride, c.ExtractorConvBias,
                norm, c.ExtractorPruneConvChannels));
            inChannels = spec.OutChannels;
        }
        return new FeatureExtractor(blocks);
    }

    private static Encoder BuildEncoder(Wav2Vec2Config c)
    {
        var projection = new FeatureProjection(c.ExtractorOutputChannels, c.EncoderEmbedDim, c.EncoderProjectionDropout);
        var posConv = new ConvolutionalPositionalEmbedding(c.EncoderEmbedDim, c.EncoderPosConvKernel, c.EncoderPosConvGroups);
        var layers = new List<EncoderLayer>();
        for (int i = 0; i < c.EncoderNumLayers; i++)
        {
            var l = c.EncoderLayers[i];
            SelfAttention? attention = null;
            if (l.UseAttention)
            {
                attention = c.AttentionKind == AttentionKind.WavLM
                    ? new WavLMSelfAttention(c.EncoderEmbedDim, l.TotalNumHeads!.Value, l.RemainingHeads!,
                        c.EncoderAttentionDropout, bias: true, hasRelativeAttentionBias: i == 0,
                        numBuckets: c.EncoderNumBuckets!.Value, maxDistance: c.EncoderMaxDistance!.Value,
                        pruneHeads: c.EncoderPruneAttentionHeads, pruneLayer: c.EncoderPruneAttentionLayer)
                    : new SelfAttention(c.EncoderEmbedDim, l.NumHeads!.Value, c.EncoderHeadDim!.Value,
                        c.EncoderAttentionDropout, c.EncoderPruneAttentionHeads, c.EncoderPruneAttentionLayer);
            }
            FeedForward? feedForward = l.UseFeedForward
                ? new FeedForward(c.EncoderEmbedDim, l.FfIntermFeatures, c.EncoderFfIntermDropout, c.EncoderDropout,
                    c.EncoderPruneFeedForwardIntermediate, c.EncoderPruneFeedForwardLayer)
                : null;
            layers.Add(new EncoderLayer(attention, c.EncoderDropout, c.EncoderLayerNormFirst, feedForward, c.EncoderEmbedDim));
        }
        // Post-norm layers get the transformer's LayerNorm before them, pre-norm layers after the last one.
        var transformer = new Transformer(posConv, c.EncoderDropout, layers, layerNormBeforeLayers: !c.EncoderLayerNormFirst, c.EncoderLayerDrop);
        return new Encoder(projection, transformer);
    }
}
