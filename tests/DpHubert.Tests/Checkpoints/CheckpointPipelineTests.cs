using System;
using System.IO;
using DpHubert.Checkpoints;
using DpHubert.Config;
using DpHubert.PyTorch;
using DpHubert.Tests.Support;
using FluentAssertions;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace DpHubert.Tests.Checkpoints;

/// <summary>The one load pipeline owns every tensor it creates: a failure at any step frees them all, a success keeps
/// exactly the checkpoint's, and the family it decides is the one the checkpoint declares.</summary>
public sealed class CheckpointPipelineTests
{
    private static long Live() => DisposeScopeManager.Statistics.ThreadTotalLiveCount;

    private static string Published(string folder, string file) => TestFiles.Fixture("published", folder, file);

    /// <summary>Writes <paramref name="root"/> as a torch checkpoint and frees its tensors.</summary>
    private static string Save(string name, PyDict root)
    {
        var path = Path.Combine(TestFiles.TempDir(), name);
        try
        {
            TorchCheckpointWriter.Save(path, root);
        }
        finally
        {
            DpHubert.Tests.PyTorch.CheckpointTestHelpers.DisposeTensors(root);
        }
        return path;
    }

    /// <summary>Reads a fixture, lets <paramref name="change"/> edit it and writes it back under a temporary name.</summary>
    private static string Edited(string fixture, string name, Action<PyDict> change)
    {
        var root = (PyDict)TorchCheckpointReader.Load(fixture).Root.Value!;
        change(root);
        return Save(name, root);
    }

    private static void FailsAndFreesEverything(string path, CheckpointReadOptions? options, string because)
    {
        long before = Live();
        var act = () => CheckpointLoader.Read(path, options);
        act.Should().Throw<CheckpointFormatException>().WithMessage($"*{because}*");
        Live().Should().Be(before, "a failed load frees every tensor it read or made");
    }

    [Fact]
    public void A_failure_while_reading_frees_the_tensors_already_read() =>
        FailsAndFreesEverything(TestFiles.Fixture("checkpoints", "missing_record.pt"), null, "missing storage record");

    [Fact]
    public void A_failure_while_recognising_frees_everything()
    {
        var path = Save("unrecognised.pth", new PyDict { ["a"] = ones(3), ["b"] = 1L });
        FailsAndFreesEverything(path, null, "unrecognized checkpoint layout");
    }

    [Fact]
    public void A_failure_while_translating_the_config_frees_everything()
    {
        var path = Edited(TestFiles.DpHubertCase("hubert_post_ln", "checkpoint.pth"), "bad_config.pth",
            root => ((PyDict)root["config"]!)["encoder_embed_dim"] = "wide");
        FailsAndFreesEverything(path, null, "encoder_embed_dim");
    }

    [Fact]
    public void A_failure_while_mapping_keys_frees_everything()
    {
        var path = Edited(Published("wavlm_base_plus", "WavLM-Base+.pt"), "unknown_key.pt",
            root => ((PyDict)root["model"]!)["encoder.bogus.weight"] = ones(2));
        FailsAndFreesEverything(path, null, "encoder.bogus.weight");
    }

    [Fact]
    public void A_failure_while_canonicalising_frees_everything()
    {
        var path = Edited(TestFiles.DpHubertCase("hubert_post_ln", "checkpoint.pth"), "bad_fused.pth", root =>
            ((PyDict)root["state_dict"]!)["encoder.transformer.layers.0.attention.in_proj_weight"] = ones(5, 3));
        FailsAndFreesEverything(path, null, "fused attention projection must be [3E, E]");
    }

    [Fact]
    public void A_failure_while_reading_the_config_off_the_weights_frees_everything()
    {
        // HuBERT-Soft's architecture is read off the weights: one convolution is not its seven.
        var path = Save("soft_one_conv.pt", new PyDict { ["module.feature_extractor.conv0.weight"] = ones(4, 1, 10) });
        FailsAndFreesEverything(path, null, "7 feature-extractor convolutions");
    }

    [Fact]
    public void A_success_keeps_exactly_the_checkpoints_tensors()
    {
        // float16 weights converted, final_proj kept, training-only tensors dropped, a label dictionary ignored.
        long before = Live();
        using (var ckpt = CheckpointLoader.Read(Published("contentvec_500", "checkpoint_best_legacy_500.pt")))
        {
            ckpt.Report.Dropped.Should().NotBeEmpty();
            ckpt.Report.Notes.Should().Contain(n => n.Contains("converted to float32"));
            long held = ckpt.StateDict.Count + ckpt.Extras[CheckpointLoader.FinalProjKey].Count;
            Live().Should().Be(before + held, "only the checkpoint's own tensors outlive the load");
        }
        Live().Should().Be(before);
    }

    [Fact]
    public void Weights_can_be_loaded_in_another_floating_type()
    {
        var options = new CheckpointReadOptions { WeightDType = ScalarType.BFloat16 };
        using var ckpt = CheckpointLoader.Read(TestFiles.DpHubertCase("hubert_post_ln", "checkpoint.pth"), options);
        ckpt.StateDict.Values.Should().OnlyContain(t => t.dtype == ScalarType.BFloat16);
        ckpt.Report.Notes.Should().Contain(n => n.Contains("converted to bfloat16"));
        var refused = () => CheckpointLoader.Read(TestFiles.DpHubertCase("hubert_post_ln", "checkpoint.pth"),
            new CheckpointReadOptions { WeightDType = ScalarType.Int64 });
        refused.Should().Throw<InvalidOptionException>().WithMessage("CheckpointReadOptions.WeightDType must be a floating type*Int64")
            .Which.Option.Should().Be(ApiOption.WeightDType);
    }

    public static TheoryData<string, string?, string?, CheckpointFormat, ModelKind> Formats() => new()
    {
        { TestFiles.DpHubertCase("hubert_post_ln", "checkpoint.pth"), null, null, CheckpointFormat.DpHubert, ModelKind.Wav2Vec2 },
        { TestFiles.DpHubertCase("wavlm_pruned", "checkpoint.pth"), null, null, CheckpointFormat.DpHubert, ModelKind.WavLM },
        { TestFiles.DpHubertCase("hubert_post_ln", "hf"), null, null, CheckpointFormat.HuggingFace, ModelKind.Hubert },
        { TestFiles.DpHubertCase("wavlm_pre_ln", "hf"), null, null, CheckpointFormat.HuggingFace, ModelKind.WavLM },
        { TestFiles.Fixture("reference", "fairseq_hubert", "checkpoint.pt"), null, null, CheckpointFormat.Fairseq, ModelKind.Hubert },
        { TestFiles.Fixture("reference", "fairseq_wav2vec2", "checkpoint.pt"), null, null, CheckpointFormat.Fairseq, ModelKind.Wav2Vec2 },
        { Published("contentvec_500", "checkpoint_best_legacy_500.pt"), null, null, CheckpointFormat.Fairseq, ModelKind.Hubert },
        { Published("wavlm_base_plus", "WavLM-Base+.pt"), null, null, CheckpointFormat.UnilmWavLm, ModelKind.WavLM },
        { Published("hubert_soft", "hubert-soft-0d54a1f4.pt"), null, null, CheckpointFormat.HubertSoft, ModelKind.Hubert },
        { Published("dphubert_distill", "epoch=2-step=2.ckpt"), null, TestFiles.DpHubertCase("prune_hubert", "checkpoint.pth"), CheckpointFormat.DpHubertLightning, ModelKind.Wav2Vec2 },
        { Published("torchaudio2_wavlm", "wavlm_state_dict.pth"), null, Published("torchaudio2_wavlm", "config.json"), CheckpointFormat.Torchaudio, ModelKind.WavLM },
    };

    [Theory]
    [MemberData(nameof(Formats))]
    public void Each_format_decides_its_kind_once(string path, string? arch, string? config, CheckpointFormat format, ModelKind kind)
    {
        using var ckpt = CheckpointLoader.Read(path, new CheckpointReadOptions { Arch = arch, ConfigPath = config });
        ckpt.Report.Format.Should().Be(format);
        ckpt.Kind.Should().Be(kind);
    }
}
