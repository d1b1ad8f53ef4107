using System;
using System.CommandLine;
using DpHubert.Checkpoints;

namespace DpHubert.FeatureExtraction;

/// <summary><c>dphubert convert --checkpoint ANY --output OUT(.pth|.safetensors)</c>.</summary>
internal static class ConvertCommand
{
    public static Command Create()
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "Any supported checkpoint file or model folder.", Required = true };
        var output = new Option<string>("--output") { Description = "OUT.pth (DPHuBERT layout) or OUT.safetensors (+ config JSON beside it).", Required = true };
        var hints = CheckpointHintOptions.Create();
        var verbose = new Option<bool>("--verbose") { Description = "Print the load report (mapped, dropped, defaulted keys)." };
        var command = new Command("convert", "Convert any supported checkpoint to the DPHuBERT .pth layout or to safetensors + config JSON.")
        {
            checkpoint, output, hints.Arch, hints.Config, verbose,
        };
        command.SetAction(parse =>
        {
            var options = hints.Read(parse);
            var report = CheckpointConverter.Convert(parse.GetValue(checkpoint)!, parse.GetValue(output)!, options);
            if (parse.GetValue(verbose)) Console.Error.WriteLine(report);
            Console.WriteLine($"{parse.GetValue(checkpoint)} ({report.Format}) -> {parse.GetValue(output)}: " +
                $"{report.Mapped.Count} keys, {report.Dropped.Count} dropped, {report.Defaulted.Count} defaulted");
            return Cli.Ok;
        });
        return command;
    }
}
