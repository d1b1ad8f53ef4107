using System.Reflection;
using DpHubert.Extraction;

// Usage: NuGetConsumer [checkpoint] [wav]; without arguments it uses the sample files copied next to the program.
string defaults = Path.Combine(AppContext.BaseDirectory, "Defaults");
string checkpoint = args.Length > 0 ? args[0] : Path.Combine(defaults, "dphubert-tiny.pth");
string wav = args.Length > 1 ? args[1] : Path.Combine(defaults, "speech-16k.wav");

Assembly library = typeof(SpeechEncoder).Assembly;
string version = library.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "?";
Console.WriteLine($"DpHubert {version} ({Path.GetFileName(library.Location)})");

// Load once (it owns native memory: dispose it), then extract as often as needed.
using var encoder = SpeechEncoder.Load(checkpoint, new SpeechEncoderOptions { Device = ComputeDevice.Cpu });
Console.WriteLine($"checkpoint: {Path.GetFileName(checkpoint)}, {encoder.Model.NumLayers} layers");

FeatureArray features = encoder.ExtractFile(wav);
Console.WriteLine($"features: [{string.Join(", ", features.Shape)}]");
FeatureArray layers = encoder.ExtractFile(wav, LayerSelection.AllLayers);
Console.WriteLine($"all layers: [{string.Join(", ", layers.Shape)}]");
