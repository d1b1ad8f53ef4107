using System.CommandLine;
using DpHubert.FeatureExtraction;

// dphubert: extract features from WAV files with a DPHuBERT / HuBERT / wav2vec 2.0 / WavLM checkpoint.
// Exit codes: 0 everything written; 1 some inputs failed (named on stderr); 2 usage or checkpoint errors;
// 130 extract cancelled by Ctrl+C or SIGTERM (what was written is complete).
// Before anything loads libtorch (its OpenMP runtime reads the setting once, when it loads).
Cli.LimitOpenMpSpinning();
var root = new RootCommand("DPHuBERT / HuBERT / wav2vec 2.0 / WavLM feature extraction on TorchSharp.");
root.Subcommands.Add(ExtractCommand.Create());
root.Subcommands.Add(InfoCommand.Create());
root.Subcommands.Add(PruneCommand.Create());
root.Subcommands.Add(ConvertCommand.Create());
root.Subcommands.Add(DemoCommand.Create());
root.Subcommands.Add(StreamCommand.Create());
root.Subcommands.Add(ModelsCommand.Create());
return Cli.Exit(Cli.Run(root, args));
