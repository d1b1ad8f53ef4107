using System;
using System.CommandLine;
using System.IO;
using System.Linq;
using DpHubert.Extraction;
using DpHubert.IO;

namespace DpHubert.FeatureExtraction;

/// <summary><c>dphubert demo</c>: runs the embedded tiny checkpoint on the embedded WAV, so a fresh clone shows the
/// whole path (checkpoint load, WAV read, features, .npy) without downloading anything.</summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--output") { Description = "Where to write the features.", DefaultValueFactory = _ => "demo-features.npy" };
        var command = new Command("demo", "Extract features with the embedded tiny checkpoint from the embedded 16 kHz WAV.") { output };
        command.SetAction(parse =>
        {
            string defaults = Path.Combine(AppContext.BaseDirectory, "Defaults");
            string checkpoint = Path.Combine(defaults, "dphubert-tiny.pth");
            string wav = Path.Combine(defaults, "speech-16k.wav");
            using var encoder = SpeechEncoder.Load(checkpoint);
            var features = encoder.ExtractFile(wav);
            string path = parse.GetValue(output)!;
            Npy.WriteFloat32(path, features.Data, features.Shape);
            Console.WriteLine($"checkpoint: {checkpoint}");
            Console.WriteLine($"  {encoder.Model.Config.AttentionKind} model, {encoder.Model.NumLayers} layers, {encoder.Model.NumParameters():N0} parameters");
            Console.WriteLine($"input:      {wav}");
            Console.WriteLine($"features:   [{string.Join(", ", features.Shape)}] -> {path}");
            Console.WriteLine($"  mean {features.Data.Average():F6}, first frame starts {string.Join(" ", features.Data.Take(4).Select(v => v.ToString("F4", System.Globalization.CultureInfo.InvariantCulture)))}");
            return Cli.Ok;
        });
        return command;
    }
}
