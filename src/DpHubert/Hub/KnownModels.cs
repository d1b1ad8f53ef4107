using System;
using System.Collections.Generic;
using System.Linq;
using DpHubert.Extraction;

namespace DpHubert.Hub;

/// <summary>A well-known encoder by short name: where it is on the Hub and the so-vits-svc units it is used for.</summary>
/// <param name="Name">The short name (<c>dphubert-sp0.75</c>).</param>
/// <param name="RepoId">ORG/REPO on the Hub.</param>
/// <param name="File">The checkpoint file in the repository, or null for a Hugging Face model folder.</param>
/// <param name="Units">The units preset that applies (<c>--units</c>), or null for the model output.</param>
/// <param name="Description">What it is.</param>
public sealed record KnownModel(string Name, string RepoId, string? File, SpeechUnits? Units, string Description)
{
    /// <summary>The Hub reference (default revision).</summary>
    public HubReference Reference => new(RepoId, null, File);
}

/// <summary>The table of short names; one row per model.</summary>
public static class KnownModels
{
    /// <summary>Every known model, in the order <c>dphubert models</c> lists them.</summary>
    public static IReadOnlyList<KnownModel> All { get; } = new KnownModel[]
    {
        new("dphubert-sp0.75", "pyf98/DPHuBERT", "DPHuBERT-sp0.75.pth", null,
            "DPHuBERT: HuBERT Base distilled and pruned to 25% of its size (the so-vits-svc 'dphubert' encoder), 768-dim"),
        new("dpwavlm-sp0.75", "pyf98/DPHuBERT", "DPWavLM-sp0.75.pth", null,
            "DPWavLM: WavLM Base+ distilled and pruned to 25% of its size, 768-dim"),
        new("hubert-base", "facebook/hubert-base-ls960", null, null,
            "HuBERT Base trained on LibriSpeech 960 h (Hugging Face folder), 768-dim"),
        new("wavlm-base-plus", "microsoft/wavlm-base-plus", null, SpeechUnits.WavLMBasePlus,
            "WavLM Base+ (Hugging Face folder), its output as so-vits-svc's wavlmbase+ units, 768-dim"),
        new("rvc-hubert-base", "lj1995/VoiceConversionWebUI", "hubert_base.pt", SpeechUnits.ContentVec768L12,
            "RVC's hubert_base.pt (the ContentVec layout), layer 12 as RVC v2 and vec768l12 use it; --units vec256l9 for RVC v1"),
    };

    /// <summary>The model named <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">An unknown name; the message lists the known ones.</exception>
    public static KnownModel Get(string name) =>
        All.FirstOrDefault(m => string.Equals(m.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"--model '{name}' is not a known model; known: {string.Join(", ", All.Select(m => m.Name))} (or use --checkpoint hf://ORG/REPO[/FILE]).", nameof(name));
}
