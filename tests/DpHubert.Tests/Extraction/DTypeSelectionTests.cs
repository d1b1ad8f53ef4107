using System;
using System.Collections.Generic;
using DpHubert.Extraction;
using DpHubert.Tests.Support;
using FluentAssertions;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace DpHubert.Tests.Extraction;

/// <summary>How <c>--dtype</c> is resolved: <c>auto</c> from injected CPU facts, float16 refused on a CPU.</summary>
public class DTypeSelectionTests
{
    private const string EpycInfo = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse2 avx avx2 fma\n\nprocessor\t: 1\nflags\t\t: fpu\n";
    private const string XeonAmxInfo = "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Platinum 8488C\nflags\t\t: fpu avx2 avx512f avx512_bf16 amx_bf16 amx_tile amx_int8\n";
    private const string AvxBf16Info = "processor\t: 0\nflags\t\t: fpu avx2 avx512f AVX512_BF16\n";

    private static bool NotCalled() => throw new InvalidOperationException("the probe must not run when the flags are known");

    [Fact]
    public void Amx_or_no_bf16_flag_decide_auto_without_running_the_probe()
    {
        ComputeDTypes.Parse("auto").Resolve(CPU, CpuFeatures.FromCpuInfo(XeonAmxInfo) with { BFloat16Probe = NotCalled }).Should().Be(ScalarType.BFloat16);
        ComputeDTypes.Parse("AUTO").Resolve(CPU, CpuFeatures.FromCpuInfo(EpycInfo) with { BFloat16Probe = NotCalled }).Should().Be(ScalarType.Float32);
        CpuFeatures.FromCpuInfo(EpycInfo).HasBFloat16Units.Should().BeFalse();
        CpuFeatures.FromCpuInfo(XeonAmxInfo).Flags.Should().Contain("amx_bf16");
    }

    [Fact]
    public void Avx512_bf16_without_amx_is_decided_by_the_probe()
    {
        // Such CPUs differ: bf16 was 2.25x float32 matmul on one AMD EPYC and 0.6x on an Intel Xeon without AMX.
        var avx = CpuFeatures.FromCpuInfo(AvxBf16Info);
        avx.HasBFloat16Units.Should().BeTrue();
        avx.HasAmx.Should().BeFalse();
        int calls = 0;
        ComputeDTypes.Parse("auto").Resolve(CPU, avx with { BFloat16Probe = () => { calls++; return true; } }).Should().Be(ScalarType.BFloat16);
        ComputeDTypes.Parse("auto").Resolve(CPU, avx with { BFloat16Probe = () => { calls++; return false; } }).Should().Be(ScalarType.Float32);
        calls.Should().Be(2);
    }

    [Fact]
    public void Without_flags_the_measured_probe_decides()
    {
        var unknown = CpuFeatures.FromCpuInfo("no flags here\n");
        unknown.HasBFloat16Units.Should().BeNull();
        ComputeDTypes.Parse("auto").Resolve(CPU, unknown with { BFloat16Probe = () => true }).Should().Be(ScalarType.BFloat16);
        ComputeDTypes.Parse("auto").Resolve(CPU, unknown with { BFloat16Probe = () => false }).Should().Be(ScalarType.Float32);
    }

    [Fact]
    public void The_real_probe_measures_both_dtypes_and_its_bf16_results_agree_with_float32()
    {
        // Which way it decides depends on the CPU; what it measured must hold on every CPU.
        var probe = CpuFeatures.ProbeBFloat16();
        probe.Float32Seconds.Should().BeGreaterThan(0).And.BeLessThan(double.MaxValue);
        probe.BFloat16Seconds.Should().BeGreaterThan(0).And.BeLessThan(double.MaxValue);
        probe.Cosine.Should().BeGreaterThanOrEqualTo(CpuFeatures.BFloat16ProbeMinCosine, "bf16 linear and GEMM convolution are right on every CPU");
        probe.Cosine.Should().BeLessThan(1.0, "the bf16 kernels ran in bf16, not in float32");
    }

    [Theory]
    [InlineData(1.0, 0.5, 0.9999, true)]
    [InlineData(1.0, 0.81, 0.9999, false)]  // not fast enough
    [InlineData(1.0, 0.5, 0.99, false)]     // fast but wrong
    public void The_probe_chooses_bf16_only_when_it_is_fast_and_right(double f32, double bf16, double cosine, bool chosen)
    {
        new BFloat16Probe(f32, bf16, cosine).BFloat16Chosen.Should().Be(chosen);
    }

    [Fact]
    public void Auto_is_float32_on_cuda_and_explicit_names_pass_through()
    {
        var amx = CpuFeatures.FromCpuInfo(XeonAmxInfo);
        var gpu = new Device(DeviceType.CUDA, 0);   // only the type is read: no GPU needed
        ComputeDTypes.Parse("auto").Resolve(gpu, amx).Should().Be(ScalarType.Float32);
        ComputeDTypes.Parse("float16").Resolve(gpu, amx).Should().Be(ScalarType.Float16);
        ComputeDTypes.Parse("bf16").Resolve(CPU, amx).Should().Be(ScalarType.BFloat16);
        ComputeDTypes.Parse("float32").Resolve(CPU, amx).Should().Be(ScalarType.Float32);
        var bad = () => ComputeDTypes.Parse("int8").Resolve(CPU, amx);
        bad.Should().Throw<ArgumentException>().WithMessage("*Invalid dtype 'int8'*");
    }

    [Theory]
    [InlineData("float16")]
    [InlineData("fp16")]
    [InlineData("half")]
    public void Float16_on_a_cpu_is_refused_with_the_reason_and_the_alternatives(string name)
    {
        var act = () => ComputeDTypes.Parse(name).Resolve(CPU, CpuFeatures.FromCpuInfo(XeonAmxInfo));
        act.Should().Throw<UnsupportedDTypeException>()
            .WithMessage("*refused on the CPU*no fast float16 kernels*20x slower*Use float32*bfloat16 / auto*");
        var load = () => SpeechEncoder.Load(TestFiles.DpHubertCase("hubert_post_ln", "checkpoint.pth"), new SpeechEncoderOptions { DType = ComputeDTypes.Parse(name) });
        load.Should().Throw<UnsupportedDTypeException>();
    }

    [Fact]
    public void Auto_on_this_machine_follows_its_cpu_and_outputs_float32()
    {
        using var encoder = SpeechEncoder.Load(TestFiles.DpHubertCase("hubert_post_ln", "checkpoint.pth"), new SpeechEncoderOptions { DType = ComputeDType.Auto });
        encoder.DType.Should().Be(CpuFeatures.Current.BFloat16IsFast ? ScalarType.BFloat16 : ScalarType.Float32);
        var features = encoder.Extract(new float[16000]);
        features.Data.Should().OnlyContain(v => float.IsFinite(v));
    }
}
