using System.CommandLine;

namespace DpHubert.FeatureExtraction;

/// <summary><c>dphubert prune</c> (wired to the checkpoint writer).</summary>
internal static class PruneCommand
{
    public static Command Create() => new("prune", "Prune a checkpoint with HardConcrete masks into a smaller model.");
}
