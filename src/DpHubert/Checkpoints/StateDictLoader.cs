using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace DpHubert.Checkpoints;

/// <summary>Copies a state_dict into a model after checking every key and shape (TorchSharp's own strict load names
/// no key and can broadcast a wrong shape silently).</summary>
public static class StateDictLoader
{
    /// <summary>The one key a checkpoint may lack: torchaudio / HF / fairseq models have no <c>dummy_weight</c>, and
    /// the original then keeps it at ones.</summary>
    public const string DummyWeightKey = "feature_extractor.dummy_weight";

    /// <summary>
    /// Checks and loads <paramref name="stateDict"/> into <paramref name="model"/> (converting dtype and device as
    /// needed). A missing <see cref="DummyWeightKey"/> keeps ones; any other missing, unexpected or shape-mismatched
    /// key throws <see cref="StateDictMismatchException"/> before anything is copied.
    /// </summary>
    /// <param name="model">The model built from the checkpoint's config.</param>
    /// <param name="stateDict">Key to tensor.</param>
    /// <param name="source">File or folder name for error messages.</param>
    /// <returns>Keys that were defaulted (at most <see cref="DummyWeightKey"/>).</returns>
    public static IReadOnlyList<string> Load(nn.Module model, IReadOnlyDictionary<string, Tensor> stateDict, string source)
        => Load(model, stateDict, source, adopt: false);

    /// <summary>
    /// As <see cref="Load(nn.Module, IReadOnlyDictionary{string, Tensor}, string)"/>, but a CPU state_dict tensor of
    /// the parameter's own floating dtype becomes the parameter's storage (no copy; the parameter's own memory is released), so the model and the
    /// state_dict then share memory. For a model built to be filled (<see cref="ModelFactory.BuildUninitialized"/>).
    /// </summary>
    internal static IReadOnlyList<string> LoadAdopting(nn.Module model, IReadOnlyDictionary<string, Tensor> stateDict, string source)
        => Load(model, stateDict, source, adopt: true);

    private static IReadOnlyList<string> Load(nn.Module model, IReadOnlyDictionary<string, Tensor> stateDict, string source, bool adopt)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(stateDict);
        var expected = model.state_dict();
        var missing = expected.Keys.Where(k => !stateDict.ContainsKey(k)).ToList();
        var defaulted = missing.Where(k => k == DummyWeightKey).ToList();
        missing.RemoveAll(k => k == DummyWeightKey);
        var unexpected = stateDict.Keys.Where(k => !expected.ContainsKey(k)).ToList();
        var mismatched = new List<(string, long[], long[])>();
        foreach (var (key, target) in expected)
        {
            if (!stateDict.TryGetValue(key, out var found)) continue;
            if (!target.shape.SequenceEqual(found.shape)) mismatched.Add((key, target.shape, found.shape));
        }
        if (missing.Count > 0 || unexpected.Count > 0 || mismatched.Count > 0)
            throw new StateDictMismatchException(source, missing, unexpected, mismatched);

        using var _ = no_grad();
        // Two keys on one storage are copied, so that loading never ties weights the model keeps apart.
        var adopted = new HashSet<IntPtr>();
        foreach (var (key, target) in expected)
        {
            if (!stateDict.TryGetValue(key, out var found)) continue;
            if (adopt && CanAdopt(target, found) && adopted.Add(DataPointer(found)))
                target.set_(found);
            else
                target.copy_(found);
        }
        return defaulted;
    }

    private static bool CanAdopt(Tensor target, Tensor found) =>
        found.device_type == DeviceType.CPU && target.device_type == DeviceType.CPU
        && found.dtype == target.dtype && found.is_floating_point()
        && found.is_contiguous() && found.storage_offset() == 0 && found.numel() > 0;

    // The address of the first element, for any dtype (TorchSharp's Storage<T> has no 2-byte float type).
    private static IntPtr DataPointer(Tensor t) =>
        Unsafe.ByteOffset(ref Unsafe.NullRef<byte>(), ref MemoryMarshal.GetReference(t.bytes));
}
