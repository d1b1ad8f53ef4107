using System;
using System.Collections.Generic;
using System.IO;
using DpHubert.Hub;
using DpHubert.PyTorch;
using TorchSharp;
using static TorchSharp.torch;

namespace DpHubert.Checkpoints;

/// <summary>
/// Reads checkpoints into <see cref="ModelCheckpoint"/>s and builds ready-to-run models from them.
/// </summary>
public static class CheckpointLoader
{
    /// <summary>Name of the <see cref="ModelCheckpoint.Extras"/> entry holding HuBERT / ContentVec's <c>final_proj</c>.</summary>
    public const string FinalProjKey = "final_proj";

    /// <summary>Name of the <see cref="ModelCheckpoint.Extras"/> entry holding DPHuBERT's distillation heads.</summary>
    public const string DistillLinearProjsKey = "distill_linear_projs";

    /// <summary>Metadata key under which <see cref="CheckpointWriter.SaveSafeTensors"/> also stores the config JSON.</summary>
    public const string SafeTensorsConfigMetadataKey = "dphubert_config";

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
    /// <param name="checkpoint">A checkpoint from <see cref="Read(string, CheckpointReadOptions)"/>.</param>
    /// <param name="device">Target device (CPU when null).</param>
    public static Wav2Vec2Model BuildModel(ModelCheckpoint checkpoint, Device? device = null) =>
        BuildModel(checkpoint, device, ScalarType.Float32);

    /// <summary><see cref="BuildModel(ModelCheckpoint, Device?)"/> with parameters in <paramref name="dtype"/>: tensors
    /// already in it (read with <see cref="CheckpointReadOptions.WeightDType"/>) are taken over, not copied or converted.</summary>
    internal static Wav2Vec2Model BuildModel(ModelCheckpoint checkpoint, Device? device, ScalarType dtype)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        // Every weight comes from the checkpoint: skip the random initialization and take the read tensors as they are.
        var model = ModelFactory.BuildUninitialized(checkpoint.Config, dtype);
        try
        {
            if (dtype != ScalarType.Float32) model.to(dtype); // the small initialized ones (norms); the large are already in dtype
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
    /// <param name="path">The file or folder, or a model on the Hugging Face Hub, <c>hf://ORG/REPO[@REVISION][/PATH]</c>
    /// (fetched into the huggingface_hub cache first, by <see cref="CheckpointReadOptions.Hub"/>'s settings).</param>
    /// <param name="options">Format hints.</param>
    /// <exception cref="HubException">A Hub reference that could not be fetched.</exception>
    public static ModelCheckpoint Read(string path, CheckpointReadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        options ??= new CheckpointReadOptions();
        if (!IsFloating(options.WeightDType))
            throw new InvalidOptionException(new OptionText(
                $"{ApiOption.WeightDType} must be a floating type (float32, float16, bfloat16, float64), got {options.WeightDType}"));
        if (HubReference.IsHubReference(path)) return Read(HubReference.Parse(path), options);
        return CheckpointPipeline.Load(path, options);
    }

    /// <summary>Reads a model from the Hugging Face Hub (or the cache): a checkpoint file in a repository, or a
    /// repository that is a model folder (only config.json, preprocessor_config.json and one weight layout are
    /// fetched). For progress and cancellation, fetch with <see cref="HubClient.DownloadModelAsync"/> and read the
    /// path it returns.</summary>
    /// <param name="reference">The repository, revision and optional file.</param>
    /// <param name="options">Format hints and <see cref="CheckpointReadOptions.Hub"/>.</param>
    /// <exception cref="HubException">Not found, not allowed, offline without a copy, or a failed check.</exception>
    public static ModelCheckpoint Read(HubReference reference, CheckpointReadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(reference);
        options ??= new CheckpointReadOptions();
        string local;
        using (var hub = new HubClient(options.Hub))
            local = hub.DownloadModel(reference);
        return Read(local, options);
    }

    /// <summary>The checkpoint's optional projection (<see cref="ModelCheckpoint.Extras"/>[<see cref="FinalProjKey"/>]:
    /// ContentVec's <c>final_proj</c>, HuBERT-Soft's <c>proj</c>), or null when it has none.</summary>
    /// <param name="checkpoint">A read checkpoint.</param>
    public static Modules.FinalProjection? BuildProjection(ModelCheckpoint checkpoint) => BuildProjection(checkpoint, CPU, ScalarType.Float32);

    /// <summary><see cref="BuildProjection(ModelCheckpoint)"/> with its weights on <paramref name="device"/> in
    /// <paramref name="dtype"/> (the model's), converted once.</summary>
    internal static Modules.FinalProjection? BuildProjection(ModelCheckpoint checkpoint, Device device, ScalarType dtype)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        if (!checkpoint.Extras.TryGetValue(FinalProjKey, out var sd) || !sd.TryGetValue("weight", out var w))
            return null;
        return new Modules.FinalProjection(w, sd.TryGetValue("bias", out var b) ? b : null, dtype, device);
    }

    private static bool IsFloating(ScalarType t) => t is ScalarType.Float32 or ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Float64;
}
