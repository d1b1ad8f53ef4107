using System;
using DpHubert.Checkpoints;

namespace DpHubert.Extraction;

/// <summary>Options for <see cref="SpeechEncoder"/>.</summary>
public sealed record SpeechEncoderOptions
{
    /// <summary>The CPU (default) or a CUDA device; <see cref="ComputeDevice.Parse"/> reads <c>cpu</c>, <c>cuda</c>,
    /// <c>cuda:N</c>.</summary>
    public ComputeDevice Device { get; init; } = ComputeDevice.Cpu;

    /// <summary>Weights and compute dtype: float32 (default, matches PyTorch), bfloat16, auto (bfloat16 where the CPU's
    /// bf16 kernels are fast: AMX, or AVX-512 BF16 when a short probe confirms it; float32 elsewhere) or, on CUDA only,
    /// float16; <see cref="ComputeDTypes.Parse"/> reads their names. Outputs are float32 whatever the compute dtype.</summary>
    public ComputeDType DType { get; init; } = ComputeDType.Float32;

    /// <summary>The CPU facts <see cref="ComputeDType.Auto"/> decides on (null: this machine's, <see cref="CpuFeatures.Current"/>).</summary>
    public CpuFeatures? Cpu { get; init; }

    /// <summary>CPU threads for libtorch (null leaves libtorch's default).</summary>
    public int? Threads { get; init; }

    /// <summary>Hints for checkpoints that need them (bare torchaudio state_dicts).</summary>
    public CheckpointReadOptions? Checkpoint { get; init; }

    /// <summary>
    /// Apply the checkpoint's optional projection (ContentVec's <c>final_proj</c>, HuBERT-Soft's <c>proj</c>) to every
    /// output, whichever layer is selected. Loading fails if the checkpoint has none.
    /// </summary>
    public bool Projection { get; init; }

    /// <summary>
    /// so-vits-svc units (<see cref="SpeechUnits"/>): sets <see cref="Projection"/> and the waveform padding of that set;
    /// pass <see cref="SpeechEncoder.Units"/>'s <see cref="SpeechUnits.Layers"/> as the selection. The padding is applied
    /// to what the file, stream and resampling overloads read; the 16 kHz sample overloads take their samples as given
    /// (pad them with <see cref="SpeechUnits.Pad"/>).
    /// </summary>
    public SpeechUnits? Units { get; init; }

    /// <summary>The most memory (bytes) one forward pass may take on the CPU; a longer input fails with an
    /// <see cref="InsufficientMemoryException"/> that suggests <see cref="ExtractionOptions.ChunkSeconds"/>
    /// before anything is allocated. Null: the memory available when the pass starts (Linux MemAvailable, bounded by
    /// the GC's container-aware limit).</summary>
    public long? MemoryLimitBytes { get; init; }

    /// <summary>The kernel self-check before the first forward pass (<see cref="DpHubert.KernelCheck"/>): on (default,
    /// each configuration once per process), off, or force (again even if verified); the environment variable
    /// <c>DPHUBERT_KERNEL_CHECK</c> overrides it.</summary>
    public KernelCheckMode KernelCheck { get; init; } = KernelCheckMode.On;

    /// <summary>Test hook: configurations the kernel check must treat as wrong.</summary>
    internal DpHubert.KernelCheck.FaultInjector? KernelFaults { get; init; }

    /// <summary>Test hook: the GEMM timings <see cref="LinearBackend.Auto"/> decides on, instead of measuring.</summary>
    internal LinearKernels.GemmTimer? GemmTimer { get; init; }

    /// <summary>Test hook: told as each forward pass starts (items, longest input in samples), inside the pass; what it
    /// throws fails that pass as a native failure would.</summary>
    internal Action<int, long>? PassObserver { get; init; }
}
