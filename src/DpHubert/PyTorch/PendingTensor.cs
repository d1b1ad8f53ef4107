using TorchSharp;

namespace DpHubert.PyTorch;

/// <summary>A tensor described by _rebuild_tensor_v2: materialised after the pickle is read.</summary>
/// <param name="Storage">Where its elements are.</param>
/// <param name="Offset">Element offset into the storage.</param>
/// <param name="Size">Its shape.</param>
/// <param name="Stride">Its strides, in elements.</param>
/// <param name="DType">Set by _rebuild_tensor_v3, whose dtype may differ from the storage's.</param>
internal sealed record PendingTensor(StorageRef Storage, long Offset, long[] Size, long[] Stride, torch.ScalarType? DType);
