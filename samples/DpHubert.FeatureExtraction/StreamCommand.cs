using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Threading;
using DpHubert.Audio;
using DpHubert.Extraction;
using DpHubert.IO;
using DpHubert.Streaming;

namespace DpHubert.FeatureExtraction;

/// <summary>
/// <c>dphubert stream --checkpoint F --input X.wav|- --output F.npy [--block 0.25] [--context 2.5] [--lookahead N]
/// [--realtime]</c>: feeds a WAV, or raw PCM from standard input, block by block through a <see cref="SpeechStream"/>,
/// writes every frame to one .npy and prints per-block compute and latency statistics.
/// </summary>
internal static class StreamCommand
{
    public static Command Create()
    {
        var encoderOptions = new EncoderCommandOptions("No statistics; errors still go to stderr.");
        var input = new Option<string>("--input") { Description = "Input WAV file, or - for raw PCM on standard input (with --raw-rate).", Required = true };
        var output = new Option<string>("--output") { Description = "Output .npy file: every frame of the stream, (frames, dim) or (layers + 1, frames, dim).", Required = true };
        var block = new Option<double>("--block") { Description = "Seconds of audio per block.", DefaultValueFactory = _ => 0.25 };
        var context = new Option<double>("--context") { Description = "Seconds of past audio the model sees before each block.", DefaultValueFactory = _ => 2.5 };
        var lookahead = new Option<int>("--lookahead") { Description = "Frames (20 ms each) of audio after a frame that must arrive before it is final.", DefaultValueFactory = _ => 0 };
        var realtime = new Option<bool>("--realtime") { Description = "Pace the input at wall-clock speed (as a microphone delivers it) and report blocks whose compute missed the next block's arrival." };
        var rawRate = new Option<int?>("--raw-rate") { Description = "Sample rate of raw PCM on standard input (--input -)." };
        var rawFormat = new Option<string>("--raw-format") { Description = "Raw PCM sample format: s16le (16-bit signed little-endian) or f32le (float32 little-endian).", DefaultValueFactory = _ => "s16le" };
        var rawChannels = new Option<int>("--raw-channels") { Description = "Interleaved channels of raw PCM (mixed to mono by their mean).", DefaultValueFactory = _ => 1 };
        var command = new Command("stream", "Stream a WAV file or raw PCM from standard input block by block, as a live voice changer would, into one float32 .npy; prints per-block latency.")
        {
            encoderOptions.Source.Checkpoint, encoderOptions.Source.Model, input, output, block, context, lookahead, realtime, rawRate, rawFormat,
            rawChannels, encoderOptions.Layer, encoderOptions.Device, encoderOptions.DType, encoderOptions.Threads, encoderOptions.Quiet,
            encoderOptions.Verbose, encoderOptions.Hints.Arch, encoderOptions.Hints.Config, encoderOptions.Projection, encoderOptions.Units,
        };
        command.SetAction(parse =>
        {
            var (named, selection) = encoderOptions.ParseSelection(parse);
            var options = new StreamOptions
            {
                BlockSeconds = parse.GetValue(block),
                ContextSeconds = parse.GetValue(context),
                LookaheadFrames = parse.GetValue(lookahead),
                Layers = selection,
            };
            options.Validate();
            string inputPath = parse.GetValue(input)!;
            string outputPath = parse.GetValue(output)!;
            bool stdin = inputPath == "-";
            var raw = stdin ? RawFormat.Parse(parse.GetValue(rawRate), parse.GetValue(rawFormat)!, parse.GetValue(rawChannels)) : null;
            if (!stdin && parse.GetValue(rawRate) is not null)
                throw new ArgumentException("--raw-rate is for raw PCM on standard input (--input -); a WAV file carries its own rate.");
            if (!stdin && !File.Exists(inputPath))
                throw new FileNotFoundException($"--input '{inputPath}' does not exist.", inputPath);
            if (Directory.Exists(outputPath))
                throw new ArgumentException($"--output '{outputPath}' is a folder; give the .npy file to write.");

            var (loaded, units) = encoderOptions.Load(parse, named);
            using var encoder = loaded;
            if (units is not null) options = options with { Layers = units.Layers };
            using var stream = encoder.OpenStream(options);
            return Run(stream, encoder.MinimumSamples, stdin ? null : inputPath, raw, outputPath, parse.GetValue(realtime), parse.GetValue(encoderOptions.Quiet));
        });
        return command;
    }

    /// <summary>Raw PCM on standard input: rate, sample format and channel count.</summary>
    private sealed record RawFormat(int Rate, bool Float32, int Channels)
    {
        public int BytesPerFrame => (Float32 ? 4 : 2) * Channels;

        public static RawFormat Parse(int? rate, string format, int channels)
        {
            if (rate is not { } r)
                throw new ArgumentException("--input - reads raw PCM from standard input: give its rate with --raw-rate (and --raw-format s16le|f32le).");
            if (r is < AudioPreprocessor.MinSampleRate or > AudioPreprocessor.MaxSampleRate)
                throw new ArgumentException($"--raw-rate {r} is outside the supported {AudioPreprocessor.MinSampleRate}..{AudioPreprocessor.MaxSampleRate} Hz.");
            if (channels is < 1 or > 64)
                throw new ArgumentException($"--raw-channels must be from 1 to 64; got {channels}.");
            return format switch
            {
                "s16le" => new RawFormat(r, false, channels),
                "f32le" => new RawFormat(r, true, channels),
                _ => throw new ArgumentException($"--raw-format must be s16le or f32le; got '{format}'."),
            };
        }
    }

    /// <summary>The input, one block of mono samples at a time.</summary>
    private interface IBlockSource
    {
        int Rate { get; }
        string Name { get; }

        /// <summary>Fills up to <paramref name="frames"/> mono samples; returns how many (0 at the end).</summary>
        int Read(float[] block, int frames);
    }

    /// <summary>A WAV file read block by block as the stream asks for it (memory independent of its length); other
    /// formats (FLAC, MP3, Ogg Vorbis, and more with ffmpeg) are decoded whole first, then fed block by block.</summary>
    private sealed class FileSource : IBlockSource, IDisposable
    {
        private readonly string path;
        private readonly WavStreamReader? wav;
        private readonly float[]? mono;
        private float[] interleaved = Array.Empty<float>();
        private int at;

        public FileSource(string path)
        {
            this.path = path;
            var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 16, FileOptions.SequentialScan);
            try
            {
                // A pipe or a file still being written (not seekable) is taken as WAV and read as it arrives.
                if (!file.CanSeek || IsWav(file))
                {
                    wav = WavReader.Open(file, path);
                    Rate = wav.SampleRate;
                    return;
                }
            }
            catch
            {
                file.Dispose();
                throw;
            }
            file.Dispose();
            var clip = AudioReader.Read(path);
            Rate = clip.SampleRate;
            mono = AudioPreprocessor.ToMono(clip);
        }

        public int Rate { get; }
        public string Name => path;

        public int Read(float[] block, int frames)
        {
            if (mono is not null)
            {
                int n = Math.Min(frames, mono.Length - at);
                mono.AsSpan(at, n).CopyTo(block);
                at += n;
                return n;
            }
            int channels = wav!.Channels;
            if (channels == 1) return wav.Read(block, frames);
            if (interleaved.Length < frames * channels) interleaved = new float[frames * channels];
            int got = wav.Read(interleaved, frames);
            for (int f = 0, i = 0; f < got; f++)
            {
                float sum = 0f; // the channels' mean, in AudioPreprocessor.ToMono's order
                for (int c = 0; c < channels; c++) sum += interleaved[i++];
                block[f] = sum / channels;
            }
            return got;
        }

        public void Dispose() => wav?.Dispose();

        private static bool IsWav(FileStream file)
        {
            Span<byte> magic = stackalloc byte[4];
            int n = file.ReadAtLeast(magic, 4, throwOnEndOfStream: false);
            file.Position = 0;
            return n == 4 && (magic.SequenceEqual("RIFF"u8) || magic.SequenceEqual("RF64"u8));
        }
    }

    private sealed class RawSource(Stream stdin, RawFormat format) : IBlockSource
    {
        private byte[] bytes = Array.Empty<byte>();
        private int pending; // bytes of an incomplete sample frame carried to the next read

        public int Rate => format.Rate;
        public string Name => "standard input";

        public int Read(float[] block, int frames)
        {
            int need = frames * format.BytesPerFrame;
            if (bytes.Length < need) Array.Resize(ref bytes, need);
            int have = pending;
            while (have < need)
            {
                int n = stdin.Read(bytes, have, need - have);
                if (n == 0) break;
                have += n;
            }
            int whole = have / format.BytesPerFrame;
            int channels = format.Channels;
            for (int f = 0; f < whole; f++)
            {
                float sum = 0;
                for (int c = 0; c < channels; c++)
                {
                    int o = (f * channels + c) * (format.Float32 ? 4 : 2);
                    sum += format.Float32 ? BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(o))
                        : BinaryPrimitives.ReadInt16LittleEndian(bytes.AsSpan(o)) / 32768f;
                }
                block[f] = sum / channels;
            }
            pending = have - whole * format.BytesPerFrame;
            if (pending > 0 && whole == 0)
                throw new InvalidDataException($"standard input ended inside a sample frame ({pending} byte(s) left over; {format.BytesPerFrame} bytes per frame).");
            Array.Copy(bytes, whole * format.BytesPerFrame, bytes, 0, pending);
            return whole;
        }
    }

    private static int Run(SpeechStream stream, int minimumSamples, string? path, RawFormat? raw, string outputPath, bool realtime, bool quiet)
    {
        IBlockSource source;
        try
        {
            source = path is null ? new RawSource(Console.OpenStandardInput(), raw!) : new FileSource(path);
        }
        catch (Exception e) when (e is AudioFormatException or InvalidDataException or IOException)
        {
            Console.Error.WriteLine($"error: {Cli.Describe(e)}");
            return Cli.SomeInputsFailed;
        }
        using var owned = source as IDisposable;
        var options = stream.Options;
        int blockIn = Math.Max(1, (int)Math.Round(options.BlockSeconds * source.Rate));
        var buffer = new float[blockIn];
        var chunks = new List<StreamFrames>();
        var compute = new List<double>(); // ms per block
        int misses = 0;
        long inputSamples = 0;

        // Warm up on one full window first: libtorch's first pass (and kernel choice) would otherwise be the first block's latency.
        stream.WarmUp();

        using var cancel = new CancellationTokenSource();
        bool reading = false;
        void OnSignal(PosixSignalContext context)
        {
            // Blocked reading standard input, the loop cannot see a cancellation: let the signal end the process (nothing written).
            if (cancel.IsCancellationRequested || Volatile.Read(ref reading)) return;
            context.Cancel = true;
            cancel.Cancel();
        }
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        var wall = Stopwatch.StartNew();
        var clock = new Stopwatch();
        try
        {
            while (true)
            {
                if (cancel.IsCancellationRequested) throw new OperationCanceledException();
                Volatile.Write(ref reading, true);
                int n = source.Read(buffer, blockIn);
                Volatile.Write(ref reading, false);
                if (n == 0) break;
                inputSamples += n;
                if (realtime)
                {
                    // A microphone delivers this block once its last sample has been spoken.
                    var due = TimeSpan.FromSeconds((double)inputSamples / source.Rate);
                    var wait = due - wall.Elapsed;
                    if (wait > TimeSpan.Zero) cancel.Token.WaitHandle.WaitOne(wait);
                }
                clock.Restart();
                var frames = stream.Push(buffer.AsSpan(0, n), source.Rate);
                double ms = clock.Elapsed.TotalMilliseconds;
                if (frames.Count > 0)
                {
                    chunks.Add(frames);
                    compute.Add(ms);
                    if (ms > options.BlockSeconds * 1000) misses++; // the next block arrived before this one was done
                }
            }
            clock.Restart();
            var rest = stream.Flush();
            if (rest.Count > 0)
            {
                chunks.Add(rest);
                compute.Add(clock.Elapsed.TotalMilliseconds);
            }
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("cancelled: nothing written.");
            return Cli.Cancelled;
        }
        catch (Exception e) when (e is ArgumentException or InvalidDataException or IOException or AudioFormatException)
        {
            Console.Error.WriteLine($"error: {source.Name}: {Cli.Describe(e)}");
            return Cli.SomeInputsFailed;
        }

        long total = chunks.Sum(c => (long)c.Count);
        if (total == 0)
        {
            Console.Error.WriteLine($"error: {source.Name}: audio too short: {inputSamples} samples at {source.Rate} Hz give no frame (one frame needs {minimumSamples} samples at 16 kHz).");
            return Cli.SomeInputsFailed;
        }
        var shape = chunks[0].Features.Shape;
        long dim = shape[^1], lead = shape.Length == 3 ? shape[0] : 1;
        var data = new float[lead * total * dim];
        long at = 0;
        foreach (var c in chunks)
        {
            for (long l = 0; l < lead; l++)
                c.Features.Data.AsSpan((int)(l * c.Count * dim), (int)(c.Count * dim)).CopyTo(data.AsSpan((int)((l * total + at) * dim)));
            at += c.Count;
        }
        var outShape = lead > 1 ? new[] { lead, total, dim } : new[] { total, dim };
        var dir = Path.GetDirectoryName(Path.GetFullPath(outputPath));
        if (dir is not null) Directory.CreateDirectory(dir);
        Npy.WriteFloat32(outputPath, data, outShape);

        if (!quiet)
        {
            double audio = (double)inputSamples / source.Rate;
            var sorted = compute.Order().ToArray();
            double median = Percentile(sorted, 0.5), p99 = Percentile(sorted, 0.99);
            double fixedMs = (options.BlockSeconds + options.LookaheadFrames * 0.02) * 1000;
            var ci = CultureInfo.InvariantCulture;
            Console.WriteLine($"{source.Name} -> {outputPath} [{string.Join(", ", outShape)}]");
            Console.WriteLine(string.Create(ci,
                $"{compute.Count} blocks of {options.BlockSeconds:0.###} s, context {options.ContextSeconds:0.###} s, lookahead {options.LookaheadFrames} frames: compute per block median {median:0.0} ms, p99 {p99:0.0} ms, max {sorted[^1]:0.0} ms"));
            Console.WriteLine(string.Create(ci,
                $"latency (block + lookahead + compute): median {fixedMs + median:0.0} ms, p99 {fixedMs + p99:0.0} ms; real-time factor {compute.Sum() / 1000 / Math.Max(audio, 1e-9):0.000} ({audio:0.0} s of audio)"));
            if (realtime)
                Console.WriteLine($"deadline misses: {misses} of {compute.Count} blocks took longer than the block ({options.BlockSeconds * 1000:0} ms)");
        }
        return Cli.Ok;
    }

    private static double Percentile(double[] sorted, double q) =>
        sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];
}
