using System;
using System.CommandLine;
using System.IO;
using DpHubert.Extraction;
using DpHubert.IO;

namespace DpHubert.FeatureExtraction;

/// <summary><c>dphubert extract --checkpoint FILE --input FILE.wav --output FILE.npy [--layer N|all]</c>.</summary>
internal static class ExtractCommand
{
    public static Command Create()
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "Checkpoint file or model folder.", Required = true };
        var input = new Option<string>("--input") { Description = "Input WAV file.", Required = true };
        var output = new Option<string>("--output") { Description = "Output .npy file.", Required = true };
        var layer = new Option<string>("--layer") { Description = "Layer index N (0 = transformer input, N = after layer N), 'all', or 'final' (default: the model output)." };
        var device = new Option<string>("--device") { Description = "cpu, cuda or cuda:N.", DefaultValueFactory = _ => "cpu" };
        var dtype = new Option<string>("--dtype") { Description = "float32, float16 or bfloat16.", DefaultValueFactory = _ => "float32" };
        var threads = new Option<int?>("--threads") { Description = "CPU threads for libtorch." };
        var verbose = new Option<bool>("--verbose") { Description = "Print the checkpoint load report." };
        var command = new Command("extract", "Extract features from a WAV file into a float32 .npy file.")
        {
            checkpoint, input, output, layer, device, dtype, threads, verbose,
        };
        command.SetAction(parse =>
        {
            var selection = LayerSelection.Parse(parse.GetValue(layer));
            using var encoder = SpeechEncoder.Load(parse.GetValue(checkpoint)!, new SpeechEncoderOptions
            {
                Device = parse.GetValue(device)!,
                DType = parse.GetValue(dtype)!,
                Threads = parse.GetValue(threads),
            });
            if (parse.GetValue(verbose)) Console.Error.WriteLine(encoder.Report);
            string inputPath = parse.GetValue(input)!;
            string outputPath = parse.GetValue(output)!;
            FeatureArray features;
            try
            {
                features = encoder.ExtractFile(inputPath, selection);
            }
            catch (Exception e) when (Cli.IsUserError(e))
            {
                Console.Error.WriteLine($"error: {inputPath}: {e.Message}");
                return Cli.SomeInputsFailed;
            }
            var dir = Path.GetDirectoryName(Path.GetFullPath(outputPath));
            if (dir is not null) Directory.CreateDirectory(dir);
            Npy.WriteFloat32(outputPath, features.Data, features.Shape);
            Console.WriteLine($"{inputPath} -> {outputPath} [{string.Join(", ", features.Shape)}]");
            return Cli.Ok;
        });
        return command;
    }
}
