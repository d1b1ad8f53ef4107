using System;
using System.IO;
using System.IO.Compression;
using System.Linq;
using DpHubert.PyTorch;
using FluentAssertions;
using Xunit;
using static DpHubert.Tests.PyTorch.CheckpointTestHelpers;
using static TorchSharp.torch;

namespace DpHubert.Tests.PyTorch;

/// <summary>A large zip checkpoint read from a file has its storages read by two threads; the result, and every
/// error, must be what the one-thread read of the same bytes (from a stream) gives.</summary>
public sealed class StorageReadsTests : IDisposable
{
    private readonly string dir = Path.Combine(Path.GetTempPath(), $"dphubert-storage-reads-{Guid.NewGuid():N}");

    public StorageReadsTests() => Directory.CreateDirectory(dir);

    public void Dispose() => Directory.Delete(dir, recursive: true);

    // Over StorageReads.ParallelMinimumBytes, in tensors of different sizes and dtypes, one of them shared by two keys.
    private string WriteLarge(string name)
    {
        var path = Path.Combine(dir, name);
        using var scope = NewDisposeScope();
        var gen = new Generator(7);
        var dict = new PyDict();
        long bytes = 0;
        for (int i = 0; bytes < StorageReads.ParallelMinimumBytes + (8 << 20); i++)
        {
            long n = (1L << 16) * (1 + i % 7) * (i % 3 == 0 ? 16 : 1);
            var t = randn(new[] { n }, generator: gen);
            var stored = i % 5 == 4 ? t.to(ScalarType.BFloat16) : t;
            dict[$"w{i}"] = stored.view(n / 256, 256);
            bytes += n * (stored.dtype == ScalarType.BFloat16 ? 2 : 4);
        }
        dict["alias"] = dict["w0"];
        TorchCheckpointWriter.Save(path, dict);
        return path;
    }

    private static TorchCheckpointData FromStream(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read);
        return TorchCheckpointReader.Load(stream, path);
    }

    [Fact]
    public void Two_readers_give_exactly_the_one_reader_result()
    {
        var path = WriteLarge("large.pth");
        using var parallel = TorchCheckpointReader.Load(path);
        using var single = FromStream(path);
        parallel.StorageReaders.Should().Be(2);
        single.StorageReaders.Should().Be(1);

        var a = parallel.Root.Value.As<PyDict>();
        var b = single.Root.Value.As<PyDict>();
        a.Keys.Should().Equal(b.Keys);
        foreach (var key in a.Keys.Cast<string>())
        {
            var x = a[key].As<Tensor>();
            var y = b[key].As<Tensor>();
            x.dtype.Should().Be(y.dtype, key);
            SameValues(x, y).Should().BeTrue(key);
        }
        parallel.Tensors.Count.Should().Be(single.Tensors.Count);
    }

    [Fact]
    public void A_missing_storage_fails_both_reads_with_the_same_error_naming_the_file_and_record()
    {
        var path = WriteLarge("whole.pth");
        var broken = Path.Combine(dir, "broken.pth");
        // Copy the archive without two of its storage records: each read must report the one the tree reaches first.
        string[] dropped;
        using (var source = ZipFile.OpenRead(path))
        {
            var data = source.Entries.Where(e => e.FullName.Contains("/data/", StringComparison.Ordinal)).ToList();
            dropped = new[] { data[1].FullName, data[^2].FullName };
            using var target = ZipFile.Open(broken, ZipArchiveMode.Create);
            foreach (var entry in source.Entries.Where(e => !dropped.Contains(e.FullName)))
            {
                using var from = entry.Open();
                using var to = target.CreateEntry(entry.FullName, CompressionLevel.NoCompression).Open();
                from.CopyTo(to);
            }
        }

        var parallel = FluentActions.Invoking(() => TorchCheckpointReader.Load(broken)).Should().Throw<CheckpointFormatException>().Which;
        var single = FluentActions.Invoking(() => FromStream(broken)).Should().Throw<CheckpointFormatException>().Which;
        parallel.Message.Should().Contain("missing storage record").And.Contain("broken.pth");
        parallel.Message.Should().Be(single.Message);
        parallel.Key.Should().Be(single.Key).And.BeOneOf(dropped);
    }

    [Fact]
    public void A_small_checkpoint_is_read_by_one_thread()
    {
        using var data = TorchCheckpointReader.Load(Fixture("dphubert", "hubert_post_ln", "checkpoint.pth"));
        data.StorageReaders.Should().Be(1);
    }
}
