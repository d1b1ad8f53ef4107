using System.Collections.Generic;
using System.IO;
using System.Text;

namespace DpHubert.PyTorch;

/// <summary>
/// Our own, not PyBridge's <c>save_py</c>: a checkpoint here is a config beside a state_dict (nested dicts, lists, strings), with torch's 64-byte aligned records.
/// Writes checkpoints in PyTorch's zip format (what <c>torch.save</c> writes since 1.6), readable by
/// <c>torch.load</c> and by <see cref="TorchCheckpointReader"/>.
/// </summary>
public static class TorchCheckpointWriter
{
    /// <summary>
    /// Saves <paramref name="value"/>: <see cref="PyDict"/> (an OrderedDict when its PythonType is
    /// "collections.OrderedDict", else a dict), lists (any <see cref="System.Collections.IList"/>), object?[] tuples,
    /// long/int/double/float/bool/string/byte[], null, and tensors of float32, float16, bfloat16, float64, int64,
    /// int32, int16, int8, uint8 or bool (written contiguous, from any device). The file appears only once complete.
    /// </summary>
    public static void Save(string path, object? value)
    {
        var archive = Path.GetFileNameWithoutExtension(path);
        if (string.IsNullOrEmpty(archive))
            archive = "archive";
        AtomicFile.Write(path, fs =>
        {
            var zip = new StoredZipWriter(fs);
            var tensors = new List<Tensor>();
            using var pickle = new MemoryStream();
            new PickleWriter(pickle, t =>
            {
                tensors.Add(t);
                return (tensors.Count - 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
            }).Dump(value);

            // Same record order as torch: data.pkl, byteorder, the storages, version.
            zip.AddEntry(archive + "/data.pkl", s => pickle.WriteTo(s));
            zip.AddEntry(archive + "/byteorder", s => s.Write(Encoding.ASCII.GetBytes("little")));
            for (var i = 0; i < tensors.Count; i++)
            {
                var t = tensors[i];
                zip.AddEntry($"{archive}/data/{i}", s => TensorData.WriteTensor(s, t));
            }
            zip.AddEntry(archive + "/version", s => s.Write(Encoding.ASCII.GetBytes("3\n")));
            zip.Finish();
        });
    }
}
