using System.IO;

namespace DpHubert.Checkpoints;

public static partial class CheckpointLoader
{
    private static ModelCheckpoint ReadFolder(string path, CheckpointReadOptions options) =>
        throw new CheckpointFormatException("Model folders are not supported yet", path);

    private static ModelCheckpoint ReadSafeTensorsFile(string path, CheckpointReadOptions options) =>
        throw new CheckpointFormatException("safetensors checkpoints are not supported yet", path);

    private static ModelCheckpoint FromOtherPickle(object? root, string path, CheckpointReadOptions options) =>
        throw new CheckpointFormatException(
            "Not a DPHuBERT checkpoint: expected a dict with 'config' and 'state_dict'", Path.GetFullPath(path));
}
