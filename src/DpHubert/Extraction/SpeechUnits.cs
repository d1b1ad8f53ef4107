using System;
using System.Collections.Generic;
using System.Linq;

namespace DpHubert.Extraction;

/// <summary>
/// so-vits-svc's speech units by the names its configs use (<c>speech_encoder</c>), computed as its <c>vencoder/</c>
/// classes compute them: which output, whether the checkpoint's optional projection (ContentVec's <c>final_proj</c>,
/// HuBERT-Soft's <c>proj</c>) follows it, and any zero padding of the waveform first.
/// </summary>
/// <param name="Name">The so-vits-svc name, e.g. <c>vec256l9</c>.</param>
/// <param name="Layers">The output to take.</param>
/// <param name="Projection">Whether the checkpoint's projection is applied to it.</param>
/// <param name="PadSamples">Zero samples added at each end of the 16 kHz waveform before the model.</param>
/// <param name="Description">What it is and which checkpoint gives it.</param>
public sealed record SpeechUnits(string Name, LayerSelection Layers, bool Projection, int PadSamples, string Description)
{
    /// <summary>ContentVec's 256-dim units: <c>final_proj</c> of layer 9 (vencoder/ContentVec256L9, <c>checkpoint_best_legacy_500.pt</c>).</summary>
    public static SpeechUnits ContentVec256L9 { get; } = new("vec256l9", LayerSelection.Layer(9), true, 0,
        "ContentVec final_proj(layer 9), 256-dim (checkpoint_best_legacy_500.pt)");

    /// <summary>ContentVec's 768-dim units: the output of layer 12 (vencoder/ContentVec768L12).</summary>
    public static SpeechUnits ContentVec768L12 { get; } = new("vec768l12", LayerSelection.Layer(12), false, 0,
        "ContentVec layer 12, 768-dim (checkpoint_best_legacy_500.pt)");

    /// <summary>HuBERT-Soft's 256-dim soft units: <c>proj</c> of the last layer, on the waveform padded by 40 samples
    /// each side (vencoder/HubertSoft, <c>hubert-soft-0d54a1f4.pt</c>).</summary>
    public static SpeechUnits HubertSoft { get; } = new("hubertsoft", LayerSelection.Final, true, (400 - 320) / 2,
        "HuBERT-Soft proj(last layer) on the waveform padded by 40 samples each side, 256-dim (hubert-soft-0d54a1f4.pt)");

    /// <summary>WavLM Base+'s features: the model output, its 12th layer (vencoder/WavLMBasePlus, <c>WavLM-Base+.pt</c>).</summary>
    public static SpeechUnits WavLMBasePlus { get; } = new("wavlmbase+", LayerSelection.Final, false, 0,
        "WavLM Base+ output (layer 12), 768-dim (WavLM-Base+.pt)");

    /// <summary>Every named set, by name.</summary>
    public static IReadOnlyDictionary<string, SpeechUnits> All { get; } =
        new[] { ContentVec256L9, ContentVec768L12, HubertSoft, WavLMBasePlus }.ToDictionary(u => u.Name, StringComparer.Ordinal);

    /// <summary>The set named <paramref name="name"/> (as so-vits-svc's <c>speech_encoder</c>).</summary>
    /// <exception cref="ArgumentException">An unknown name; the message lists the known ones.</exception>
    public static SpeechUnits Parse(string name) =>
        All.TryGetValue(name ?? "", out var u) ? u
            : throw new OptionText($"{ApiOption.Units} must be one of {string.Join(", ", All.Keys)}; got '{name}'.").Argument();

    /// <summary>The waveform with <see cref="PadSamples"/> zeros at each end (the same array when there are none).</summary>
    /// <param name="samples16k">16 kHz mono samples.</param>
    public float[] Pad(float[] samples16k)
    {
        ArgumentNullException.ThrowIfNull(samples16k);
        if (PadSamples == 0) return samples16k;
        var padded = new float[samples16k.Length + 2 * PadSamples];
        samples16k.CopyTo(padded, PadSamples);
        return padded;
    }
}
