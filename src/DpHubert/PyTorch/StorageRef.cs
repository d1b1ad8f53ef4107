using TorchSharp;

namespace DpHubert.PyTorch;

/// <summary>A storage referenced by a persistent id, before its bytes are read.</summary>
/// <param name="Key">The storage's key (record name in a zip checkpoint).</param>
/// <param name="DType">Its element type.</param>
/// <param name="Numel">Elements in this storage (or storage view).</param>
/// <param name="RootKey">The storage holding the bytes: <paramref name="Key"/> itself unless this is a legacy storage view.</param>
/// <param name="RootOffset">Element offset of a legacy storage view inside its root storage; 0 otherwise.</param>
internal sealed record StorageRef(string Key, torch.ScalarType DType, long Numel, string RootKey, long RootOffset);
