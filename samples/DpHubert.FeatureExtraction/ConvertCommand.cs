using System;
using System.CommandLine;
using DpHubert.Checkpoints;

namespace DpHubert.FeatureExtraction;

/// <summary><c>dphubert convert --checkpoint ANY --output OUT(.pth|.safetensors)</c>.</summary>
internal static class ConvertCommand
{
    public static Command Create()
    {
        var source = CheckpointSource.Create("Any supported checkpoint file or model folder.");
        var output = new Option<string>("--output") { Description = "OUT.pth (DPHuBERT layout) or OUT.safetensors (+ config JSON beside it).", Required = true };
        var hints = CheckpointHintOptions.Create();
        var verbose = new Option<bool>("--verbose") { Description = "Print the load report (mapped, dropped, defaulted keys)." };
        var command = new Command("convert", "Convert any supported checkpoint to the DPHuBERT .pth layout or to safetensors + config JSON.")
        {
            source.Checkpoint, source.Model, output, hints.Arch, hints.Config, verbose,
        };
        command.SetAction(parse =>
        {
            var options = hints.Read(parse);
            var (path, named, _) = source.Resolve(parse, quiet: false);
            var report = CheckpointConverter.Convert(path, parse.GetValue(output)!, options);
            if (parse.GetValue(verbose)) Console.Error.WriteLine(report);
            Console.WriteLine($"{named} ({report.Format}) -> {parse.GetValue(output)}: " +
                $"{report.Mapped.Count} keys, {report.Dropped.Count} dropped, {report.Defaulted.Count} defaulted");
            return Cli.Ok;
        });
        return command;
    }
}
