using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;
using DpHubert.Audio;
using DpHubert.IO;

namespace DpHubert.Extraction;

/// <summary>Where an asynchronous extraction run is: reported after each file.</summary>
/// <param name="Done">Files finished (written or failed).</param>
/// <param name="Total">Files in the run.</param>
/// <param name="Failed">Files that failed, among <paramref name="Done"/>.</param>
/// <param name="Path">The file just finished.</param>
/// <param name="AudioSeconds">Seconds of audio extracted so far (the files' 16 kHz lengths, without padding).</param>
public sealed record ExtractionProgress(int Done, int Total, int Failed, string Path, double AudioSeconds);

public sealed partial class SpeechEncoder
{
    /// <summary>
    /// Extracts every audio file below <paramref name="folder"/> (recursively, each extension <see cref="AudioReader"/>
    /// reads, in ordinal path order; links to folders followed, each real folder once) without blocking the caller:
    /// the work runs on a thread-pool thread, one result is buffered ahead, and results stream in path order. A file
    /// that fails yields a result with <see cref="FileFeatures.Error"/> set and the run goes on; an entry that is not a
    /// regular file (a FIFO, socket or device) fails without being opened.
    /// </summary>
    /// <param name="folder">The folder.</param>
    /// <param name="layers">Which output.</param>
    /// <param name="options">Batching and chunking.</param>
    /// <param name="progress">Told after each file (on the thread-pool thread: marshal to a UI yourself, or use
    /// <see cref="Progress{T}"/>, which does).</param>
    /// <param name="cancellationToken">Stops the run between files and forward passes; the enumeration then throws
    /// <see cref="OperationCanceledException"/> (results already yielded stay valid).</param>
    /// <exception cref="DirectoryNotFoundException">No such folder.</exception>
    /// <example>
    /// <code>
    /// await foreach (var f in encoder.ExtractFolderAsync("corpus", progress: new Progress&lt;ExtractionProgress&gt;(p =&gt;
    ///     Console.WriteLine($"{p.Done}/{p.Total}")), cancellationToken: token))
    ///     if (f.Succeeded) Npy.WriteFloat32(Path.ChangeExtension(f.Path, ".npy"), f.Features!.Data, f.Features.Shape);
    /// </code>
    /// </example>
    public IAsyncEnumerable<FileFeatures> ExtractFolderAsync(string folder, LayerSelection layers = default, ExtractionOptions? options = null,
        IProgress<ExtractionProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(folder);
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"The folder '{folder}' does not exist.");
        return ExtractFilesAsync(AudioFiles.Find(Path.GetFullPath(folder)), layers, options, progress, cancellationToken);
    }

    /// <summary>The asynchronous form of <see cref="ExtractFiles"/>, with progress; see
    /// <see cref="ExtractFolderAsync"/>.</summary>
    /// <param name="paths">Audio files.</param>
    /// <param name="layers">Which output.</param>
    /// <param name="options">Batching and chunking.</param>
    /// <param name="progress">Told after each file.</param>
    /// <param name="cancellationToken">Stops the run between files and forward passes.</param>
    public IAsyncEnumerable<FileFeatures> ExtractFilesAsync(IEnumerable<string> paths, LayerSelection layers = default, ExtractionOptions? options = null,
        IProgress<ExtractionProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var list = paths.ToList();
        options ??= new ExtractionOptions();
        options.Validate();
        CheckLayer(layers);
        return Produce(list, layers, options, progress, cancellationToken);
    }

    private async IAsyncEnumerable<FileFeatures> Produce(List<string> paths, LayerSelection layers, ExtractionOptions options,
        IProgress<ExtractionProgress>? progress, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var results = Channel.CreateBounded<FileFeatures>(new BoundedChannelOptions(1) { SingleReader = true, SingleWriter = true });
        var producer = Task.Run(async () =>
        {
            try
            {
                int done = 0, failed = 0;
                long samples = 0;
                // A FIFO named like audio would block the run when opened: such entries fail without being opened.
                var regular = paths.Where(AudioFiles.IsRegularOrUnknown).ToHashSet(StringComparer.Ordinal);
                var readable = paths.Where(regular.Contains);
                using var files = ExtractFilesCore(readable, layers, options, stop.Token).GetEnumerator();
                foreach (var path in paths)
                {
                    FileFeatures r;
                    if (!regular.Contains(path))
                    {
                        r = new FileFeatures(path, null, AudioFiles.NotRegularFile(path), 0);
                    }
                    else
                    {
                        if (!files.MoveNext()) break;
                        r = files.Current;
                    }
                    done++;
                    if (!r.Succeeded) failed++;
                    else samples += r.Samples16k;
                    progress?.Report(new ExtractionProgress(done, paths.Count, failed, r.Path, samples / (double)AudioPreprocessor.TargetSampleRate));
                    await results.Writer.WriteAsync(r, stop.Token).ConfigureAwait(false);
                }
                results.Writer.Complete();
            }
            catch (Exception e)
            {
                results.Writer.Complete(e);
            }
        }, CancellationToken.None);
        try
        {
            await foreach (var r in results.Reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
                yield return r;
        }
        finally
        {
            // The consumer stopped early (break, dispose) or the run ended: stop the producer and wait for it, so no
            // forward pass is still running when this returns.
            stop.Cancel();
            try { await producer.ConfigureAwait(false); } catch (OperationCanceledException) { }
        }
        cancellationToken.ThrowIfCancellationRequested();
    }
}
