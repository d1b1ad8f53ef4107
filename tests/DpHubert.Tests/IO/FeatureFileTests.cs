using System;
using System.IO;
using System.Linq;
using DpHubert.Checkpoints;
using DpHubert.Extraction;
using DpHubert.IO;
using DpHubert.PyTorch;
using DpHubert.Tests.Support;
using FluentAssertions;
using Xunit;

namespace DpHubert.Tests.IO;

/// <summary>Writing feature files of each format and telling complete ones from cut, padded or foreign ones.</summary>
public class FeatureFileTests
{
    private static FeatureArray Features(int frames, int dim) =>
        new(Enumerable.Range(0, frames * dim).Select(i => (float)Math.Sin(i)).ToArray(), new long[] { frames, dim });

    [Fact]
    public void Output_names_follow_rvc_and_so_vits_svc()
    {
        FeatureFileFormat.Npy.OutputName("a.wav").Should().Be("a.npy");
        FeatureFileFormat.SoftPt.OutputName("a.wav").Should().Be("a.wav.soft.pt");
        FeatureFileFormat.SoftPt.OutputName(Path.Combine("x", "b.WAVE")).Should().Be(Path.Combine("x", "b.WAVE.soft.pt"));
        FeatureFiles.ParseFormat("soft-pt").Should().Be(FeatureFileFormat.SoftPt);
        FeatureFiles.ParseFormat("NPY").Should().Be(FeatureFileFormat.Npy);
        ((Action)(() => FeatureFiles.ParseFormat("pt"))).Should().Throw<FormatException>().WithMessage("*'pt'*npy or soft-pt*");
    }

    [Theory]
    [InlineData(FeatureFileFormat.Npy)]
    [InlineData(FeatureFileFormat.SoftPt)]
    public void A_complete_file_is_recognised_and_a_cut_or_padded_one_is_not(FeatureFileFormat format)
    {
        var dir = TestFiles.TempDir();
        string path = Path.Combine(dir, format.OutputName("a.wav"));
        var features = Features(37, 5);
        format.Write(path, features.Data, features.Shape);
        var info = format.Inspect(path);
        info.Should().NotBeNull();
        info!.Frames.Should().Be(37);
        info.Dim.Should().Be(5);
        info.Shape.Should().Equal(format == FeatureFileFormat.Npy ? new long[] { 37, 5 } : new long[] { 1, 5, 37 });

        var bytes = File.ReadAllBytes(path);
        foreach (int keep in new[] { 0, 8, bytes.Length / 2, bytes.Length - 1 })
        {
            File.WriteAllBytes(path, bytes[..keep]);
            format.Inspect(path).Should().BeNull($"a file cut to {keep} of {bytes.Length} bytes is partial");
        }
        File.WriteAllBytes(path, bytes.Concat(new byte[4]).ToArray());
        if (format == FeatureFileFormat.Npy)
            format.Inspect(path).Should().BeNull("a .npy longer than its header says is not the file we wrote");
        File.WriteAllText(path, "not a feature file");
        format.Inspect(path).Should().BeNull();
        File.Delete(path);
        format.Inspect(path).Should().BeNull();
    }

    [Fact]
    public void Soft_pt_holds_the_transposed_features_and_npy_inspect_rejects_other_dtypes()
    {
        var dir = TestFiles.TempDir();
        var f = Features(4, 3);
        string pt = Path.Combine(dir, "a.wav.soft.pt");
        FeatureFileFormat.SoftPt.Write(pt, f.Data, f.Shape);
        using (var t = (TorchSharp.torch.Tensor)TorchCheckpointReader.Load(pt).Root.Value!)
        {
            t.shape.Should().Equal(1, 3, 4);
            for (int frame = 0; frame < 4; frame++)
                for (int d = 0; d < 3; d++)
                    t[0, d, frame].item<float>().Should().Be(f.Data[frame * 3 + d], "[1, dim, frames] is (frames, dim) transposed exactly");
        }

        var all = new FeatureArray(new float[2 * 4 * 3], new long[] { 2, 4, 3 });
        ((Action)(() => FeatureFileFormat.SoftPt.Write(pt, all.Data, all.Shape))).Should().Throw<ArgumentException>().WithMessage("*one layer*");

        string npy = Path.Combine(dir, "ints.npy");
        using (var fs = File.Create(npy)) Npy.WriteFloat32(fs, new float[6], 2, 3);
        var ints = File.ReadAllBytes(npy);
        var text = System.Text.Encoding.ASCII.GetString(ints).Replace("<f4", "<i4");
        File.WriteAllBytes(npy, System.Text.Encoding.ASCII.GetBytes(text));
        Npy.TryReadFloat32Shape(npy).Should().BeNull("only float32 arrays are our feature files");
    }

    [Fact]
    public void Partial_files_are_the_temporaries_of_the_given_targets_only()
    {
        var dir = TestFiles.TempDir();
        string a = Path.Combine(dir, "a.npy"), b = Path.Combine(dir, "b.npy");
        string tempA = Path.Combine(dir, $".a.npy.{Guid.NewGuid():N}.tmp");
        string tempOther = Path.Combine(dir, $".c.npy.{Guid.NewGuid():N}.tmp");
        string notOurs = Path.Combine(dir, ".a.npy.notaguid.tmp");
        foreach (var p in new[] { tempA, tempOther, notOurs }) File.WriteAllText(p, "x");
        PartialFiles.Find(new[] { a, b, Path.Combine(dir, "missing", "z.npy") }).Should().Equal(tempA);
    }
}
