using System;
using System.Globalization;
using System.Linq;
using DpHubert.Checkpoints;
using DpHubert.Extraction;
using DpHubert.Modules;
using DpHubert.Tests.Support;
using FluentAssertions;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace DpHubert.Tests.Internal;

/// <summary>The library float32 CPU matrix products run on (BLAS or oneDNN): exact against libtorch's own products,
/// applied only where it may be, covered by the kernel check, and chosen by <c>auto</c> from timings (injected here:
/// no test depends on which library is faster on the machine it runs on). The backend is process-wide, so these run
/// alone and restore it.</summary>
[Collection(OneDnnSwitchCollection.Name)]
public class LinearKernelsTests
{
    private static void WithBackend(LinearBackend backend, Action body)
    {
        using var _ = LinearKernels.Override(backend);
        body();
    }

    /// <summary>A timer that fails the test if auto measured when it should not have.</summary>
    private static readonly LinearKernels.GemmTimer NoMeasurement = _ => throw new InvalidOperationException("auto measured");

    private static LinearKernels.GemmTimer Timing(double blas, double oneDnn) => _ => (blas, oneDnn);

    private static bool OneDnnPaths(KernelCheckReport report) =>
        report.Entries.Where(e => e.Operation.StartsWith("linear")).All(e => e.Path == "onednn")
        && report.Entries.Where(e => e.Operation.StartsWith("conv")).All(e => e.Path == "gemm/onednn");

    private static bool BlasPaths(KernelCheckReport report) =>
        report.Entries.Where(e => e.Operation.StartsWith("linear")).All(e => e.Path == "libtorch")
        && report.Entries.Where(e => e.Operation.StartsWith("conv")).All(e => e.Path == "gemm");

    [Fact]
    public void The_setting_is_read_from_auto_blas_or_onednn_and_anything_else_is_a_typed_error_naming_the_variable()
    {
        LinearKernels.Parse(null).Should().Be(LinearBackend.Auto);
        LinearKernels.Parse(" ").Should().Be(LinearBackend.Auto);
        LinearKernels.Parse("Auto").Should().Be(LinearBackend.Auto);
        LinearKernels.Parse("BLAS").Should().Be(LinearBackend.Blas);
        LinearKernels.Parse("oneDNN").Should().Be(LinearBackend.OneDnn);
        FluentActions.Invoking(() => LinearKernels.Parse("mkl")).Should().Throw<ArgumentException>()
            .WithMessage("*DPHUBERT_LINEAR=mkl*'auto', 'blas' or 'onednn'*");
        FluentActions.Invoking(() => LinearKernels.Requested = (LinearBackend)7).Should().Throw<ArgumentOutOfRangeException>();
    }

    [Fact]
    public void Override_restores_the_setting_and_the_choice_in_effect_before()
    {
        using var outer = LinearKernels.Override(LinearBackend.Auto);
        using (var encoder = SpeechEncoder.Load(KernelCheckTests.Checkpoint("hubert_post_ln"),
                   new SpeechEncoderOptions { GemmTimer = Timing(10, 20), KernelCheck = KernelCheckMode.Force }))
            encoder.KernelCheck.Gemm.Should().Be(LinearKernels.Choice);
        var chosen = LinearKernels.Choice;
        chosen.Should().NotBeNull();
        using (LinearKernels.Override(LinearBackend.OneDnn))
        {
            LinearKernels.Requested.Should().Be(LinearBackend.OneDnn);
            LinearKernels.Choice.Should().BeNull("a new setting drops the old choice");
        }
        LinearKernels.Requested.Should().Be(LinearBackend.Auto);
        LinearKernels.Choice.Should().BeSameAs(chosen);
    }

    [Theory]
    [InlineData(100.0, 50.0, true)]
    [InlineData(100.0, 86.0, true)]
    [InlineData(100.0, 88.0, false)] // faster, but within the margin: an even machine stays on BLAS
    [InlineData(100.0, 100.0, false)]
    [InlineData(100.0, 140.0, false)]
    public void Auto_chooses_onednn_only_when_it_is_clearly_faster_and_says_so(double blas, double oneDnn, bool picksOneDnn)
    {
        using var _ = LinearKernels.Override(LinearBackend.Auto);
        using var encoder = SpeechEncoder.Load(KernelCheckTests.Checkpoint("pruned_uneven"),
            new SpeechEncoderOptions { GemmTimer = Timing(blas, oneDnn), KernelCheck = KernelCheckMode.Force });
        var report = encoder.KernelCheck;
        report.Entries.Should().OnlyContain(e => e.Passed, report.ToString());
        var gemm = report.Gemm!;
        if (!LinearKernels.OneDnnUsable)
        {
            // A libtorch without oneDNN's product (or with oneDNN off) has nothing to choose.
            gemm.Backend.Should().Be(LinearBackend.Blas);
            gemm.Reason.Should().Be("oneDNN unavailable");
            return;
        }
        var expected = picksOneDnn ? LinearBackend.OneDnn : LinearBackend.Blas;
        gemm.Should().Be(LinearKernels.Choice);
        gemm.Backend.Should().Be(expected);
        LinearKernels.Backend.Should().Be(expected);
        gemm.Requested.Should().Be(LinearBackend.Auto);
        gemm.Reason.Should().Be("measured");
        gemm.Ratio.Should().BeApproximately(oneDnn / blas, 1e-12);
        // Where products run follows the choice, for the linear layers and the GEMM convolutions alike.
        (picksOneDnn ? OneDnnPaths(report) : BlasPaths(report)).Should().BeTrue(report.ToString());
        report.Summary.Should().Contain($"GEMM backend: {(picksOneDnn ? "onednn" : "blas")} (auto, measured: oneDNN {(oneDnn / blas).ToString("0.00", CultureInfo.InvariantCulture)}x BLAS's time");
        KernelCheckTests.AssertMatchesOriginal(encoder, "pruned_uneven");
    }

    [Fact]
    public void When_auto_chose_onednn_short_products_stay_on_blas_except_while_the_kernel_check_verifies_them()
    {
        if (!LinearKernels.OneDnnUsable) return;
        using var rows100 = randn(100, 64);
        using var rows300 = randn(LinearKernels.OneDnnMinRows + 44, 64);
        using var batched = randn(2, LinearKernels.OneDnnMinRows / 2, 64); // rows across the batch count
        using var g = inference_mode();
        using (LinearKernels.Override(LinearBackend.Auto))
        {
            using (SpeechEncoder.Load(KernelCheckTests.Checkpoint("hubert_post_ln"),
                       new SpeechEncoderOptions { GemmTimer = Timing(100, 50), KernelCheck = KernelCheckMode.Force })) { }
            LinearKernels.Backend.Should().Be(LinearBackend.OneDnn);
            LinearKernels.UsesOneDnn(rows100).Should().BeFalse();
            LinearKernels.UsesOneDnn(rows300).Should().BeTrue();
            LinearKernels.UsesOneDnn(batched).Should().BeTrue();
            using (LinearKernels.Verifying()) LinearKernels.UsesOneDnn(rows100).Should().BeTrue();
            LinearKernels.UsesOneDnn(rows100).Should().BeFalse("the verifying scope ended");
        }
        using (LinearKernels.Override(LinearBackend.OneDnn))
            LinearKernels.UsesOneDnn(rows100).Should().BeTrue("a forced backend takes every product");
    }

    [Fact]
    public void A_forced_backend_is_not_measured_and_auto_is_measured_once_per_process()
    {
        using (LinearKernels.Override(LinearBackend.Blas))
        using (var forced = SpeechEncoder.Load(KernelCheckTests.Checkpoint("hubert_post_ln"),
                   new SpeechEncoderOptions { GemmTimer = NoMeasurement, KernelCheck = KernelCheckMode.Force }))
        {
            forced.KernelCheck.Gemm!.Should().Match<GemmBackendChoice>(g => g.Backend == LinearBackend.Blas && g.Reason == "forced" && g.Ratio == null);
            forced.KernelCheck.Summary.Should().Contain("GEMM backend: blas (blas, forced)");
        }
        using var _ = LinearKernels.Override(LinearBackend.Auto);
        using (var first = SpeechEncoder.Load(KernelCheckTests.Checkpoint("hubert_post_ln"),
                   new SpeechEncoderOptions { GemmTimer = Timing(100, 50), KernelCheck = KernelCheckMode.Force }))
        using (var second = SpeechEncoder.Load(KernelCheckTests.Checkpoint("pruned_uneven"),
                   new SpeechEncoderOptions { GemmTimer = NoMeasurement, KernelCheck = KernelCheckMode.Force }))
            second.KernelCheck.Gemm.Should().BeSameAs(first.KernelCheck.Gemm, "the first float32 model's measurement decides for the process");
    }

    [Fact]
    public void A_wrong_onednn_result_forces_blas_whatever_the_timing_says_and_features_stay_exact()
    {
        if (!LinearKernels.OneDnnUsable) return; // nothing to reject where oneDNN's product cannot run
        foreach (var wrongKind in new[] { "linear", "conv" })
        {
            using var _ = LinearKernels.Override(LinearBackend.Auto);
            // As a CPU with a faulty oneDNN GEMM would show it: only products on oneDNN are wrong.
            KernelCheck.FaultInjector fault = p => p.Operation.StartsWith(wrongKind) && p.Path.Contains("onednn");
            using var encoder = SpeechEncoder.Load(KernelCheckTests.Checkpoint("pruned_uneven"),
                new SpeechEncoderOptions { GemmTimer = Timing(100, 40), KernelFaults = fault, KernelCheck = KernelCheckMode.Force });
            var report = encoder.KernelCheck;
            report.OneDnnTurnedOff.Should().BeFalse(report.ToString());
            LinearKernels.Backend.Should().Be(LinearBackend.Blas, wrongKind);
            report.Gemm!.Backend.Should().Be(LinearBackend.Blas);
            report.Gemm.Reason.Should().StartWith($"oneDNN wrong: {wrongKind}");
            report.Gemm.Ratio.Should().BeApproximately(0.4, 1e-12, "the measurement is still reported");
            report.Entries.Should().OnlyContain(e => e.Passed, report.ToString());
            BlasPaths(report).Should().BeTrue(report.ToString());
            report.Entries.Should().Contain(e => e.Operation.StartsWith(wrongKind) && e.WrongError > e.Tolerance, report.ToString());
            report.Summary.Should().Contain("GEMM backend: blas (auto, oneDNN wrong: ");
            KernelCheckTests.AssertMatchesOriginal(encoder, "pruned_uneven");
        }
    }

    [Theory]
    [InlineData(new long[] { 37, 96 }, true)]
    [InlineData(new long[] { 2, 29, 96 }, true)]
    [InlineData(new long[] { 3, 5, 7, 96 }, false)]
    public void OneDnn_linear_equals_libtorch_linear_for_any_leading_dimensions(long[] shape, bool withBias)
    {
        using var scope = NewDisposeScope();
        using var gen = new Generator(11);
        var x = randn(shape, generator: gen);
        var w = randn(new long[] { 80, 96 }, generator: gen).div(10.0);
        var b = withBias ? randn(new long[] { 80 }, generator: gen) : null;
        using var mode = inference_mode();
        var expected = nn.functional.linear(x, w, b);
        var got = LinearKernels.OneDnnLinear(x, w, b);
        got.shape.Should().Equal(expected.shape);
        TensorAssert.Close(got, expected, 1e-5, "oneDNN linear");
        // A non-contiguous input (a transposed view) gives the same.
        var xt = x.transpose(-1, -2).contiguous().transpose(-1, -2);
        TensorAssert.Close(LinearKernels.OneDnnLinear(xt, w, b), expected, 1e-5, "oneDNN linear, strided input");
    }

    [Theory]
    [InlineData(3, 2, 40, 24, true)]
    [InlineData(2, 2, 24, 17, false)]
    [InlineData(10, 5, 1, 33, true)]
    public void A_gemm_convolution_on_onednn_equals_the_one_on_blas(int kernel, int stride, int cin, int cout, bool bias)
    {
        if (!LinearKernels.OneDnnUsable) return;
        using var scope = NewDisposeScope();
        using var gen = new Generator(7);
        var x = randn(new long[] { 2, 301, cin }, generator: gen);
        var w = randn(new long[] { cout, cin, kernel }, generator: gen).div(10.0);
        var b = bias ? randn(new long[] { cout }, generator: gen) : null;
        using var mode = inference_mode();
        Tensor blas, onednn;
        using (LinearKernels.Override(LinearBackend.Blas)) blas = GemmConvolution.Conv(x, w, b, stride);
        using (LinearKernels.Override(LinearBackend.OneDnn))
        {
            LinearKernels.UsesOneDnn(x).Should().BeTrue();
            onednn = GemmConvolution.Conv(x, w, b, stride);
        }
        onednn.shape.Should().Equal(blas.shape);
        TensorAssert.Close(onednn, blas, 1e-5, $"k{kernel} s{stride} {cin}->{cout} on oneDNN");
        using var reference = nn.functional.conv1d(x.transpose(1, 2).to(ScalarType.Float64), w.to(ScalarType.Float64),
            b?.to(ScalarType.Float64), stride).transpose(1, 2);
        TensorAssert.Close(onednn.to(ScalarType.Float64), reference, 1e-4, "against a float64 convolution");
    }

    public static TheoryData<string, LinearBackend> FixturesOnEachBackend()
    {
        var data = new TheoryData<string, LinearBackend>();
        foreach (string name in KernelCheckTests.Fixtures)
            foreach (var backend in new[] { LinearBackend.Blas, LinearBackend.OneDnn })
                data.Add(name, backend);
        return data;
    }

    /// <summary>Every fixture's features and layers against the original's, with the products forced onto each library
    /// (the default, auto, is the fixture parity tests' own run).</summary>
    [Theory]
    [MemberData(nameof(FixturesOnEachBackend))]
    public void Every_fixture_matches_the_original_with_products_on_either_backend(string name, LinearBackend backend)
    {
        using var _ = LinearKernels.Override(backend);
        var (model, _) = CheckpointLoader.LoadModel(KernelCheckTests.Checkpoint(name));
        using var _m = model;
        using var wave = ModelAssert.Wave(TestFiles.DpHubertCase(name, "input.wav"));
        using var _g = inference_mode();
        var features = model.ExtractFeatures(wave);
        var report = model.KernelCheck!;
        report.Entries.Should().OnlyContain(e => e.Passed, report.ToString());
        (backend == LinearBackend.OneDnn && LinearKernels.OneDnnUsable ? OneDnnPaths(report) : BlasPaths(report)).Should().BeTrue(report.ToString());
        using var expected = TestFiles.LoadFloat(TestFiles.DpHubertCase(name, "single_layers.npy"));
        for (int i = 0; i < features.Layers.Count; i++)
            TensorAssert.Close(features.Layers[i][0], expected[i], 1e-4, $"{name} layer {i} on {backend}");
        foreach (var t in features.Layers) t.Dispose();
    }

    [Fact]
    public void Products_on_onednn_give_bit_identical_features_run_after_run_and_from_threads_sharing_an_encoder()
    {
        using var _ = LinearKernels.Override(LinearBackend.OneDnn);
        using var encoder = SpeechEncoder.Load(KernelCheckTests.Checkpoint("pruned_uneven"));
        OneDnnPaths(encoder.KernelCheck).Should().Be(LinearKernels.OneDnnUsable, encoder.KernelCheck.ToString());
        var clips = Enumerable.Range(0, 4).Select(i =>
        {
            using var gen = new Generator((ulong)(100 + i));
            using var wave = randn(new long[] { 6000 + 1700 * i }, generator: gen);
            return wave.data<float>().ToArray();
        }).ToArray();
        var sequential = clips.Select(c => encoder.Extract(c, 16000)).ToArray();
        var again = clips.Select(c => encoder.Extract(c, 16000)).ToArray();
        var concurrent = new FeatureArray[clips.Length];
        var threads = clips.Select((c, i) => new System.Threading.Thread(() => concurrent[i] = encoder.Extract(c, 16000))).ToArray();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) t.Join();
        for (int i = 0; i < clips.Length; i++)
        {
            again[i].Data.Should().Equal(sequential[i].Data, $"clip {i}, second run");
            concurrent[i].Data.Should().Equal(sequential[i].Data, $"clip {i}, from a thread");
        }
    }

    [Fact]
    public void The_timed_families_are_the_largest_shares_of_the_work_that_fit_the_budget_with_transposes_counted_together()
    {
        var shapes = new LinearKernels.GemmShape[]
        {
            // HuBERT Base's: 12 layers at 50 frames per second, the extractor's products at their own rates (all, and
            // the largest single product's).
            new(768, 3072, 600, 50), new(3072, 768, 600, 50), new(768, 768, 2400, 50), new(1024, 512, 3150, 1600),
            new(512, 512, 3000, 1600), new(10, 512, 3200, 3200), new(512, 768, 50, 50),
        };
        var (timed, coverage) = LinearKernels.SelectTimed(shapes);
        // The three families with the most work fit one round: the feed-forward pair at a 10 s recording's 500 frames
        // (512 rows), the extractor's 2-tap products at their 16,000 rows capped to 4,096, the 768 x 768 projections.
        timed.Select(s => (s.K, s.N)).Should().Equal((768L, 3072L), (1024L, 512L), (768L, 768L));
        timed.Select(LinearKernels.RowsOf).Should().Equal(512, LinearKernels.MaxTimedRows, 512);
        timed.Sum(s => s.K * (double)s.N * LinearKernels.RowsOf(s)).Should().BeLessThanOrEqualTo(LinearKernels.TimedMultiplyAddsPerRound);
        // A family's rows: a 10 s recording's for its largest product, at least TimedRows, a multiple of 64.
        LinearKernels.RowsOf(new(64, 64, 1000, 0)).Should().Be(LinearKernels.TimedRows);
        LinearKernels.RowsOf(new(64, 64, 1000, 100)).Should().Be(1024);
        LinearKernels.RowsOf(new(64, 64, 1000, 103)).Should().Be(1024 + 64); // 1,030 rounded up
        double all = shapes.Sum(s => s.K * (double)s.N * s.RowsPerSecond);
        double covered = timed.Sum(s => s.K * (double)s.N * s.RowsPerSecond);
        coverage.Should().BeApproximately(covered / all, 1e-12).And.BeLessThan(1);

        // Transposes count as one family, timed in the orientation with more work, with the pair's rows per second.
        var (pair, _) = LinearKernels.SelectTimed(new LinearKernels.GemmShape[] { new(512, 256, 30), new(256, 512, 50) });
        pair.Should().ContainSingle().Which.Should().Be(new LinearKernels.GemmShape(256, 512, 80));
        // A model whose every family is over the budget still times one: the cheapest.
        var (huge, _) = LinearKernels.SelectTimed(new LinearKernels.GemmShape[] { new(4096, 16384, 50), new(4096, 4096, 200) });
        huge.Should().ContainSingle().Which.K.Should().Be(4096);
        huge[0].N.Should().Be(4096);
    }

    [Fact]
    public void A_models_gemm_families_are_its_linear_layers_and_its_gemm_convolutions_at_their_rates()
    {
        var (model, _) = CheckpointLoader.LoadModel(KernelCheckTests.Checkpoint("pruned_uneven"));
        using var _m = model;
        var shapes = KernelCheck.GemmShapes(model, null);
        var layers = model.FeatureExtractor.ConvLayers;
        double rate = 16000;
        foreach (var block in layers)
        {
            rate /= block.Stride;
            long cin = block.Conv.Weight.shape[1];
            // A kernel-3 stride-2 block runs [2·C_in] and [C_in] products; a kernel-2 or narrow block one of the whole window.
            long k = block.IsNarrow || block.KernelSize <= block.Stride ? block.KernelSize * cin : block.Stride * cin;
            shapes.Should().Contain(s => s.K == k && s.N == block.OutChannels && s.RowsPerSecond >= rate
                && s.CallRowsPerSecond >= rate && s.CallRowsPerSecond <= s.RowsPerSecond, $"block k{block.KernelSize} {cin}->{block.OutChannels}");
        }
        foreach (var linear in model.modules().OfType<Linear>())
            shapes.Should().Contain(s => s.K == linear.weight!.shape[1] && s.N == linear.weight.shape[0] && s.RowsPerSecond >= rate);
        shapes.Select(s => (s.K, s.N)).Should().OnlyHaveUniqueItems();
    }

    [Fact]
    public void Passes_that_record_gradients_and_other_dtypes_keep_blas()
    {
        WithBackend(LinearBackend.OneDnn, () =>
        {
            using var x = randn(4, 8);
            using var h = x.to(ScalarType.BFloat16);
            using (inference_mode()) LinearKernels.UsesOneDnn(x).Should().Be(LinearKernels.OneDnnUsable);
            using (inference_mode()) LinearKernels.UsesOneDnn(h).Should().BeFalse();
            using var g = randn(4, 8).requires_grad_();
            LinearKernels.UsesOneDnn(g).Should().BeFalse();
        });
    }
}
