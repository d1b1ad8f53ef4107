using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using DpHubert.Checkpoints;
using DpHubert.PyTorch;
using FluentAssertions;
using TorchSharp;
using Xunit;
using static DpHubert.Tests.PyTorch.CheckpointTestHelpers;
using static TorchSharp.torch;

namespace DpHubert.Tests.PyTorch;

public sealed class SafeTensorsTests
{
    [Theory]
    [InlineData("hubert_post_ln", 67)]
    [InlineData("large_pre_ln", 72)]
    [InlineData("wavlm_pre_ln", 70)]
    public void Fixture_safetensors_match_pytorch_model_bin(string caseName, int count)
    {
        using var st = SafeTensors.Load(Fixture("dphubert", caseName, "hf", "model.safetensors"));
        var bin = TorchCheckpointReader.Load(Fixture("dphubert", caseName, "hf", "pytorch_model.bin")).Root.Value.As<PyDict>();
        try
        {
            st.Metadata.Should().ContainKey("format").WhoseValue.Should().Be("pt");
            st.Count.Should().Be(count);
            bin.Count.Should().Be(count);
            bin.PythonType.Should().Be(PyDict.OrderedDict);
            foreach (var (name, tensor) in st)
            {
                // safetensors keeps the new weight-norm parametrization names; the .bin the old ones.
                var binName = name
                    .Replace("parametrizations.weight.original0", "weight_g")
                    .Replace("parametrizations.weight.original1", "weight_v");
                var expected = bin[binName].As<Tensor>();
                tensor.dtype.Should().Be(ScalarType.Float32, name);
                tensor.shape.Should().Equal(expected.shape, name);
                SameValues(tensor, expected).Should().BeTrue(name);
            }
        }
        finally
        {
            DisposeTensors(bin);
        }
    }

    [Fact]
    public void Round_trips_every_dtype_and_metadata()
    {
        var path = TempPath("all.safetensors");
        var tensors = new List<KeyValuePair<string, Tensor>>
        {
            new("f32", torch.arange(6, ScalarType.Float32).reshape(2, 3) / 3),
            new("f16", torch.tensor(new float[] { 0.5f, 65504f, -0.0f }).to_type(ScalarType.Float16)),
            new("bf16", torch.tensor(new float[] { 1f / 3, -2.5f }).to_type(ScalarType.BFloat16)),
            new("f64", torch.tensor(new[] { Math.E, 1e-300 })),
            new("i64", torch.tensor(new[] { long.MinValue, 3L })),
            new("i32", torch.tensor(new[] { int.MinValue, 7 })),
            new("i8", torch.tensor(new sbyte[] { -128, 127 })),
            new("u8", torch.tensor(new byte[] { 0, 255 })),
            new("bool", torch.tensor(new[] { true, false })),
            new("scalar", torch.tensor(2.5f)),
            new("empty", torch.zeros(new long[] { 0, 4 })),
            new("transposed", torch.arange(6, ScalarType.Float32).reshape(2, 3).t()),
        };
        try
        {
            SafeTensors.Save(path, tensors, new Dictionary<string, string> { ["format"] = "pt", ["note"] = "x" });
            // Header length is a multiple of 8 (data 8-byte aligned), as the reference writer pads it.
            var bytes = File.ReadAllBytes(path);
            (BinaryPrimitives.ReadUInt64LittleEndian(bytes) % 8).Should().Be(0);

            using var loaded = SafeTensors.Load(path);
            loaded.Keys.Should().Equal(tensors.Select(kv => kv.Key));
            loaded.Metadata.Should().BeEquivalentTo(new Dictionary<string, string> { ["format"] = "pt", ["note"] = "x" });
            foreach (var (name, expected) in tensors)
            {
                var actual = loaded[name];
                actual.dtype.Should().Be(expected.dtype, name);
                actual.shape.Should().Equal(expected.shape, name);
                SameValues(actual, expected).Should().BeTrue(name);
            }
            var kept = loaded.Detach("f32");
            loaded.ContainsKey("f32").Should().BeFalse();
            kept.Dispose();
        }
        finally
        {
            foreach (var kv in tensors)
                kv.Value.Dispose();
        }
    }

    [Fact]
    public void Failed_save_leaves_no_partial_file()
    {
        var path = TempPath("fail.safetensors");
        using var a = torch.ones(2);
        var act = () => SafeTensors.Save(path, new[] { new KeyValuePair<string, Tensor>("a", a), new("a", a) });
        act.Should().Throw<ArgumentException>();
        File.Exists(path).Should().BeFalse();
        Directory.GetFiles(Path.GetDirectoryName(path)!).Should().BeEmpty();
    }

    public static IEnumerable<object[]> BadHeaders() => new[]
    {
        new object[] { "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 16, "b", "*overlap*" },
        new object[] { "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8, "a", "*out of range*" },
        new object[] { "{\"a\":{\"dtype\":\"Q7\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "a", "*unsupported safetensors dtype 'Q7'*" },
        new object[] { "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "a", "*span 8 bytes*need 12*" },
        new object[] { "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,8]}}", 8, "a", "*non-negative*" },
        new object[] { "{\"a\":{\"dtype\":\"F32\"}}", 8, "a", "*needs dtype, shape*" },
        new object[] { "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "a", "*names this entry twice*" },
        new object[] { "[1,2]", 8, null!, "*not a JSON object*" },
        new object[] { "{not json", 8, null!, "*not valid JSON*" },
    };

    [Theory]
    [MemberData(nameof(BadHeaders))]
    public void Malformed_headers_are_format_errors_naming_file_and_key(string header, int dataBytes, string? key, string pattern)
    {
        var path = TempPath("bad.safetensors");
        var h = Encoding.UTF8.GetBytes(header);
        using (var fs = File.Create(path))
        {
            var len = new byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)h.Length);
            fs.Write(len);
            fs.Write(h);
            fs.Write(new byte[dataBytes]);
        }
        var act = () => SafeTensors.Load(path);
        var e = act.Should().Throw<CheckpointFormatException>().WithMessage(pattern).Which;
        e.FilePath.Should().Be(path);
        e.Key.Should().Be(key);
        e.Message.Should().EndWith("bad.safetensors");
    }

    [Fact]
    public void Header_length_beyond_the_file_is_a_format_error()
    {
        var path = TempPath("long.safetensors");
        var bytes = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, 1UL << 40);
        File.WriteAllBytes(path, bytes);
        FluentActions.Invoking(() => SafeTensors.Load(path))
            .Should().Throw<CheckpointFormatException>().WithMessage("*header length*exceeds*");
        File.WriteAllBytes(path, new byte[3]);
        FluentActions.Invoking(() => SafeTensors.Load(path))
            .Should().Throw<CheckpointFormatException>().WithMessage("*not a safetensors file*");
    }
}
