using System.Linq;
using System.Runtime.InteropServices;
using FluentAssertions;
using Xunit;
using TorchSharp;
using static TorchSharp.torch;

namespace DpHubert.Tests.Internal;

public sealed class CatchingOpsTests
{
    [Fact]
    public void MatMul_is_bit_identical_to_torch_matmul_on_attention_shapes()
    {
        using var scope = NewDisposeScope();
        random.manual_seed(3);
        var q = randn(2, 3, 7, 5).transpose(2, 1).transpose(2, 1); // non-contiguous views, as attention passes them
        var k = randn(2, 5, 3, 7).permute(0, 2, 1, 3);
        var v = randn(2, 3, 7, 5);

        var w = CatchingOps.MatMul(q, k);
        var o = CatchingOps.MatMul(w, v);

        w.shape.Should().Equal(2, 3, 7, 7);
        w.contiguous().data<float>().ToArray().Should().Equal(q.matmul(k).contiguous().data<float>().ToArray());
        o.contiguous().data<float>().ToArray().Should().Equal(w.matmul(v).contiguous().data<float>().ToArray());
    }

    [Fact]
    public void An_allocation_failure_is_an_exception_not_a_process_abort()
    {
        // 2^48 float32 results (1 PiB) exceed any address space, so the allocation fails whatever the overcommit policy.
        using var a = ones(1, 1L << 24, 1);
        using var b = ones(1, 1, 1L << 24);

        FluentActions.Invoking(() => CatchingOps.MatMul(a, b)).Should().Throw<ExternalException>().WithMessage("*allocate*");
    }
}
