using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using DpHubert.PyTorch;
using FluentAssertions;
using TorchSharp;
using Xunit;
using static DpHubert.Tests.PyTorch.CheckpointTestHelpers;
using static TorchSharp.torch;

namespace DpHubert.Tests.PyTorch;

/// <summary>The reader's typed result: each value has its kind, and the result owns every tensor once.</summary>
public sealed class TorchCheckpointDataTests
{
    private static long Live() => DisposeScopeManager.Statistics.ThreadTotalLiveCount;

    [Fact]
    public void Owns_every_tensor_once_and_frees_them_on_dispose()
    {
        long before = Live();
        var data = TorchCheckpointReader.Load(Fixture("dphubert", "hubert_post_ln", "checkpoint.pth"));
        data.Source.Should().EndWith("checkpoint.pth");
        data.Root.Kind.Should().Be(PyValueKind.Dict);
        var stateDict = data.Root.ExpectDict(data.Source, null)["state_dict"].As<PyDict>();
        data.Tensors.Should().HaveCount(67);
        data.Tensors.Zip(stateDict.Values).Should().OnlyContain(p => ReferenceEquals(p.First, p.Second), "the tree's tensors, in order");
        Live().Should().Be(before + 67);
        data.Dispose();
        Live().Should().Be(before, "disposing the result frees each tensor of the tree");
        data.Tensors.Should().BeEmpty();
    }

    [Fact]
    public void Hands_its_tensors_over()
    {
        long before = Live();
        var data = TorchCheckpointReader.Load(Fixture("checkpoints", "dtypes.pt"));
        var taken = data.TakeTensors();
        taken.Should().NotBeEmpty();
        data.Dispose();
        Live().Should().Be(before + taken.Count, "the new owner frees them, not the result");
        foreach (var t in taken) t.Dispose();
        Live().Should().Be(before);
    }

    [Fact]
    public void Each_value_has_its_kind()
    {
        using var data = TorchCheckpointReader.Load(Fixture("checkpoints", "misc.pt"));
        var d = data.Root.ExpectDict(data.Source, null);
        PyValueKind Kind(string key) => new PyValue(d[key]).Kind;
        Kind("np_f64").Should().Be(PyValueKind.Float);
        Kind("np_i64").Should().Be(PyValueKind.Int);
        Kind("big").Should().Be(PyValueKind.Int);
        Kind("np_bool").Should().Be(PyValueKind.Bool);
        Kind("defaultdict").Should().Be(PyValueKind.Dict);
        Kind("set").Should().Be(PyValueKind.List);
        Kind("bytes").Should().Be(PyValueKind.Bytes);
        Kind("size").Should().Be(PyValueKind.Tuple);
        Kind("dtype").Should().Be(PyValueKind.String);
        new PyValue(null).Kind.Should().Be(PyValueKind.None);
        var notPickled = () => new PyValue(new object());
        notPickled.Should().Throw<ArgumentException>();
    }

    [Fact]
    public void A_saved_tensor_is_a_tensor_root_and_a_wrong_kind_says_expected_and_found()
    {
        var path = Path.Combine(Support.TestFiles.TempDir(), "t.pt");
        using (var t = ones(2, 3)) TorchCheckpointWriter.Save(path, t);
        using var data = TorchCheckpointReader.Load(path);
        data.Root.Kind.Should().Be(PyValueKind.Tensor);
        data.Root.ExpectTensor(path, null).shape.Should().Equal(2L, 3L);
        data.Root.AsDictOrNull.Should().BeNull();
        var act = () => data.Root.ExpectDict(path, null);
        act.Should().Throw<CheckpointFormatException>().WithMessage("the checkpoint is a tensor [2, 3], expected a dict in *t.pt");
        var named = () => data.Root.ExpectDict(path, "config");
        named.Should().Throw<CheckpointFormatException>().Which.Key.Should().Be("config");
    }

    [Fact]
    public void A_failed_read_frees_what_it_had_read()
    {
        long before = Live();
        var act = () => TorchCheckpointReader.Load(Fixture("checkpoints", "missing_record.pt"));
        act.Should().Throw<CheckpointFormatException>();
        Live().Should().Be(before);
    }
}
