using System;
using System.CommandLine;
using System.IO;
using DpHubert.Checkpoints;

namespace DpHubert.FeatureExtraction;

/// <summary><c>dphubert prune --checkpoint IN.pth --output OUT.pth</c>: DPHuBERT's prune.py.</summary>
internal static class PruneCommand
{
    public static Command Create()
    {
        var source = CheckpointSource.Create("A checkpoint whose config has prune flags (HardConcrete log_alpha keys).");
        var output = new Option<string>("--output") { Description = "Where to write the pruned DPHuBERT .pth.", Required = true };
        var verbose = new Option<bool>("--verbose") { Description = "Print the checkpoint load report." };
        var hints = CheckpointHintOptions.Create();
        var command = new Command("prune", "Turn HardConcrete masks into a smaller model, as DPHuBERT's prune.py does, and write it as a DPHuBERT .pth.")
        {
            source.Checkpoint, source.Model, output, verbose, hints.Arch, hints.Config,
        };
        command.SetAction(parse =>
        {
            var (checkpointPath, input, _) = source.Resolve(parse, quiet: false);
            using var checkpoint = CheckpointLoader.Read(checkpointPath, hints.Read(parse));
            if (parse.GetValue(verbose)) Console.Error.WriteLine(checkpoint.Report);
            if (!checkpoint.Config.HasPruningMasks)
                throw new ArgumentException($"{input} has no HardConcrete masks (all prune flags in its config are false): nothing to prune.");
            using var model = CheckpointLoader.BuildModel(checkpoint);
            long before = model.NumParameters();
            double expected = model.GetNumParams();
            var config = model.Prune();
            string path = parse.GetValue(output)!;
            var dir = Path.GetDirectoryName(Path.GetFullPath(path));
            if (dir is not null) Directory.CreateDirectory(dir);
            checkpoint.Extras.TryGetValue("distill_linear_projs", out var projs);
            CheckpointWriter.SaveDpHubert(path, config, model.state_dict(), projs);
            Console.WriteLine($"{input} -> {path}");
            Console.WriteLine($"parameters: {before} -> {model.NumParameters()} (get_num_params before pruning: {expected:0.##})");
            Console.WriteLine($"conv channels: {string.Join(" ", System.Linq.Enumerable.Select(config.ExtractorConvLayerConfig, c => c.OutChannels))}");
            for (int i = 0; i < config.EncoderNumLayers; i++)
                Console.WriteLine($"layer {i}: {(config.EncoderLayers[i].UseAttention ? $"{config.HeadsOfLayer(i)} heads" : "no attention")}, " +
                    $"{(config.EncoderLayers[i].UseFeedForward ? $"ffn {config.EncoderLayers[i].FfIntermFeatures}" : "no feed-forward")}");
            return Cli.Ok;
        });
        return command;
    }
}
