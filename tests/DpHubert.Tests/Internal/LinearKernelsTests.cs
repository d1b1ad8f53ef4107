using System;
using System.Linq;
using DpHubert.Extraction;
using DpHubert.Tests.Support;
using FluentAssertions;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace DpHubert.Tests.Internal;

/// <summary>The oneDNN route for float32 linear layers: exact against libtorch's linear, applied only where it may be,
/// covered by the kernel check, and off by default. The backend is process-wide, so these run alone and restore it.</summary>
[Collection(OneDnnSwitchCollection.Name)]
public class LinearKernelsTests
{
    private static void WithBackend(LinearBackend backend, Action body)
    {
        var before = LinearKernels.Backend;
        LinearKernels.Backend = backend;
        try
        {
            body();
        }
        finally
        {
            LinearKernels.Backend = before;
        }
    }

    [Fact]
    public void The_setting_is_read_from_blas_or_onednn_and_anything_else_is_a_typed_error_naming_the_variable()
    {
        LinearKernels.Parse(null).Should().Be(LinearBackend.Blas);
        LinearKernels.Parse(" ").Should().Be(LinearBackend.Blas);
        LinearKernels.Parse("BLAS").Should().Be(LinearBackend.Blas);
        LinearKernels.Parse("oneDNN").Should().Be(LinearBackend.OneDnn);
        FluentActions.Invoking(() => LinearKernels.Parse("mkl")).Should().Throw<ArgumentException>().WithMessage("*DPHUBERT_LINEAR=mkl*");
        FluentActions.Invoking(() => LinearKernels.Backend = (LinearBackend)7).Should().Throw<ArgumentOutOfRangeException>();
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

    [Fact]
    public void A_model_routed_through_onednn_gives_the_same_features_and_the_kernel_check_says_where_linears_run()
    {
        using var encoder = SpeechEncoder.Load(KernelCheckTests.Checkpoint("pruned_uneven"), new SpeechEncoderOptions { KernelCheck = KernelCheckMode.Off });
        using var wave = randn(new long[] { 1, 8000 }, generator: new Generator(5));
        Tensor Forward()
        {
            using var mode = inference_mode();
            var (y, len) = encoder.Model.forward(wave, null);
            len?.Dispose();
            return y;
        }
        using var blas = Forward();
        WithBackend(LinearBackend.OneDnn, () =>
        {
            using (var routed = Forward())
                TensorAssert.Close(routed, blas, 1e-5, "features with oneDNN linears");
            var report = KernelCheck.Run(encoder.Model, KernelCheckMode.Force);
            var linears = report.Entries.Where(e => e.Operation.StartsWith("linear")).ToArray();
            linears.Should().NotBeEmpty().And.OnlyContain(e => e.Path == "onednn" && e.Passed, report.ToString());
        });
        KernelCheck.Run(encoder.Model, KernelCheckMode.Force).Entries.Where(e => e.Operation.StartsWith("linear"))
            .Should().OnlyContain(e => e.Path == "libtorch");
    }

    [Fact]
    public void A_wrong_onednn_linear_sends_every_linear_back_to_blas_and_features_stay_exact()
    {
        WithBackend(LinearBackend.OneDnn, () =>
        {
            KernelCheck.FaultInjector fault = p => p.Operation.StartsWith("linear") && p.Path == "onednn";
            using var encoder = SpeechEncoder.Load(KernelCheckTests.Checkpoint("pruned_uneven"),
                new SpeechEncoderOptions { KernelFaults = fault, KernelCheck = KernelCheckMode.Force });
            var report = encoder.KernelCheck;
            LinearKernels.Backend.Should().Be(LinearBackend.Blas);
            report.OneDnnTurnedOff.Should().BeFalse(report.ToString());
            // The first wrong one switches the (process-wide) backend; every linear then runs on BLAS and is right.
            var linears = report.Entries.Where(e => e.Operation.StartsWith("linear")).ToArray();
            linears.Should().OnlyContain(e => e.Path == "libtorch" && e.Passed, report.ToString());
            linears.Should().Contain(e => e.RoutedTo == "libtorch" && e.WrongError > e.Tolerance, report.ToString());
            report.Summary.Should().Contain("-> libtorch");
            KernelCheckTests.AssertMatchesOriginal(encoder, "pruned_uneven");
        });
    }

    [Fact]
    public void Passes_that_record_gradients_and_other_dtypes_keep_libtorch_linear()
    {
        WithBackend(LinearBackend.OneDnn, () =>
        {
            using var x = randn(4, 8);
            using var h = x.to(ScalarType.BFloat16);
            using (inference_mode()) LinearKernels.UsesOneDnn(x).Should().Be(OneDnn.Enabled);
            using (inference_mode()) LinearKernels.UsesOneDnn(h).Should().BeFalse();
            using var g = randn(4, 8).requires_grad_();
            LinearKernels.UsesOneDnn(g).Should().BeFalse();
        });
    }
}
