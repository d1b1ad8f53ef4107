namespace DpHubert;

/// <summary>An option of the library's API as error messages name it (<see cref="OptionText"/>): a property of an
/// options record or a method's parameter, by its C# name (<c>ExtractionOptions.BatchSize</c>).</summary>
/// <param name="Name">The C# name, as library messages print it.</param>
public sealed record ApiOption(string Name)
{
    /// <summary><see cref="Extraction.ExtractionOptions.BatchSize"/>.</summary>
    public static ApiOption BatchSize { get; } = new("ExtractionOptions.BatchSize");

    /// <summary><see cref="Extraction.ExtractionOptions.ChunkSeconds"/>.</summary>
    public static ApiOption ChunkSeconds { get; } = new("ExtractionOptions.ChunkSeconds");

    /// <summary><see cref="Extraction.ExtractionOptions.ChunkOverlapSeconds"/>.</summary>
    public static ApiOption ChunkOverlapSeconds { get; } = new("ExtractionOptions.ChunkOverlapSeconds");

    /// <summary><see cref="Extraction.ExtractionOptions.ReadAhead"/>.</summary>
    public static ApiOption ReadAhead { get; } = new("ExtractionOptions.ReadAhead");

    /// <summary>The layer selection (<see cref="Extraction.LayerSelection"/>) an extraction is given.</summary>
    public static ApiOption Layers { get; } = new("LayerSelection");

    /// <summary><see cref="Extraction.SpeechEncoderOptions.Threads"/>.</summary>
    public static ApiOption Threads { get; } = new("SpeechEncoderOptions.Threads");

    /// <summary><see cref="Extraction.SpeechEncoderOptions.DType"/>.</summary>
    public static ApiOption DType { get; } = new("SpeechEncoderOptions.DType");

    /// <summary><see cref="Extraction.SpeechEncoderOptions.Units"/>.</summary>
    public static ApiOption Units { get; } = new("SpeechEncoderOptions.Units");

    /// <summary><see cref="Extraction.SpeechEncoderOptions.Projection"/>.</summary>
    public static ApiOption Projection { get; } = new("SpeechEncoderOptions.Projection");

    /// <summary><see cref="Checkpoints.CheckpointReadOptions.Arch"/>.</summary>
    public static ApiOption Arch { get; } = new("CheckpointReadOptions.Arch");

    /// <summary><see cref="Checkpoints.CheckpointReadOptions.ConfigPath"/>.</summary>
    public static ApiOption ConfigPath { get; } = new("CheckpointReadOptions.ConfigPath");

    /// <summary><see cref="Checkpoints.CheckpointReadOptions.WeightDType"/>.</summary>
    public static ApiOption WeightDType { get; } = new("CheckpointReadOptions.WeightDType");

    /// <summary><see cref="Streaming.StreamOptions.BlockSeconds"/>.</summary>
    public static ApiOption BlockSeconds { get; } = new("StreamOptions.BlockSeconds");

    /// <summary><see cref="Streaming.StreamOptions.ContextSeconds"/>.</summary>
    public static ApiOption ContextSeconds { get; } = new("StreamOptions.ContextSeconds");

    /// <summary><see cref="Streaming.StreamOptions.LookaheadFrames"/>.</summary>
    public static ApiOption LookaheadFrames { get; } = new("StreamOptions.LookaheadFrames");

    /// <summary><see cref="Corpus.CorpusRunOptions.Input"/>.</summary>
    public static ApiOption Input { get; } = new("CorpusRunOptions.Input");

    /// <summary><see cref="Corpus.CorpusRunOptions.Output"/>.</summary>
    public static ApiOption Output { get; } = new("CorpusRunOptions.Output");

    /// <summary><see cref="Corpus.CorpusRunOptions.Format"/>.</summary>
    public static ApiOption Format { get; } = new("CorpusRunOptions.Format");

    /// <summary><see cref="Corpus.CorpusRunOptions.Shard"/>.</summary>
    public static ApiOption Shard { get; } = new("CorpusRunOptions.Shard");

    /// <summary><see cref="Corpus.CorpusRunOptions.ManifestPath"/>.</summary>
    public static ApiOption ManifestPath { get; } = new("CorpusRunOptions.ManifestPath");

    /// <inheritdoc/>
    public override string ToString() => Name;
}
