using System;
using System.CommandLine;
using DpHubert.Extraction;

namespace DpHubert.FeatureExtraction;

/// <summary>
/// The options of every command that loads an encoder and extracts features (<c>extract</c>, <c>stream</c>): the
/// checkpoint, what to output (<c>--layer</c>, <c>--units</c>, <c>--projection</c>), where and how to compute it
/// (<c>--device</c>, <c>--dtype</c>, <c>--threads</c>) and how much to say — defined, parsed and applied in one place.
/// </summary>
internal sealed class EncoderCommandOptions
{
    public CheckpointSource Source { get; } = CheckpointSource.Create("Checkpoint file or model folder.");
    public CheckpointHintOptions Hints { get; } = CheckpointHintOptions.Create();
    public Option<string> Layer { get; } = new("--layer") { Description = "Layer index N (0 = transformer input, N = after layer N), 'all', or 'final' (default: the model output)." };
    public Option<string> Device { get; } = new("--device") { Description = "cpu, cuda or cuda:N.", DefaultValueFactory = _ => "cpu" };
    public Option<string> DType { get; } = new("--dtype") { Description = "Compute dtype: float32 (default), bfloat16, auto (bfloat16 where the CPU's bf16 kernels are fast: AMX, or AVX-512 BF16 confirmed by a short probe; else float32) or float16 (CUDA only); outputs are always float32.", DefaultValueFactory = _ => "float32" };
    public Option<int?> Threads { get; } = new("--threads") { Description = "CPU threads for libtorch." };
    public Option<bool> Quiet { get; }
    public Option<bool> Verbose { get; } = new("--verbose") { Description = "Print the checkpoint load report to stderr (extract: and, at the end, where the time went)." };
    public Option<bool> Projection { get; } = new("--projection") { Description = "Apply the checkpoint's optional projection (ContentVec's final_proj, HuBERT-Soft's proj) to the selected output." };
    public Option<string> Units { get; } = new("--units") { Description = "so-vits-svc units by name, as its vencoder computes them: vec256l9, vec768l12, hubertsoft, wavlmbase+ (sets the layer, projection and padding; not with --layer)." };

    /// <summary>Creates the options.</summary>
    /// <param name="quietDescription">What <c>--quiet</c> silences in this command.</param>
    public EncoderCommandOptions(string quietDescription) =>
        Quiet = new Option<bool>("--quiet", "-q") { Description = quietDescription };

    /// <summary>The <c>--units</c> preset (or null) and the layer selection it or <c>--layer</c> makes.</summary>
    /// <exception cref="ArgumentException">Both <c>--units</c> and <c>--layer</c>, or a bad value of either.</exception>
    public (SpeechUnits? Named, LayerSelection Selection) ParseSelection(ParseResult parse)
    {
        var named = parse.GetValue(Units) is { } unitsName ? SpeechUnits.Parse(unitsName) : null;
        if (named is not null && parse.GetValue(Layer) is not null)
            throw new ArgumentException($"--units {named.Name} sets the layer itself ({named.Layers}); leave out --layer.");
        return (named, named?.Layers ?? LayerSelection.Parse(parse.GetValue(Layer)));
    }

    /// <summary>
    /// Resolves the checkpoint (fetching a Hub model), takes a short name's units preset where the user chose neither
    /// <c>--units</c> nor <c>--layer</c>, and loads the encoder (printing its load report with <c>--verbose</c>).
    /// </summary>
    /// <param name="parse">The parsed command line.</param>
    /// <param name="named">The <c>--units</c> preset from <see cref="ParseSelection"/>.</param>
    /// <param name="memoryLimitBytes">Reads the command's memory limit, if it has one; read before the device and
    /// dtype, so its error is the one reported first.</param>
    /// <returns>The encoder and the units it computes (the preset's when one applied).</returns>
    public (SpeechEncoder Encoder, SpeechUnits? Named) Load(ParseResult parse, SpeechUnits? named, Func<long?>? memoryLimitBytes = null)
    {
        var (checkpointPath, _, known) = Source.Resolve(parse, parse.GetValue(Quiet));
        if (CheckpointSource.PresetUnits(known, named, parse.GetValue(Layer)) is { } preset) named = preset;
        var encoder = SpeechEncoder.Load(checkpointPath, new SpeechEncoderOptions
        {
            Threads = parse.GetValue(Threads),
            MemoryLimitBytes = memoryLimitBytes?.Invoke(),
            Checkpoint = Hints.Read(parse),
            Projection = parse.GetValue(Projection),
            Units = named,
            Device = ComputeDevice.Parse(parse.GetValue(Device)!),
            DType = ComputeDTypes.Parse(parse.GetValue(DType)!),
        });
        try
        {
            if (parse.GetValue(Verbose)) Cli.PrintLoad(encoder);
        }
        catch
        {
            encoder.Dispose();
            throw;
        }
        return (encoder, named);
    }
}
