using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using DpHubert.Checkpoints;
using DpHubert.PyTorch;
using FluentAssertions;
using TorchSharp;
using Xunit;
using static DpHubert.Tests.PyTorch.CheckpointTestHelpers;
using static TorchSharp.torch;

namespace DpHubert.Tests.PyTorch;

public sealed class TorchCheckpointWriterTests
{
    /// <summary>A value graph with every supported kind of value, shared with the Python interop test.</summary>
    internal static PyDict SampleCheckpoint()
    {
        var stateDict = new PyDict(PyDict.OrderedDict)
        {
            ["w32"] = torch.arange(12, ScalarType.Float32).reshape(3, 4) / 8,
            ["w16"] = torch.tensor(new float[] { 0.5f, -1.25f, 65504f }).to_type(ScalarType.Float16),
            ["wbf16"] = torch.tensor(new float[] { 1f / 3, -2.5f }).to_type(ScalarType.BFloat16),
            ["w64"] = torch.tensor(new double[] { Math.PI, -0.0, 1e-300 }),
            ["i64"] = torch.tensor(new long[] { long.MaxValue, -5, 0 }),
            ["mask"] = torch.tensor(new[] { true, false, true }),
            ["scalar"] = torch.tensor(3.5f),
            ["transposed"] = torch.arange(6, ScalarType.Float32).reshape(2, 3).t(), // non-contiguous input
        };
        var config = new PyDict
        {
            ["extractor_conv_layer_config"] = new List<object?> { new object?[] { 512L, 10L, 5L }, new object?[] { 512L, 3L, 2L } },
            ["encoder_use_attention"] = new List<object?> { true, false },
            ["aux_num_out"] = null,
            ["encoder_layer_drop"] = 0.05,
            ["name"] = "héllo ✓",
            ["big"] = 1L << 40,
            ["negative"] = -70000L,
            ["blob"] = new byte[] { 0, 255, 10 },
            ["empty_tuple"] = Array.Empty<object?>(),
            ["nested"] = new PyDict { ["x"] = new List<object?>(), ["y"] = new object?[] { 1L, "a", null, false, 2.5 } },
        };
        return new PyDict { ["state_dict"] = stateDict, ["config"] = config, ["distill_linear_projs"] = new PyDict() };
    }

    [Fact]
    public void Round_trips_through_the_reader()
    {
        var path = TempPath("roundtrip.pth");
        var original = SampleCheckpoint();
        object? loaded = null;
        try
        {
            TorchCheckpointWriter.Save(path, original);
            loaded = TorchCheckpointReader.Load(path).Root.Value;
            AssertSameValue(loaded, original, "root");
            Directory.GetFiles(Path.GetDirectoryName(path)!).Should().Equal(path); // no temp file left behind
        }
        finally
        {
            DisposeTensors(original);
            DisposeTensors(loaded);
        }
    }

    [Fact]
    public void Round_trips_a_fixture_checkpoint()
    {
        var source = TorchCheckpointReader.Load(Fixture("dphubert", "wavlm_pruned", "checkpoint.pth")).Root.Value;
        var path = TempPath("copy.pth");
        object? loaded = null;
        try
        {
            TorchCheckpointWriter.Save(path, source);
            loaded = TorchCheckpointReader.Load(path).Root.Value;
            AssertSameValue(loaded, source, "root");
        }
        finally
        {
            DisposeTensors(source);
            DisposeTensors(loaded);
        }
    }

    [Fact]
    public void Writes_torch_zip_layout_with_64_byte_aligned_records()
    {
        var path = TempPath("layout.pth");
        using (var t = torch.ones(5))
            TorchCheckpointWriter.Save(path, new PyDict { ["a"] = t, ["b"] = 1L });

        var bytes = File.ReadAllBytes(path);
        using var zip = new System.IO.Compression.ZipArchive(new MemoryStream(bytes));
        zip.Entries.Select(e => e.FullName).Should().Equal("layout/data.pkl", "layout/byteorder", "layout/data/0", "layout/version");
        // Walk the local headers: each record's data starts on a 64-byte boundary.
        var offset = 0;
        while (BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(offset)) == 0x04034b50)
        {
            var size = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(offset + 18));
            var nameLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(offset + 26));
            var extraLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(offset + 28));
            var dataStart = offset + 30 + nameLength + extraLength;
            (dataStart % 64).Should().Be(0);
            offset = dataStart + size;
        }
    }

    [Fact]
    public void A_failed_save_leaves_no_file_and_keeps_the_old_one()
    {
        var path = TempPath("keep.pth");
        File.WriteAllText(path, "old");
        var act = () => TorchCheckpointWriter.Save(path, new PyDict { ["bad"] = new DateTime(2020, 1, 1) });
        act.Should().Throw<ArgumentException>();
        File.ReadAllText(path).Should().Be("old");
        Directory.GetFiles(Path.GetDirectoryName(path)!).Should().Equal(path);
    }

    internal static void AssertSameValue(object? actual, object? expected, string path)
    {
        switch (expected)
        {
            case null:
                actual.Should().BeNull(path);
                break;
            case Tensor e:
            {
                var a = actual.As<Tensor>();
                a.dtype.Should().Be(e.dtype, path);
                a.shape.Should().Equal(e.shape, path);
                a.is_contiguous().Should().BeTrue(path);
                if (e.dtype == ScalarType.Int64)
                {
                    using var ac = a.contiguous();
                    using var ec = e.contiguous();
                    ac.data<long>().ToArray().Should().Equal(ec.data<long>().ToArray(), path);
                }
                else
                    Values(a).Select(BitConverter.DoubleToInt64Bits).Should().Equal(Values(e).Select(BitConverter.DoubleToInt64Bits), path);
                break;
            }
            case PyDict e:
            {
                var a = actual.As<PyDict>();
                a.PythonType.Should().Be(e.PythonType == PyDict.OrderedDict ? PyDict.OrderedDict : PyDict.Dict, path);
                a.Keys.Should().Equal(e.Keys, path);
                foreach (var kv in e)
                    AssertSameValue(a[kv.Key], kv.Value, $"{path}.{kv.Key}");
                break;
            }
            case List<object?> e:
            {
                var a = actual.As<List<object?>>();
                a.Should().HaveCount(e.Count, path);
                for (var i = 0; i < e.Count; i++)
                    AssertSameValue(a[i], e[i], $"{path}[{i}]");
                break;
            }
            case object?[] e:
            {
                var a = actual.As<object?[]>();
                a.Should().HaveCount(e.Length, path);
                for (var i = 0; i < e.Length; i++)
                    AssertSameValue(a[i], e[i], $"{path}[{i}]");
                break;
            }
            case byte[] e:
                actual.As<byte[]>().Should().Equal(e, path);
                break;
            default:
                actual.Should().Be(expected, path);
                actual!.GetType().Should().Be(expected.GetType(), path);
                break;
        }
    }
}
