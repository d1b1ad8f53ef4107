using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Text.Json.Nodes;
using DpHubert.Checkpoints;
using DpHubert.PyTorch;
using DpHubert.Tests.Support;
using FluentAssertions;
using TorchSharp;
using Xunit;
using static DpHubert.Tests.PyTorch.CheckpointTestHelpers;
using static TorchSharp.torch;

namespace DpHubert.Tests.PyTorch;

/// <summary>
/// Checks that PyTorch itself reads what <see cref="TorchCheckpointWriter"/> writes. Needs /usr/bin/python3 with
/// torch (CI installs python3-torch); without them these tests are skipped, with the reason.
/// </summary>
[Trait("Category", "Python")]
public sealed class PythonInteropTests
{
    [PythonFact]
    public void Torch_load_reads_our_checkpoint_exactly()
    {
        var path = TempPath("for_python.pth");
        var value = TorchCheckpointWriterTests.SampleCheckpoint();
        try
        {
            TorchCheckpointWriter.Save(path, value);
            var fromPython = RunDescribe(path);
            var expected = Describe(value).ToJsonString();
            JsonNode.DeepEquals(JsonNode.Parse(fromPython), JsonNode.Parse(expected)).Should().BeTrue(
                $"python described\n{fromPython}\nbut we wrote\n{expected}");
        }
        finally
        {
            DisposeTensors(value);
        }
    }

    [PythonFact]
    public void Torch_load_reads_a_rewritten_dphubert_checkpoint()
    {
        var value = TorchCheckpointReader.Load(Fixture("dphubert", "prune_wavlm", "pruned", "checkpoint.pth")).Root.Value;
        var path = TempPath("rewritten.pth");
        try
        {
            TorchCheckpointWriter.Save(path, value);
            var ours = JsonNode.Parse(RunDescribe(path));
            var original = JsonNode.Parse(RunDescribe(Fixture("dphubert", "prune_wavlm", "pruned", "checkpoint.pth")));
            JsonNode.DeepEquals(ours, original).Should().BeTrue();
        }
        finally
        {
            DisposeTensors(value);
        }
    }

    private static string RunDescribe(string checkpoint) =>
        PythonScript.Run(Path.Combine("tools", "checkpoints", "describe_checkpoint.py"), checkpoint);

    /// <summary>The same description describe_checkpoint.py prints, built from our value model.</summary>
    private static JsonNode Describe(object? value)
    {
        switch (value)
        {
            case null:
                return new JsonObject { ["type"] = "None" };
            case bool b:
                return new JsonObject { ["type"] = "bool", ["value"] = b };
            case long l:
                return new JsonObject { ["type"] = "int", ["value"] = l.ToString(System.Globalization.CultureInfo.InvariantCulture) };
            case double d:
                return new JsonObject { ["type"] = "float", ["value"] = F64Hex(d) };
            case string s:
                return new JsonObject { ["type"] = "str", ["value"] = s };
            case byte[] bytes:
                return new JsonObject { ["type"] = "bytes", ["value"] = Convert.ToHexString(bytes).ToLowerInvariant() };
            case Tensor t:
            {
                var floating = t.dtype is ScalarType.Float32 or ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Float64;
                var values = new JsonArray();
                if (floating)
                    foreach (var v in Values(t))
                        values.Add(F64Hex(v));
                else
                {
                    using var asLong = t.to_type(ScalarType.Int64).contiguous();
                    foreach (var v in asLong.data<long>().ToArray())
                        values.Add(v.ToString(System.Globalization.CultureInfo.InvariantCulture));
                }
                return new JsonObject
                {
                    ["type"] = "tensor",
                    ["dtype"] = DTypeName(t.dtype),
                    ["shape"] = new JsonArray(t.shape.Select(x => (JsonNode)x).ToArray()),
                    ["contiguous"] = true, // the writer always writes contiguous tensors
                    ["values"] = values,
                };
            }
            case PyDict dict:
            {
                var items = new JsonArray();
                foreach (var kv in dict)
                    items.Add(new JsonArray(Describe(kv.Key), Describe(kv.Value)));
                return new JsonObject { ["type"] = dict.PythonType == PyDict.OrderedDict ? "OrderedDict" : "dict", ["items"] = items };
            }
            case List<object?> list:
                return new JsonObject { ["type"] = "list", ["items"] = new JsonArray(list.Select(Describe).ToArray()) };
            case object?[] tuple:
                return new JsonObject { ["type"] = "tuple", ["items"] = new JsonArray(tuple.Select(Describe).ToArray()) };
            default:
                throw new ArgumentException($"cannot describe {value.GetType()}");
        }
    }

    private static string F64Hex(double d) =>
        Convert.ToHexString(BitConverter.GetBytes(d)).ToLowerInvariant(); // little-endian, like struct '<d'

    private static string DTypeName(ScalarType dtype) => dtype switch
    {
        ScalarType.Float32 => "float32",
        ScalarType.Float16 => "float16",
        ScalarType.BFloat16 => "bfloat16",
        ScalarType.Float64 => "float64",
        ScalarType.Int64 => "int64",
        ScalarType.Int32 => "int32",
        ScalarType.Int16 => "int16",
        ScalarType.Int8 => "int8",
        ScalarType.Byte => "uint8",
        ScalarType.Bool => "bool",
        _ => throw new ArgumentException($"unexpected dtype {dtype}"),
    };
}
