using System;
using System.Linq;
using DpHubert.Extraction;
using DpHubert.Modules;
using DpHubert.Tests.Support;
using FluentAssertions;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace DpHubert.Tests;

/// <summary>Tests that switch libtorch's process-wide oneDNN state (and restore it): alone, so no other test runs a
/// kernel while it changes.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class OneDnnSwitchCollection
{
    /// <summary>The collection's name.</summary>
    public const string Name = "OneDnnSwitch";
}

/// <summary>The kernel self-check: what it covers, its cache, its modes, and the fallbacks it takes for a wrong kernel.
/// Real wrong kernels exist on some CPUs only, so the fallbacks are shown with faults injected into the checker; the
/// features are then compared with the original's, so the path the model was routed to is shown to be exact.</summary>
public class KernelCheckTests
{
    internal static string Checkpoint(string name) => TestFiles.DpHubertCase(name, "checkpoint.pth");

    /// <summary>The encoder's features of the case's input against the original's single output (1e-4, as the
    /// fixture parity tests).</summary>
    internal static void AssertMatchesOriginal(SpeechEncoder encoder, string name)
    {
        var features = encoder.ExtractFile(TestFiles.DpHubertCase(name, "input.wav"));
        using var got = tensor(features.Data).reshape(features.Shape);
        using var expected = TestFiles.LoadFloat(TestFiles.DpHubertCase(name, "single_output.npy"));
        TensorAssert.Close(got, expected, 1e-4, $"{name} features after the kernel check");
    }

    [Fact]
    public void Every_distinct_configuration_of_a_pruned_uneven_model_is_checked_and_right_as_it_runs()
    {
        using var encoder = SpeechEncoder.Load(Checkpoint("pruned_uneven"), new SpeechEncoderOptions { KernelCheck = KernelCheckMode.Force });
        var report = encoder.KernelCheck;
        report.Skipped.Should().BeNull();
        report.Entries.Should().OnlyContain(e => e.Passed && !e.Cached && e.DType == ScalarType.Float32, report.ToString());

        // Each conv layer's (in, out, k, s) once; this fixture's uneven channels make every one distinct.
        var convs = encoder.Model.Config.ExtractorConvLayerConfig;
        var expectedConvs = convs.Select((c, i) => $"conv1d {(i == 0 ? 1 : convs[i - 1].OutChannels)}->{c.OutChannels} k{c.KernelSize} s{c.Stride}").ToArray();
        report.Entries.Where(e => e.Operation.StartsWith("conv1d")).Select(e => string.Join(' ', e.Operation.Split(' ').Take(4)))
            .Should().Equal(expectedConvs);

        // Every linear layer of the model, grouped by shape: the sites add up to the layer count.
        var linears = encoder.Model.modules().OfType<Linear>().Select(l => $"linear {l.weight!.shape[1]}->{l.weight!.shape[0]}").ToArray();
        var linearEntries = report.Entries.Where(e => e.Operation.StartsWith("linear")).ToArray();
        linearEntries.Sum(e => e.Sites).Should().Be(linears.Length);
        linearEntries.Select(e => string.Join(' ', e.Operation.Split(' ').Take(2))).Should().BeEquivalentTo(linears.Distinct());
        report.Entries.Should().ContainSingle(e => e.Operation == "pos_conv 48 k16 g4");

        // The pairs of blocks the GEMM path runs fused, each checked as it runs (chunked, the first output never whole).
        var layers = encoder.Model.FeatureExtractor.ConvLayers;
        int pairs = 0;
        for (int i = 0; i + 1 < layers.Count; i++)
            if (layers[i].FusesWith(layers[i + 1])) { pairs++; i++; }
        pairs.Should().BeGreaterThan(0, "the waveform layer fuses with the next on the GEMM path");
        report.Entries.Where(e => e.Operation.StartsWith("conv_pair")).Should().HaveCount(pairs).And.OnlyContain(e => e.Path.StartsWith("gemm"));
        report.Entries.Where(e => e.Operation.StartsWith("attention")).Should().NotBeEmpty();
        report.Summary.Should().StartWith($"kernel check: {report.Entries.Count} configurations");
    }

    [Fact]
    public void A_wrong_libtorch_convolution_is_routed_to_the_gemm_path_of_that_layer_alone_and_features_stay_exact()
    {
        var (model, _) = DpHubert.Checkpoints.CheckpointLoader.LoadModel(Checkpoint("pruned_uneven"));
        using var _m = model;
        model.SetConvolutionPath(ConvolutionPath.LibTorch);
        // As on the CPU that showed it: libtorch's kernel-3 stride-2 convolutions wrong, the others right.
        KernelCheck.FaultInjector fault = p => p.Operation.StartsWith("conv1d") && p.Operation.Contains(" k3 s2") && p.Path == "libtorch";
        var report = model.EnsureKernelsChecked(KernelCheckMode.Force, fault, null, null)!;

        var layers = model.FeatureExtractor.ConvLayers;
        for (int i = 0; i < layers.Count; i++)
            layers[i].Path.Should().Be(layers[i].KernelSize == 3 ? ConvolutionPath.Gemm : ConvolutionPath.LibTorch, $"layer {i} (k{layers[i].KernelSize})");
        var convs = report.Entries.Where(e => e.Operation.StartsWith("conv1d")).ToArray();
        convs.Where(e => e.Operation.Contains(" k3 s2")).Should().HaveCount(4).And.OnlyContain(e =>
            e.Path.StartsWith("gemm") && e.RoutedTo!.StartsWith("gemm") && e.WrongError > e.Tolerance && e.Passed, report.ToString());
        convs.Where(e => !e.Operation.Contains(" k3 s2")).Should().OnlyContain(e => e.Path == "libtorch" && e.RoutedTo == null && e.Passed);
        report.OneDnnTurnedOff.Should().BeFalse("a per-layer route fixed it");
        report.Summary.Should().Contain("-> gemm");

        using var wave = ModelAssert.Wave(TestFiles.DpHubertCase("pruned_uneven", "input.wav"));
        using var _g = inference_mode();
        var (y, _) = model.forward(wave, null);
        using var _y = y;
        model.KernelCheck.Should().BeSameAs(report, "the pass did not check again");
        using var expected = TestFiles.LoadFloat(TestFiles.DpHubertCase("pruned_uneven", "single_output.npy"));
        TensorAssert.Close(y[0], expected, 1e-4, "pruned_uneven with mixed convolution paths");
    }

    public static TheoryData<string> Fixtures => new()
    {
        "hubert_post_ln", "large_pre_ln", "pruned_uneven", "wavlm_pruned", "wavlm_pre_ln", "prune_hubert", "prune_wavlm",
    };

    /// <summary>libtorch's own convolutions (oneDNN on most CPUs, at whatever ONEDNN_MAX_CPU_ISA level the process
    /// runs) checked for real: where one is wrong on this machine the check moves that layer to the GEMM path, and
    /// either way the features equal the original's.</summary>
    [Theory]
    [MemberData(nameof(Fixtures))]
    public void On_the_libtorch_convolution_path_every_fixture_is_checked_and_matches_the_original(string name)
    {
        var (model, _) = DpHubert.Checkpoints.CheckpointLoader.LoadModel(Checkpoint(name));
        using var _m = model;
        model.SetConvolutionPath(ConvolutionPath.LibTorch);
        using var wave = ModelAssert.Wave(TestFiles.DpHubertCase(name, "input.wav"));
        using var _g = inference_mode();
        var (y, _) = model.forward(wave, null);
        using var _y = y;
        var report = model.KernelCheck!;
        report.Entries.Should().OnlyContain(e => e.Passed, report.ToString());
        foreach (var e in report.Entries.Where(e => e.Operation.StartsWith("conv1d")))
            if (e.RoutedTo is null) e.Path.Should().Be("libtorch", report.ToString());
            else e.Path.Should().StartWith("gemm", report.ToString());
        using var expected = TestFiles.LoadFloat(TestFiles.DpHubertCase(name, "single_output.npy"));
        TensorAssert.Close(y[0], expected, 1e-4, $"{name} on the libtorch path after the kernel check ({report.Summary})");
    }

    [Fact]
    public void A_second_model_with_the_same_shapes_reuses_the_verdicts_and_off_checks_nothing()
    {
        using (var first = SpeechEncoder.Load(Checkpoint("hubert_post_ln")))
            first.KernelCheck.Entries.Should().NotBeEmpty();
        using var second = SpeechEncoder.Load(Checkpoint("hubert_post_ln"));
        second.KernelCheck.Entries.Should().OnlyContain(e => e.Cached, "the first load verified these configurations");
        second.KernelCheck.Summary.Should().Contain("(cached)");

        using var off = SpeechEncoder.Load(Checkpoint("hubert_post_ln"), new SpeechEncoderOptions { KernelCheck = KernelCheckMode.Off });
        off.KernelCheck.Entries.Should().BeEmpty();
        off.KernelCheck.Skipped.Should().NotBeNull();
        off.KernelCheck.Summary.Should().StartWith("kernel check: skipped");
    }

    [Fact]
    public void A_model_used_directly_is_checked_before_its_first_eval_pass_and_again_after_a_dtype_change()
    {
        var (model, _) = DpHubert.Checkpoints.CheckpointLoader.LoadModel(Checkpoint("hubert_post_ln"));
        using var _m = model;
        model.KernelCheck.Should().BeNull("nothing ran yet");
        using var wave = ModelAssert.Wave(TestFiles.DpHubertCase("hubert_post_ln", "input.wav"));
        using (inference_mode())
        {
            var (y, _) = model.forward(wave, null);
            y.Dispose();
        }
        model.KernelCheck.Should().NotBeNull();
        model.KernelCheck!.Entries.Should().OnlyContain(e => e.DType == ScalarType.Float32 && e.Passed);
        model.to(ScalarType.BFloat16);
        model.EnsureKernelsChecked()!.Entries.Should().OnlyContain(e => e.DType == ScalarType.BFloat16 && e.Passed,
            "a bfloat16 model runs other kernels, checked with bfloat16's tolerance");
        model.train();
        model.EnsureKernelsChecked().Should().BeNull("a training pass samples its masks: there is no fixed reference");
    }

    [Fact]
    public void Environment_settings_are_parsed_and_a_bad_one_is_named()
    {
        OneDnn.ParseSetting(null).Should().BeNull();
        OneDnn.ParseSetting(" OFF ").Should().BeFalse();
        OneDnn.ParseSetting("1").Should().BeTrue();
        FluentActions.Invoking(() => OneDnn.ParseSetting("maybe")).Should().Throw<ArgumentException>()
            .WithMessage("*DPHUBERT_ONEDNN=maybe*");
        KernelCheck.ParseMode("force", KernelCheckMode.On).Should().Be(KernelCheckMode.Force);
        KernelCheck.ParseMode("", KernelCheckMode.Off).Should().Be(KernelCheckMode.Off);
        KernelCheck.ParseMode("off", KernelCheckMode.On).Should().Be(KernelCheckMode.Off);
        FluentActions.Invoking(() => KernelCheck.ParseMode("sometimes", KernelCheckMode.On)).Should().Throw<ArgumentException>()
            .WithMessage("*DPHUBERT_KERNEL_CHECK=sometimes*");
    }

    [LinuxFact]
    public void The_onednn_switch_is_reachable_on_linux()
    {
        OneDnn.IsAvailable.Should().BeTrue("libtorch_cpu exports at::globalContext and setUserEnabledMkldnn");
    }
}

/// <summary>The process-wide fallback (oneDNN off) and the typed error, with the oneDNN state restored after each.</summary>
[Collection(OneDnnSwitchCollection.Name)]
public class KernelCheckOneDnnTests
{
    /// <summary>Runs <paramref name="body"/> with oneDNN on and restores the state the process had.</summary>
    private static void WithOneDnnOn(Action body)
    {
        bool before = OneDnn.Enabled;
        OneDnn.SetEnabled(true);
        try
        {
            body();
        }
        finally
        {
            OneDnn.SetEnabled(before);
        }
    }

    [LinuxFact]
    public void The_switch_turns_onednn_off_and_on()
    {
        WithOneDnnOn(() =>
        {
            OneDnn.Enabled.Should().BeTrue();
            OneDnn.SetEnabled(false).Should().BeTrue();
            OneDnn.Enabled.Should().BeFalse();
        });
    }

    [LinuxFact]
    public void A_wrong_linear_kernel_turns_onednn_off_then_everything_is_checked_again_and_features_stay_exact()
    {
        WithOneDnnOn(() =>
        {
            // Linear layers have no per-layer alternative: oneDNN off is the last resort.
            KernelCheck.FaultInjector fault = p => p.Operation.StartsWith("linear") && p.OneDnnEnabled;
            using var encoder = SpeechEncoder.Load(KernelCheckTests.Checkpoint("pruned_uneven"), new SpeechEncoderOptions { KernelFaults = fault });
            var report = encoder.KernelCheck;
            report.OneDnnTurnedOff.Should().BeTrue(report.ToString());
            report.OneDnnEnabled.Should().BeFalse();
            OneDnn.Enabled.Should().BeFalse();
            var linears = report.Entries.Where(e => e.Operation.StartsWith("linear")).ToArray();
            linears.Should().NotBeEmpty().And.OnlyContain(e => e.RoutedTo == "oneDNN off" && e.WrongError > e.Tolerance && e.Passed, report.ToString());
            report.Entries.Where(e => !e.Operation.StartsWith("linear")).Should().OnlyContain(e => e.RoutedTo == null && e.Passed && !e.Cached,
                "with oneDNN off every kernel is new, so every configuration is checked again");
            report.Summary.Should().Contain("-> oneDNN off").And.Contain("oneDNN turned off");
            KernelCheckTests.AssertMatchesOriginal(encoder, "pruned_uneven");
        });
    }

    [LinuxFact]
    public void A_kernel_wrong_even_with_onednn_off_is_a_typed_error_naming_it()
    {
        WithOneDnnOn(() =>
        {
            KernelCheck.FaultInjector fault = p => p.Operation.StartsWith("attention");
            var load = () => SpeechEncoder.Load(KernelCheckTests.Checkpoint("hubert_post_ln"), new SpeechEncoderOptions { KernelFaults = fault });
            load.Should().Throw<KernelCheckException>()
                .WithMessage("*with oneDNN off*attention 4x12 float32*encoder.transformer.layers.0.attention and 2 more*DPHUBERT_KERNEL_CHECK=off*");
        });
    }
}
