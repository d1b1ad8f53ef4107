using System.Collections.Generic;

namespace DpHubert.Checkpoints.Formats;

/// <summary>A <c>.safetensors</c> file as read, with the config found for it.</summary>
/// <param name="Weights">Every tensor of the file.</param>
/// <param name="Config">The config JSON object.</param>
/// <param name="ConfigSource">Where the config came from (a file, or the file's metadata).</param>
/// <param name="ConfigFile">The config's file, or null when it came from the metadata.</param>
internal sealed record SafeTensorsWithConfig(StateDict Weights, Dictionary<string, object?> Config, string ConfigSource, string? ConfigFile);
