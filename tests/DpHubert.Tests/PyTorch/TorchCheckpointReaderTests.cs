using System;
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

public sealed class TorchCheckpointReaderTests
{
    // Reference numbers printed by /usr/bin/python3 with torch 1.13 (torch.load, then float64 sums).
    public static IEnumerable<object[]> DpHubertCheckpoints() => new[]
    {
        new object[] { "hubert_post_ln/checkpoint.pth", 67, 84704L, 423.2432719931239, false },
        new object[] { "large_pre_ln/checkpoint.pth", 72, 63591L, 505.67022352280037, false },
        new object[] { "prune_hubert/checkpoint.pth", 86, 85234L, 434.57329852704424, false },
        new object[] { "prune_hubert/pruned/checkpoint.pth", 63, 51324L, 420.5765119232652, true },
        new object[] { "prune_wavlm/checkpoint.pth", 96, 85686L, 488.1681837277065, false },
        new object[] { "prune_wavlm/pruned/checkpoint.pth", 61, 46773L, 425.14458280267627, true },
        new object[] { "pruned_uneven/checkpoint.pth", 71, 62191L, 529.4542930930006, false },
        new object[] { "wavlm_pre_ln/checkpoint.pth", 70, 60264L, 550.0533918371948, false },
        new object[] { "wavlm_pruned/checkpoint.pth", 77, 73456L, 467.9720721926278, false },
    };

    [Theory]
    [MemberData(nameof(DpHubertCheckpoints))]
    public void Loads_every_dphubert_checkpoint(string relative, int tensors, long numel, double sum, bool hasDistillProjs)
    {
        var root = TorchCheckpointReader.Load(Fixture("dphubert", relative)).Root.Value.As<PyDict>();
        try
        {
            root.PythonType.Should().Be(PyDict.Dict);
            root.ContainsKey("distill_linear_projs").Should().Be(hasDistillProjs);
            if (hasDistillProjs)
                root["distill_linear_projs"].As<PyDict>().Count.Should().Be(0);

            var config = root["config"].As<PyDict>();
            config["extractor_mode"].Should().BeOfType<string>();
            config["extractor_conv_bias"].Should().BeOfType<bool>();
            config["encoder_embed_dim"].Should().Be(48L);
            config["encoder_layer_drop"].Should().BeOfType<double>();
            var convs = config["extractor_conv_layer_config"].As<List<object?>>();
            convs.Should().HaveCount(7);
            foreach (var conv in convs)
                conv.As<object?[]>().Should().HaveCount(3).And.AllBeOfType<long>();
            config["encoder_use_attention"].As<List<object?>>().Should().AllBeOfType<bool>();
            config["encoder_ff_interm_features"].As<List<object?>>().Should().AllBeOfType<long>();

            var stateDict = root["state_dict"].As<PyDict>();
            stateDict.PythonType.Should().Be(PyDict.OrderedDict);
            stateDict.Count.Should().Be(tensors);
            stateDict.Keys.Should().AllBeOfType<string>();
            long total = 0;
            double totalSum = 0;
            foreach (var kv in stateDict)
            {
                var t = kv.Value.As<Tensor>();
                t.dtype.Should().Be(ScalarType.Float32);
                t.device_type.Should().Be(DeviceType.CPU);
                t.is_contiguous().Should().BeTrue();
                total += t.numel();
                totalSum += Sum(t);
            }
            total.Should().Be(numel);
            totalSum.Should().BeApproximately(sum, 1e-9 * Math.Abs(sum) + 1e-9);
        }
        finally
        {
            DisposeTensors(root);
        }
    }

    [Fact]
    public void Hubert_post_ln_config_and_tensors_match_python()
    {
        var root = TorchCheckpointReader.Load(Fixture("dphubert", "hubert_post_ln", "checkpoint.pth")).Root.Value.As<PyDict>();
        try
        {
            var config = root["config"].As<PyDict>();
            config["aux_num_out"].Should().BeNull();
            config["extractor_mode"].Should().Be("group_norm");
            config["encoder_projection_dropout"].Should().Be(0.1);
            config["encoder_layer_norm_first"].Should().Be(false);
            config["encoder_num_heads"].As<List<object?>>().Should().Equal(4L, 4L, 4L);
            config["extractor_conv_layer_config"].As<List<object?>>()[0].As<object?[]>().Should().Equal(32L, 10L, 5L);
            config.Keys.First().Should().Be("extractor_mode");

            var sd = root["state_dict"].As<PyDict>();
            sd.Keys.First().Should().Be("feature_extractor.dummy_weight");
            var ln = sd["encoder.transformer.layers.0.final_layer_norm.weight"].As<Tensor>();
            ln.shape.Should().Equal(48L);
            Sum(ln).Should().BeApproximately(49.98069053888321, 1e-9);
            var conv = sd["feature_extractor.conv_layers.1.conv.weight"].As<Tensor>();
            conv.shape.Should().Equal(32L, 32L, 3L);
            Sum(conv).Should().BeApproximately(-2.513383955520112, 1e-9);
        }
        finally
        {
            DisposeTensors(root);
        }
    }

    [Fact]
    public void Pruned_checkpoint_has_uneven_shapes()
    {
        var root = TorchCheckpointReader.Load(Fixture("dphubert", "prune_hubert", "pruned", "checkpoint.pth")).Root.Value.As<PyDict>();
        try
        {
            var config = root["config"].As<PyDict>();
            config["encoder_num_heads"].As<List<object?>>().Should().Equal(2L, 3L, 3L);
            var w = root["state_dict"].As<PyDict>()["encoder.transformer.layers.0.feed_forward.output_dense.weight"].As<Tensor>();
            w.shape.Should().Equal(48L, 65L);
            Sum(w).Should().BeApproximately(-0.20253872352805047, 1e-9);
        }
        finally
        {
            DisposeTensors(root);
        }
    }

    [Theory]
    [InlineData("dtypes.pt")]
    [InlineData("dtypes_legacy.pt")]
    public void Reads_every_dtype(string name)
    {
        var d = TorchCheckpointReader.Load(Fixture("checkpoints", name)).Root.Value.As<PyDict>();
        try
        {
            d.PythonType.Should().Be(PyDict.OrderedDict);
            var expected = new (string Key, ScalarType DType, double[] Values)[]
            {
                ("f32", ScalarType.Float32, new[] { -0.5, -0.25, 0, 0.25, 0.5, 0.75 }),
                ("f16", ScalarType.Float16, new[] { -0.5, -0.25, 0, 0.25, 0.5, 0.75 }),
                ("bf16", ScalarType.BFloat16, new[] { -0.5, -0.25, 0, 0.25, 0.5, 0.75 }),
                ("f64", ScalarType.Float64, new[] { -0.5, -0.25, 0, 0.25, 0.5, 0.75 }),
                ("i64", ScalarType.Int64, new double[] { -2, -1, 0, 1, 2, 3 }),
                ("i32", ScalarType.Int32, new double[] { -2, -1, 0, 1, 2, 3 }),
                ("i16", ScalarType.Int16, new double[] { -2, -1, 0, 1, 2, 3 }),
                ("i8", ScalarType.Int8, new double[] { -2, -1, 0, 1, 2, 3 }),
                ("u8", ScalarType.Byte, new double[] { 0, 50, 100, 150, 200, 250 }),
                ("bool", ScalarType.Bool, new double[] { 0, 1, 0, 1, 0, 1 }),
            };
            foreach (var (key, dtype, values) in expected)
            {
                var t = d[key].As<Tensor>();
                t.dtype.Should().Be(dtype, key);
                t.shape.Should().Equal(new long[] { 2, 3 }, key);
                Values(t).Should().Equal(values, key);
            }
            // Exact bit patterns: float16 max, -0, inf, smallest normal; bfloat16 rounding of 1e-20 and 1/3.
            var f16 = Values(d["f16_special"].As<Tensor>());
            f16.Should().Equal(65504.0, -0.0, double.PositiveInfinity, 6.103515625e-05);
            BitConverter.DoubleToInt64Bits(f16[1]).Should().Be(BitConverter.DoubleToInt64Bits(-0.0));
            var bf16 = Values(d["bf16_special"].As<Tensor>());
            bf16[0].Should().Be(3.3895313892515355e38);
            bf16[1].Should().Be(1.0005576689441423e-20);
            bf16[2].Should().Be(double.NegativeInfinity);
            bf16[3].Should().Be(0.333984375);
        }
        finally
        {
            DisposeTensors(d);
        }
    }

    [Theory]
    [InlineData("views.pt")]
    [InlineData("views_legacy.pt")]
    public void Honours_storage_offsets_and_strides(string name)
    {
        var d = TorchCheckpointReader.Load(Fixture("checkpoints", name)).Root.Value.As<PyDict>();
        try
        {
            var baseValues = Enumerable.Range(0, 24).Select(i => (double)i).ToArray();
            Values(d["base"].As<Tensor>()).Should().Equal(baseValues);
            var t = d["t"].As<Tensor>();
            t.shape.Should().Equal(6L, 4L);
            t.is_contiguous().Should().BeTrue();
            Values(t).Should().Equal(Enumerable.Range(0, 24).Select(i => (double)(i % 4 * 6 + i / 4)));
            Values(d["block"].As<Tensor>()).Should().Equal(8, 9, 10, 14, 15, 16);
            Values(d["col"].As<Tensor>()).Should().Equal(1, 7, 13, 19);
            Values(d["stepped"].As<Tensor>()).Should().Equal(0, 3, 12, 15);
            var param = d["param"].As<Tensor>();
            param.shape.Should().Equal(2L, 2L);
            Values(param).Should().Equal(1, 3, 2, 4);

            // Tensors are independent of each other: writing into a view does not change the base.
            d["block"].As<Tensor>().fill_(-1);
            Values(d["base"].As<Tensor>()).Should().Equal(baseValues);
        }
        finally
        {
            DisposeTensors(d);
        }
    }

    [Fact]
    public void Flattens_omegaconf_cfg_of_fairseq_checkpoints()
    {
        var root = TorchCheckpointReader.Load(Fixture("checkpoints", "fairseq_omegaconf.pt")).Root.Value.As<PyDict>();
        try
        {
            var cfg = root["cfg"].As<PyDict>();
            cfg.PythonType.Should().Be("omegaconf.DictConfig");
            cfg["_name"].Should().BeNull();
            var model = cfg["model"].As<PyDict>();
            model["_name"].Should().Be("hubert");
            model["label_rate"].Should().Be(50.0);
            model["encoder_layers"].Should().Be(12L);
            model["layer_norm_first"].Should().Be(false);
            model["conv_feature_layers"].Should().Be("[(512,10,5)] + [(512,3,2)] * 4 + [(512,2,2)] * 2");
            cfg["common"].As<PyDict>()["user_dir"].Should().BeNull();
            cfg["common"].As<PyDict>()["fp16"].Should().Be(true);
            cfg["task"].As<PyDict>()["labels"].As<List<object?>>().Should().Equal("km");
            cfg["optimization"].As<PyDict>()["lr"].As<List<object?>>().Should().Equal(0.0005);
            cfg["checkpoint"].As<PyDict>()["interp"].Should().Be("${common.seed}"); // interpolations stay unresolved
            var typed = cfg["typed"].As<PyDict>();
            typed["i"].Should().Be(5L);
            typed["f"].Should().Be(2.5);
            typed["b"].Should().Be(false);
            typed["s"].Should().Be("str");

            root["optimizer_history"].As<List<object?>>()[0].As<PyDict>()["num_updates"].Should().Be(400000L);
            root["extra_state"].As<PyDict>()["val_loss"].Should().BeNull();
            root["last_optimizer_state"].Should().BeNull();
            var sd = root["model"].As<PyDict>();
            Values(sd["encoder.layer.0.bias"].As<Tensor>()).Should().Equal(-1.5, 0, 2.25);
            var step = sd["step"].As<Tensor>();
            step.shape.Should().BeEmpty();
            step.dtype.Should().Be(ScalarType.Int64);
            step.item<long>().Should().Be(7);
        }
        finally
        {
            DisposeTensors(root);
        }
    }

    [Fact]
    public void Typing_generics_are_only_allowed_as_getitem_of_typing()
    {
        // _operator.getitem(os.system-like callable, ...) is refused even though getitem itself is allowed.
        var pkl = new List<byte> { 0x80, 2, (byte)'c' };
        pkl.AddRange("_operator\ngetitem\n"u8.ToArray());
        pkl.Add((byte)'c');
        pkl.AddRange("builtins\nint\n"u8.ToArray());
        pkl.AddRange(new byte[] { (byte)'K', 1, 0x86, (byte)'R', (byte)'.' });
        var path = TempPath("getitem.pth");
        WriteZip(path, ("g/data.pkl", pkl.ToArray()));
        FluentActions.Invoking(() => TorchCheckpointReader.Load(path))
            .Should().Throw<UnsafePickleException>().Which.Global.Should().Be("_operator.getitem");
    }

    [Theory]
    [InlineData("fairseq_namespace.pt")]
    [InlineData("fairseq_namespace_legacy.pt")]
    public void Reads_argparse_namespace_args(string name)
    {
        var root = TorchCheckpointReader.Load(Fixture("checkpoints", name)).Root.Value.As<PyDict>();
        try
        {
            var args = root["args"].As<PyDict>();
            args.PythonType.Should().Be("argparse.Namespace");
            args["arch"].Should().Be("wav2vec2");
            args["encoder_layers"].Should().Be(2L);
            args["dropout"].Should().Be(0.1);
            args["layer_norm_first"].Should().Be(true);
            args["quantize_targets"].Should().Be(false);
            args["normalize"].Should().BeNull();
            args["labels"].As<List<object?>>().Should().Equal("ltr");
            args["tuple_value"].As<object?[]>().Should().Equal(1L, 2.0, "x");
            var w = root["model"].As<PyDict>()["encoder.layer.0.weight"].As<Tensor>();
            w.shape.Should().Equal(3L, 4L);
            Values(w).Should().Equal(Enumerable.Range(0, 12).Select(i => i / 8.0));
        }
        finally
        {
            DisposeTensors(root);
        }
    }

    [Fact]
    public void Reads_numpy_scalars_sets_bytes_and_other_plain_values()
    {
        var d = TorchCheckpointReader.Load(Fixture("checkpoints", "misc.pt")).Root.Value.As<PyDict>();
        d["np_f64"].Should().Be(0.125);
        d["np_i64"].Should().Be(-3L);
        d["np_f32"].Should().Be(1.5);
        d["np_bool"].Should().Be(true);
        var dd = d["defaultdict"].As<PyDict>();
        dd.PythonType.Should().Be("collections.defaultdict");
        dd["a"].As<List<object?>>().Should().Equal(1L);
        d["set"].As<List<object?>>().Should().Equal(7L);
        d["bytes"].As<byte[]>().Should().Equal(0, 255, (byte)'a', (byte)'b');
        d["size"].As<object?[]>().Should().Equal(2L, 3L);
        d["device"].Should().Be("cpu");
        d["dtype"].Should().Be("torch.float16");
        d["big"].Should().Be(System.Numerics.BigInteger.Pow(2, 70));
        d["neg"].Should().Be(-(1L << 40));
        d["unicode"].Should().Be("h\u00e9llo \u2713");
        var keys = d["float_key"].As<PyDict>();
        keys[1.5].Should().Be("x");
        keys[2L].Should().Be("y");
        keys[new object?[] { 1L, "t" }].Should().Be("w");
        keys.Count.Should().Be(4);
        d["empty_list"].As<List<object?>>().Should().BeEmpty();
        d["empty_tuple"].As<object?[]>().Should().BeEmpty();
        d["nested"].As<List<object?>>()[0].As<List<object?>>()[0].As<object?[]>().Should().Equal(1L);
    }

    [Fact]
    public void Refuses_a_pickled_whole_module()
    {
        var act = () => TorchCheckpointReader.Load(Fixture("checkpoints", "whole_module.pt"));
        // nn.Module pickles as a plain object whose attributes hold its parameters: refused as an object holding tensors.
        var e = act.Should().Throw<UnsafePickleException>().Which;
        e.Global.Should().Be("torch.nn.modules.linear.Linear");
        e.Message.Should().Contain("holds a tensor");
    }

    [Fact]
    public void Loads_from_a_non_seekable_stream()
    {
        var bytes = File.ReadAllBytes(Fixture("checkpoints", "dtypes.pt"));
        using var stream = new NonSeekableStream(new MemoryStream(bytes));
        var d = TorchCheckpointReader.Load(stream, "dtypes.pt").Root.Value.As<PyDict>();
        d.Count.Should().Be(12);
        DisposeTensors(d);
    }

    [Theory]
    [InlineData("evil_os_system.pt", "posix.system")]
    [InlineData("evil_eval_legacy.pt", "builtins.eval")]
    public void Refuses_globals_outside_the_allow_list(string name, string global)
    {
        var path = Fixture("checkpoints", name);
        var act = () => TorchCheckpointReader.Load(path);
        var e = act.Should().Throw<UnsafePickleException>().Which;
        e.Global.Should().Be(global);
        e.Message.Should().Be($"refused global '{global}' in {path}");
        e.FilePath.Should().Be(path);
        e.Should().BeAssignableTo<CheckpointFormatException>();
    }

    [Fact]
    public void Refuses_a_hand_made_reduce_of_os_system()
    {
        // GLOBAL 'os system', ('echo pwned',), REDUCE, STOP inside a zip checkpoint.
        var pickle = new List<byte> { 0x80, 2, (byte)'c' };
        pickle.AddRange("os\nsystem\n"u8.ToArray());
        pickle.Add((byte)'X');
        pickle.AddRange(BitConverter.GetBytes(10));
        pickle.AddRange("echo pwned"u8.ToArray());
        pickle.AddRange(new byte[] { 0x85, (byte)'R', (byte)'.' });
        var path = TempPath("evil.pth");
        WriteZip(path, ("evil/data.pkl", pickle.ToArray()), ("evil/version", "3\n"u8.ToArray()));
        var act = () => TorchCheckpointReader.Load(path);
        act.Should().Throw<UnsafePickleException>().WithMessage("refused global 'os.system' in *evil.pth");
    }

    [Fact]
    public void Truncated_zip_storage_names_expected_and_found_bytes()
    {
        var path = Fixture("checkpoints", "truncated_storage.pt");
        var act = () => TorchCheckpointReader.Load(path);
        var e = act.Should().Throw<CheckpointFormatException>().Which;
        e.Message.Should().Contain("expected 24 bytes, found 10").And.Contain("truncated_storage.pt");
        e.Key.Should().Be("dtypes/data/0");
    }

    [Fact]
    public void Truncated_legacy_storage_is_a_format_error()
    {
        var act = () => TorchCheckpointReader.Load(Fixture("checkpoints", "truncated_legacy.pt"));
        act.Should().Throw<CheckpointFormatException>().WithMessage("*truncated storage*expected*found*truncated_legacy.pt");
    }

    [Fact]
    public void Missing_storage_record_is_named()
    {
        var act = () => TorchCheckpointReader.Load(Fixture("checkpoints", "missing_record.pt"));
        var e = act.Should().Throw<CheckpointFormatException>().Which;
        e.Message.Should().Contain("missing storage record");
        e.Key.Should().Be("dtypes/data/1");
    }

    [Fact]
    public void Non_checkpoints_are_format_errors()
    {
        var wav = Fixture("dphubert", "hubert_post_ln", "input.wav");
        FluentActions.Invoking(() => TorchCheckpointReader.Load(wav))
            .Should().Throw<CheckpointFormatException>().WithMessage("*not a torch checkpoint*input.wav");

        var zipPath = TempPath("plain.zip");
        WriteZip(zipPath, ("readme.txt", "hello"u8.ToArray()));
        FluentActions.Invoking(() => TorchCheckpointReader.Load(zipPath))
            .Should().Throw<CheckpointFormatException>().WithMessage("*data.pkl*");

        // A bare pickle that is not a torch legacy checkpoint.
        using var bare = new MemoryStream(new byte[] { 0x80, 2, (byte)'K', 5, (byte)'.' });
        FluentActions.Invoking(() => TorchCheckpointReader.Load(bare, "bare.pkl"))
            .Should().Throw<CheckpointFormatException>().WithMessage("*magic*bare.pkl");
    }

    [Fact]
    public void Unknown_opcodes_and_truncated_pickles_are_format_errors()
    {
        var bad = TempPath("bad.pth");
        WriteZip(bad, ("a/data.pkl", new byte[] { 0x80, 2, 0xff, (byte)'.' }));
        FluentActions.Invoking(() => TorchCheckpointReader.Load(bad))
            .Should().Throw<CheckpointFormatException>().WithMessage("*unknown pickle opcode 0xff*bad.pth");

        var truncated = TempPath("short.pth");
        WriteZip(truncated, ("a/data.pkl", new byte[] { 0x80, 2, (byte)'X', 100, 0, 0, 0, (byte)'a' }));
        FluentActions.Invoking(() => TorchCheckpointReader.Load(truncated))
            .Should().Throw<CheckpointFormatException>().WithMessage("*truncated*short.pth");
    }

    [Fact]
    public void Views_reaching_outside_their_storage_are_refused_before_touching_memory()
    {
        // A float storage of 4 elements, viewed as 3x3.
        var path = TempPath("oob.pth");
        var pkl = BuildTensorPickle(storageNumel: 4, size: new long[] { 3, 3 }, stride: new long[] { 3, 1 });
        WriteZip(path, ("oob/data.pkl", pkl), ("oob/data/0", new byte[16]), ("oob/version", "3\n"u8.ToArray()));
        FluentActions.Invoking(() => TorchCheckpointReader.Load(path))
            .Should().Throw<CheckpointFormatException>().WithMessage("*reaches element 8*holds 4 elements*oob.pth");
    }

    [Fact]
    public void Absurd_nesting_is_a_format_error_not_a_stack_overflow()
    {
        var pkl = new List<byte> { 0x80, 2 };
        pkl.AddRange(Enumerable.Repeat((byte)']', 50_000));
        pkl.AddRange(Enumerable.Repeat((byte)'a', 49_999));
        pkl.Add((byte)'.');
        var path = TempPath("deep.pth");
        WriteZip(path, ("deep/data.pkl", pkl.ToArray()));
        FluentActions.Invoking(() => TorchCheckpointReader.Load(path))
            .Should().Throw<CheckpointFormatException>().WithMessage("*nested more than*deep.pth");
    }

    [Fact]
    public void Storage_chunks_are_read_into_the_right_place()
    {
        // ReadStorage fills narrow()ed slices through Tensor.bytes; check that such a span aliases the slice.
        using var t = torch.zeros(10, ScalarType.Int32);
        using (var slice = t.narrow(0, 3, 4))
        {
            var span = slice.bytes;
            span.Length.Should().Be(16);
            BitConverter.TryWriteBytes(span, 42).Should().BeTrue();
        }
        t[3].item<int>().Should().Be(42);
        Sum(t).Should().Be(42);

        using var stream = new MemoryStream(Enumerable.Range(0, 40).Select(i => (byte)i).ToArray());
        using var storage = TensorData.ReadStorage(stream, ScalarType.Int32, 10, swapBytes: true, "mem", "k");
        storage[0].item<int>().Should().Be(0x00010203); // byte-swapped big-endian element
    }

    [Fact]
    public void A_storage_larger_than_the_file_is_refused_before_allocating()
    {
        using var stream = new MemoryStream(new byte[100]);
        FluentActions.Invoking(() => TensorData.ReadStorage(stream, ScalarType.Float32, 1L << 40, false, "mem", "k"))
            .Should().Throw<CheckpointFormatException>().WithMessage("*expected 4398046511104 bytes, found 100*");
    }

    /// <summary>_rebuild_tensor_v2 of FloatStorage '0' (cpu, storageNumel), offset 0, given size/stride.</summary>
    private static byte[] BuildTensorPickle(long storageNumel, long[] size, long[] stride)
    {
        var b = new List<byte> { 0x80, 2, (byte)'c' };
        b.AddRange("torch._utils\n_rebuild_tensor_v2\n"u8.ToArray());
        b.Add((byte)'(');
        b.Add((byte)'(');
        void Str(string s)
        {
            b.Add((byte)'X');
            b.AddRange(BitConverter.GetBytes(s.Length));
            b.AddRange(System.Text.Encoding.ASCII.GetBytes(s));
        }
        void Int(long v)
        {
            b.Add((byte)'J');
            b.AddRange(BitConverter.GetBytes((int)v));
        }
        Str("storage");
        b.Add((byte)'c');
        b.AddRange("torch\nFloatStorage\n"u8.ToArray());
        Str("0");
        Str("cpu");
        Int(storageNumel);
        b.Add((byte)'t');
        b.Add((byte)'Q');
        Int(0);
        b.Add((byte)'(');
        foreach (var s in size) Int(s);
        b.Add((byte)'t');
        b.Add((byte)'(');
        foreach (var s in stride) Int(s);
        b.Add((byte)'t');
        b.Add(0x89);
        b.Add((byte)'N');
        b.Add((byte)'t');
        b.Add((byte)'R');
        b.Add((byte)'.');
        return b.ToArray();
    }

    internal static void WriteZip(string path, params (string Name, byte[] Data)[] entries)
    {
        using var fs = File.Create(path);
        using var zip = new System.IO.Compression.ZipArchive(fs, System.IO.Compression.ZipArchiveMode.Create);
        foreach (var (name, data) in entries)
        {
            using var s = zip.CreateEntry(name, System.IO.Compression.CompressionLevel.NoCompression).Open();
            s.Write(data);
        }
    }

    private sealed class NonSeekableStream : Stream
    {
        private readonly Stream _inner;

        public NonSeekableStream(Stream inner) => _inner = inner;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush() { }

        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, count);

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
                _inner.Dispose();
            base.Dispose(disposing);
        }
    }
}
