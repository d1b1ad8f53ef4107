using System;
using System.Buffers.Binary;
using System.IO;
using System.Linq;
using System.Text;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

// ort-runner MODEL.onnx INPUT.wav OUTPUT.npy [--threads N]: runs the exported model (input "waveform" [1, samples],
// output "features" [1, frames, dim]) on a 16 kHz mono 16-bit PCM WAV with ONNX Runtime on the CPU, graph
// optimisation all, N intra-op threads (default 2), and writes features[0] as a float32 .npy (frames, dim).
if (args.Length is not (3 or 5) || (args.Length == 5 && args[3] != "--threads"))
{
    Console.Error.WriteLine("usage: ort-runner MODEL.onnx INPUT.wav OUTPUT.npy [--threads N]");
    return 2;
}
int threads = args.Length == 5 ? int.Parse(args[4], System.Globalization.CultureInfo.InvariantCulture) : 2;
float[] samples;
try
{
    samples = Wav.ReadMono16k(args[1]);
}
catch (InvalidDataException e)
{
    Console.Error.WriteLine($"error: {args[1]}: {e.Message}");
    return 2;
}

using var options = new SessionOptions
{
    GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
    IntraOpNumThreads = threads,
    InterOpNumThreads = 1,
    ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
};
using var session = new InferenceSession(args[0], options);
var input = new DenseTensor<float>(samples, new[] { 1, samples.Length });
using var results = session.Run(new[] { NamedOnnxValue.CreateFromTensor("waveform", input) });
var features = results.First().AsTensor<float>();
var dims = features.Dimensions.ToArray();
Npy.WriteFloat32(args[2], features.ToArray(), dims[1], dims[2]);
return 0;

internal static class Wav
{
    /// <summary>Samples of a 16 kHz mono 16-bit PCM WAV, scaled to [-1, 1).</summary>
    public static float[] ReadMono16k(string path)
    {
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < 12 || Encoding.ASCII.GetString(bytes, 0, 4) != "RIFF" || Encoding.ASCII.GetString(bytes, 8, 4) != "WAVE")
            throw new InvalidDataException("not a RIFF/WAVE file");
        int pos = 12;
        bool formatOk = false;
        while (pos + 8 <= bytes.Length)
        {
            string id = Encoding.ASCII.GetString(bytes, pos, 4);
            int size = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(pos + 4));
            var body = bytes.AsSpan(pos + 8, Math.Min(size, bytes.Length - pos - 8));
            if (id == "fmt ")
            {
                int format = BinaryPrimitives.ReadUInt16LittleEndian(body);
                int channels = BinaryPrimitives.ReadUInt16LittleEndian(body[2..]);
                int rate = BinaryPrimitives.ReadInt32LittleEndian(body[4..]);
                int bits = BinaryPrimitives.ReadUInt16LittleEndian(body[14..]);
                formatOk = format == 1 && channels == 1 && rate == 16000 && bits == 16;
                if (!formatOk)
                    throw new InvalidDataException($"expected 16 kHz mono 16-bit PCM, got format {format}, {channels} channels, {rate} Hz, {bits} bits");
            }
            else if (id == "data")
            {
                if (!formatOk)
                    throw new InvalidDataException("data chunk before the fmt chunk");
                var x = new float[body.Length / 2];
                for (int i = 0; i < x.Length; i++)
                    x[i] = BinaryPrimitives.ReadInt16LittleEndian(body[(2 * i)..]) / 32768f;
                return x;
            }
            pos += 8 + size + (size & 1);
        }
        throw new InvalidDataException("no data chunk");
    }
}

internal static class Npy
{
    /// <summary>A version 1.0 .npy file of little-endian float32, C order, shape (rows, cols).</summary>
    public static void WriteFloat32(string path, float[] data, int rows, int cols)
    {
        string header = $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}";
        int total = 10 + header.Length + 1;
        header = header.PadRight(header.Length + (64 - total % 64) % 64) + "\n";
        using var fs = File.Create(path);
        fs.Write(new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0 });
        Span<byte> len = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(len, (ushort)header.Length);
        fs.Write(len);
        fs.Write(Encoding.ASCII.GetBytes(header));
        var raw = new byte[data.Length * 4];
        Buffer.BlockCopy(data, 0, raw, 0, raw.Length);
        fs.Write(raw);
    }
}
