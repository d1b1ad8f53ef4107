namespace DpHubert.Config;

/// <summary>One convolution of the waveform feature extractor: <c>(out_channels, kernel_size, stride)</c>.</summary>
/// <param name="OutChannels">Output channels (512 in the unpruned models).</param>
/// <param name="KernelSize">Kernel width in samples or frames.</param>
/// <param name="Stride">Stride.</param>
public sealed record ConvLayerSpec(int OutChannels, int KernelSize, int Stride);
