using System;
using DpHubert.Extraction;
using FluentAssertions;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace DpHubert.Tests.Extraction;

/// <summary>The device names <c>--device</c> and <see cref="ComputeDevice.Parse"/> accept, and what they become.</summary>
public class ComputeDeviceTests
{
    [Fact]
    public void Names_parse_to_the_device_they_spell_and_print_back()
    {
        ComputeDevice.Parse("cpu").Should().Be(ComputeDevice.Cpu);
        ComputeDevice.Parse(" CPU ").Should().Be(ComputeDevice.Cpu);
        default(ComputeDevice).Should().Be(ComputeDevice.Cpu, "the options default to the CPU");
        ComputeDevice.Parse("cuda").Should().Be(ComputeDevice.Cuda());
        ComputeDevice.Parse("CUDA:1").Should().Be(ComputeDevice.Cuda(1));
        ComputeDevice.Cuda(1).Index.Should().Be(1);
        ComputeDevice.Cuda().IsCuda.Should().BeTrue();
        ComputeDevice.Cpu.IsCuda.Should().BeFalse();
        ComputeDevice.Cpu.ToString().Should().Be("cpu");
        ComputeDevice.Cuda().ToString().Should().Be("cuda");
        ComputeDevice.Cuda(2).ToString().Should().Be("cuda:2");
        ComputeDevice.Cpu.ToTorchDevice().type.Should().Be(DeviceType.CPU);
    }

    [Theory]
    [InlineData("tpu")]
    [InlineData("")]
    [InlineData("cuda:")]
    [InlineData("cuda:-1")]
    [InlineData("cuda:x")]
    [InlineData("cuda0")]
    public void Other_names_are_refused_with_the_accepted_forms(string name)
    {
        var act = () => ComputeDevice.Parse(name);
        act.Should().Throw<ArgumentException>().WithMessage($"Invalid device '{name}': expected cpu, cuda or cuda:N.*");
    }

    [Fact]
    public void A_negative_cuda_index_is_refused()
    {
        var act = () => ComputeDevice.Cuda(-1);
        act.Should().Throw<ArgumentOutOfRangeException>();
    }
}
