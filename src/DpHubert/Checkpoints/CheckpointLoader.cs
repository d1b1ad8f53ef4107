using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using DpHubert.Config;
using DpHubert.PyTorch;
using TorchSharp;
using static TorchSharp.torch;

namespace DpHubert.Checkpoints;

/// <summary>
/// Reads checkpoints into <see cref="ModelCheckpoint"/>s and builds ready-to-run models from them.
/// </summary>
public static partial class CheckpointLoader
{
    /// <summary>
    /// Loads a checkpoint and builds the model it describes, in eval mode, on <paramref name="device"/>.
    /// Every key and shape is checked; see <see cref="StateDictLoader.Load(nn.Module, IReadOnlyDictionary{string, Tensor}, string)"/>.
    /// </summary>
    /// <param name="path">A checkpoint file or model folder.</param>
    /// <param name="device">Target device (CPU when null).</param>
    /// <param name="options">Format hints (preset or config for bare state_dicts).</param>
    /// <returns>The model and the load report.</returns>
    /// <exception cref="FileNotFoundException">No such file or folder.</exception>
    /// <exception cref="CheckpointFormatException">The file is not a checkpoint we can read, or does not fit its config.</exception>
    public static (Wav2Vec2Model Model, LoadReport Report) LoadModel(string path, Device? device = null,
        CheckpointReadOptions? options = null)
    {
        using var checkpoint = Read(path, options);
        var model = BuildModel(checkpoint, device);
        return (model, checkpoint.Report);
    }

    /// <summary>
    /// Builds the model of a checkpoint and loads its weights (eval mode). The weights are not copied: the model's
    /// parameters take over the memory of the checkpoint's float32 CPU tensors, so change neither afterwards
    /// expecting the other to stay as it was (disposing the checkpoint is fine).
    /// </summary>
    /// <param name="checkpoint">A checkpoint from <see cref="Read"/>.</param>
    /// <param name="device">Target device (CPU when null).</param>
    public static Wav2Vec2Model BuildModel(ModelCheckpoint checkpoint, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        // Every weight comes from the checkpoint: skip the random initialization and take the read tensors as they are.
        var model = ModelFactory.BuildUninitialized(checkpoint.Config);
        try
        {
            var defaulted = StateDictLoader.LoadAdopting(model, checkpoint.StateDict, checkpoint.Report.Source);
            foreach (var k in defaulted)
                if (!checkpoint.Report.Defaulted.Contains(k)) checkpoint.Report.Defaulted.Add(k);
            if (device is not null && device.type != DeviceType.CPU) model.to(device);
            model.eval();
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Reads a checkpoint into memory, whatever its format: a DPHuBERT <c>.pth</c>; a Hugging Face model folder
    /// (config.json + model.safetensors / pytorch_model.bin / sharded *.index.json); a fairseq <c>.pt</c> (wav2vec 2.0,
    /// HuBERT, ContentVec, fine-tuned CTC); a bare torchaudio state_dict (needs <see cref="CheckpointReadOptions.Arch"/>
    /// or <see cref="CheckpointReadOptions.ConfigPath"/>); a <c>.safetensors</c> file with its config JSON. Keys are
    /// renamed by the format's table (<see cref="KeyMaps"/>) and everything done is recorded in
    /// <see cref="ModelCheckpoint.Report"/>.
    /// </summary>
    /// <param name="path">The file or folder.</param>
    /// <param name="options">Format hints.</param>
    public static ModelCheckpoint Read(string path, CheckpointReadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        options ??= new CheckpointReadOptions();
        if (Directory.Exists(path)) return ReadFolder(path, options);
        if (!File.Exists(path)) throw new FileNotFoundException($"Checkpoint not found: {path}", path);
        if (path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase)) return ReadSafeTensorsFile(path, options);
        var root = TorchCheckpointReader.Load(path);
        var ignored = InertRecords.Describe(root);
        var checkpoint = FromPickle(root, path, options);
        checkpoint.Report.Ignored.AddRange(ignored);
        return checkpoint;
    }

    private static ModelCheckpoint FromPickle(object? root, string path, CheckpointReadOptions options)
    {
        try
        {
            if (root is PyDict d && d.ContainsKey("state_dict") && d.ContainsKey("config"))
                return FromDpHubert(d, path);
            return FromOtherPickle(root, path, options);
        }
        catch
        {
            DisposeTensors(root);
            throw;
        }
    }

    private static ModelCheckpoint FromDpHubert(PyDict root, string path)
    {
        if (root["config"] is not PyDict configDict)
            throw new CheckpointFormatException($"'config' is a {Describe(root["config"])}, expected a dict", path, "config");
        Wav2Vec2Config config;
        try
        {
            config = Wav2Vec2Config.FromDictionary(configDict.Select(kv => new KeyValuePair<string, object?>(
                kv.Key as string ?? throw new CheckpointFormatException($"config key {kv.Key} is not a string", path, "config"), kv.Value)));
        }
        catch (ArgumentException e)
        {
            throw new CheckpointFormatException(e.Message, path, "config", e);
        }
        var report = new LoadReport(path, CheckpointFormat.DpHubert);
        // Our own names: the identity table (plus the parametrized weight-norm spelling), then the common
        // canonicalization (fused positional-conv weight, half precision).
        var sd = ApplyKeyMap(ToStateDict(root["state_dict"], path, "state_dict").ToList(), KeyMaps.TorchaudioKeyMap.Instance, report, path);
        CanonicalizeStateDict(sd, report, path);
        var checkpoint = new ModelCheckpoint(config, sd, report);
        if (root.TryGetValue("distill_linear_projs", out var projs) && projs is PyDict)
            checkpoint.Extras["distill_linear_projs"] = ToStateDict(projs, path, "distill_linear_projs");
        if (root.TryGetValue(FinalProjKey, out var finalProj) && finalProj is PyDict)
        {
            checkpoint.Extras[FinalProjKey] = ToStateDict(finalProj, path, FinalProjKey);
            report.Notes.Add($"final_proj kept as the optional projection Extras[\"{FinalProjKey}\"]");
        }
        foreach (var key in root.Keys.OfType<string>().Where(k => k is not "config" and not "state_dict" and not "distill_linear_projs" and not FinalProjKey))
        {
            report.Notes.Add($"ignored top-level entry '{key}'");
            DisposeTensors(root[key]);
        }
        return checkpoint;
    }

    /// <summary>Turns a pickled mapping of name to tensor into a <see cref="StateDict"/>.</summary>
    internal static StateDict ToStateDict(object? value, string path, string what)
    {
        if (value is not PyDict dict)
            throw new CheckpointFormatException($"'{what}' is a {Describe(value)}, expected a mapping of names to tensors", path, what);
        var sd = new StateDict();
        foreach (var (key, tensor) in dict)
        {
            if (key is not string name)
                throw new CheckpointFormatException($"'{what}' has a non-string key {key}", path, what);
            if (tensor is not Tensor t)
                throw new CheckpointFormatException($"'{what}' entry is a {Describe(tensor)}, expected a tensor", path, name);
            sd[name] = t;
        }
        return sd;
    }

    internal static string Describe(object? v) => v switch
    {
        null => "None",
        PyDict => "dict",
        InertRecord r => $"{r} that the loader does not read",
        Tensor t => $"tensor {Shapes.Format(t)}",
        System.Collections.IList => "list",
        _ => v.GetType().Name,
    };

    internal static void DisposeTensors(object? v)
    {
        switch (v)
        {
            case Tensor t: t.Dispose(); break;
            case PyDict d: foreach (var kv in d) DisposeTensors(kv.Value); break;
            case System.Collections.IEnumerable e when v is not string: foreach (var x in e) DisposeTensors(x); break;
        }
    }
}

/// <summary>Hints for formats that do not describe their own architecture.</summary>
public sealed record CheckpointReadOptions
{
    /// <summary>A preset name (<c>hubert_base</c> ...) for a bare state_dict.</summary>
    public string? Arch { get; init; }

    /// <summary>A DPHuBERT config JSON file for a bare state_dict or safetensors file.</summary>
    public string? ConfigPath { get; init; }
}
