namespace DpHubert.Corpus;

/// <summary>Where a <see cref="CorpusExtractor"/> run is: reported after each input.</summary>
/// <param name="File">The input just finished.</param>
/// <param name="Done">Inputs finished (written or failed), this one included.</param>
/// <param name="Total">Inputs of the run (<see cref="CorpusExtractor.Inputs"/>: skipped ones not included).</param>
/// <param name="Failed">Inputs that failed, among <paramref name="Done"/>.</param>
/// <param name="AudioSeconds">Seconds of audio written so far.</param>
public sealed record CorpusProgress(CorpusFileResult File, int Done, int Total, int Failed, double AudioSeconds);
