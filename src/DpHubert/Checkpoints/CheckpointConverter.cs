using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using DpHubert.Config;

namespace DpHubert.Checkpoints;

/// <summary>Converts any readable checkpoint to DPHuBERT's <c>.pth</c> layout or to safetensors + config JSON.</summary>
public static class CheckpointConverter
{
    /// <summary>
    /// Reads <paramref name="input"/> (any format <see cref="CheckpointLoader.Read(string, CheckpointReadOptions)"/> accepts), validates it by building
    /// the model and loading it strictly, then writes <paramref name="output"/>: <c>.pth</c> / <c>.pt</c> → DPHuBERT
    /// layout (<see cref="CheckpointWriter.SaveDpHubert(string, Wav2Vec2Config, IEnumerable{KeyValuePair{string, Tensor}}, StateDict?, StateDict?)"/>),
    /// <c>.safetensors</c> → safetensors + <c>&lt;name&gt;.json</c>. The written state_dict is the model's (so it
    /// includes a defaulted <c>dummy_weight</c>); extras (distillation heads, final_proj) are carried over.
    /// </summary>
    /// <param name="input">A checkpoint file or model folder.</param>
    /// <param name="output">The file to write.</param>
    /// <param name="options">Format hints for the input.</param>
    /// <returns>The load report of the input.</returns>
    /// <exception cref="ArgumentException">An output extension other than .pth, .pt or .safetensors.</exception>
    public static LoadReport Convert(string input, string output, CheckpointReadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(output);
        var ext = Path.GetExtension(output).ToLowerInvariant();
        if (ext is not (".pth" or ".pt" or ".safetensors"))
            throw new ArgumentException($"Unsupported output extension '{ext}': use .pth, .pt or .safetensors", nameof(output));
        using var checkpoint = CheckpointLoader.Read(input, options);
        using var model = CheckpointLoader.BuildModel(checkpoint);
        var state = model.state_dict();
        var stateList = state.Select(kv => new KeyValuePair<string, Tensor>(kv.Key, kv.Value.detach())).ToList();
        try
        {
            if (ext == ".safetensors")
                CheckpointWriter.SaveSafeTensors(output, checkpoint.Config, stateList, checkpoint.Extras);
            else
                CheckpointWriter.SaveDpHubert(output, checkpoint.Config, stateList,
                    checkpoint.Extras.GetValueOrDefault(CheckpointLoader.DistillLinearProjsKey),
                    checkpoint.Extras.GetValueOrDefault(CheckpointLoader.FinalProjKey));
        }
        finally
        {
            foreach (var kv in stateList) kv.Value.Dispose();
        }
        checkpoint.Report.Notes.Add($"written to {output}");
        return checkpoint.Report;
    }
}
