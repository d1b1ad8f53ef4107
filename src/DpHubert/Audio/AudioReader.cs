using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;

namespace DpHubert.Audio;

/// <summary>An audio file format, as <see cref="AudioReader.Detect"/> recognises it.</summary>
public enum AudioFormat
{
    /// <summary>Not recognised.</summary>
    Unknown,

    /// <summary>RIFF/WAVE or RF64 (<see cref="WavReader"/>).</summary>
    Wav,

    /// <summary>Native FLAC (<see cref="FlacReader"/>).</summary>
    Flac,

    /// <summary>MPEG audio layer I/II/III (NLayer).</summary>
    Mp3,

    /// <summary>Vorbis in Ogg (NVorbis).</summary>
    OggVorbis,

    /// <summary>Opus in Ogg (ffmpeg).</summary>
    OggOpus,

    /// <summary>Another codec in Ogg: FLAC, Speex (ffmpeg).</summary>
    OggOther,

    /// <summary>MP4 / M4A (AAC, ALAC) (ffmpeg).</summary>
    Mp4,

    /// <summary>AAC in ADTS (ffmpeg).</summary>
    Aac,

    /// <summary>WebM / Matroska (Opus, Vorbis) (ffmpeg).</summary>
    Matroska,

    /// <summary>AIFF / AIFF-C (ffmpeg).</summary>
    Aiff,

    /// <summary>ASF / WMA (ffmpeg).</summary>
    Asf,

    /// <summary>Core Audio Format (ffmpeg).</summary>
    Caf,

    /// <summary>AMR narrow- or wide-band (ffmpeg).</summary>
    Amr,

    /// <summary>WavPack (ffmpeg).</summary>
    WavPack,
}

/// <summary>How <see cref="AudioReader"/> runs ffmpeg for the formats it has no managed decoder for.</summary>
public sealed record AudioReadOptions
{
    /// <summary>The defaults: ffmpeg from the PATH, a 10-minute limit per file.</summary>
    public static AudioReadOptions Default { get; } = new();

    /// <summary>The ffmpeg executable; null (default) finds <c>ffmpeg</c> on the PATH.</summary>
    public string? FfmpegPath { get; init; }

    /// <summary>The longest one ffmpeg decode may take before the process is stopped and the file fails.</summary>
    public TimeSpan DecoderTimeout { get; init; } = TimeSpan.FromMinutes(10);
}

/// <summary>An audio format needs a decoder that is not installed (ffmpeg); the message says what to install.</summary>
public sealed class AudioDecoderNotFoundException : AudioFormatException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What is missing and how to install it.</param>
    /// <param name="path">The file, or the name given for a stream.</param>
    /// <param name="formatName">The format that needs the decoder, e.g. "M4A/AAC".</param>
    /// <param name="innerException">The underlying error, if any.</param>
    public AudioDecoderNotFoundException(string message, string? path, string formatName, Exception? innerException = null)
        : base(message, path, innerException)
    {
        FormatName = formatName;
    }

    /// <summary>The format that needs the decoder, e.g. "M4A/AAC" or "Opus".</summary>
    public string FormatName { get; }
}

/// <summary>
/// Reads any supported audio file into an <see cref="AudioClip"/>: the format is recognised by its content (magic
/// bytes), and by the file's extension only where the content does not say (an MP3 that starts with junk).
/// </summary>
/// <remarks>
/// <para>Managed decoders, no native dependency: WAV (<see cref="WavReader"/>), FLAC (<see cref="FlacReader"/>, our
/// own, bit-exact), MP3 (NLayer; the LAME/Xing gapless header's encoder delay and padding removed; MPEG-2.5 at 8-12 kHz,
/// which NLayer decodes wrongly, through ffmpeg) and Ogg Vorbis
/// (NVorbis; trimmed by granule positions). Everything else ffmpeg decodes (M4A/AAC, Opus, WebM, AIFF, WMA, ...) goes
/// through an <c>ffmpeg</c> child process when one is on the PATH, otherwise it fails with an
/// <see cref="AudioDecoderNotFoundException"/> that names the format and what to install.</para>
/// <para>Every failure is an <see cref="AudioFormatException"/> naming the file: not audio, truncated, corrupt.</para>
/// </remarks>
public static class AudioReader
{
    private static readonly Dictionary<string, AudioFormat> ByExtension = new(StringComparer.OrdinalIgnoreCase)
    {
        [".wav"] = AudioFormat.Wav, [".wave"] = AudioFormat.Wav,
        [".flac"] = AudioFormat.Flac,
        [".mp3"] = AudioFormat.Mp3, [".mp2"] = AudioFormat.Mp3, [".mpga"] = AudioFormat.Mp3,
        [".ogg"] = AudioFormat.OggVorbis, [".oga"] = AudioFormat.OggVorbis,
        [".opus"] = AudioFormat.OggOpus,
        [".m4a"] = AudioFormat.Mp4, [".m4b"] = AudioFormat.Mp4, [".mp4"] = AudioFormat.Mp4,
        [".aac"] = AudioFormat.Aac,
        [".webm"] = AudioFormat.Matroska, [".weba"] = AudioFormat.Matroska, [".mka"] = AudioFormat.Matroska,
        [".aif"] = AudioFormat.Aiff, [".aiff"] = AudioFormat.Aiff, [".aifc"] = AudioFormat.Aiff,
        [".wma"] = AudioFormat.Asf,
        [".caf"] = AudioFormat.Caf,
        [".amr"] = AudioFormat.Amr,
        [".wv"] = AudioFormat.WavPack,
    };

    /// <summary>The file extensions (lower case, with the dot) that folder runs read: WAV, FLAC, MP3 and Ogg Vorbis
    /// always, the others when ffmpeg is installed.</summary>
    public static IReadOnlyCollection<string> Extensions { get; } = ByExtension.Keys.Order(StringComparer.Ordinal).ToArray();

    /// <summary>Whether <paramref name="path"/>'s extension is one of <see cref="Extensions"/>.</summary>
    /// <param name="path">A file name or path.</param>
    public static bool HasAudioExtension(string path) => ByExtension.ContainsKey(Path.GetExtension(path));

    /// <summary>Whether the format is decoded in-process (no ffmpeg needed).</summary>
    /// <param name="format">The format.</param>
    public static bool IsManaged(AudioFormat format) => format is AudioFormat.Wav or AudioFormat.Flac or AudioFormat.Mp3 or AudioFormat.OggVorbis;

    /// <summary>A short name for messages, e.g. "M4A/AAC".</summary>
    /// <param name="format">The format.</param>
    public static string DisplayName(AudioFormat format) => format switch
    {
        AudioFormat.Wav => "WAV",
        AudioFormat.Flac => "FLAC",
        AudioFormat.Mp3 => "MP3",
        AudioFormat.OggVorbis => "Ogg Vorbis",
        AudioFormat.OggOpus => "Opus",
        AudioFormat.OggOther => "Ogg",
        AudioFormat.Mp4 => "M4A/AAC",
        AudioFormat.Aac => "AAC",
        AudioFormat.Matroska => "WebM/Matroska",
        AudioFormat.Aiff => "AIFF",
        AudioFormat.Asf => "WMA",
        AudioFormat.Caf => "CAF",
        AudioFormat.Amr => "AMR",
        AudioFormat.WavPack => "WavPack",
        _ => "audio",
    };

    /// <summary>Recognises a format from a file's first bytes (64 are plenty; an ID3v2 tag is skipped when it is
    /// within <paramref name="head"/>), falling back to <paramref name="fileName"/>'s extension where the bytes do not
    /// say.</summary>
    /// <param name="head">The start of the file.</param>
    /// <param name="fileName">The file name, or null.</param>
    public static AudioFormat Detect(ReadOnlySpan<byte> head, string? fileName = null)
    {
        var byContent = DetectContent(head);
        if (byContent != AudioFormat.Unknown) return byContent;
        return fileName is not null && ByExtension.TryGetValue(Path.GetExtension(fileName), out var f) ? f : AudioFormat.Unknown;
    }

    private static AudioFormat DetectContent(ReadOnlySpan<byte> head)
    {
        if (head.Length >= 12 && (head.StartsWith("RIFF"u8) || head.StartsWith("RF64"u8) || head.StartsWith("RIFX"u8)) && head[8..].StartsWith("WAVE"u8))
            return AudioFormat.Wav;
        if (head.StartsWith("fLaC"u8)) return AudioFormat.Flac;
        if (head.StartsWith("OggS"u8))
        {
            // The first page's first packet names the codec: 27-byte header, segment table, then the packet.
            if (head.Length < 28) return AudioFormat.OggOther;
            int start = 27 + head[26];
            if (head.Length <= start) return AudioFormat.OggOther;
            var packet = head[start..];
            if (packet.StartsWith("\u0001vorbis"u8)) return AudioFormat.OggVorbis;
            if (packet.StartsWith("OpusHead"u8)) return AudioFormat.OggOpus;
            return AudioFormat.OggOther;
        }
        if (head.Length >= 12 && head[4..].StartsWith("ftyp"u8)) return AudioFormat.Mp4;
        if (head.StartsWith(new byte[] { 0x1A, 0x45, 0xDF, 0xA3 })) return AudioFormat.Matroska;
        if (head.Length >= 12 && head.StartsWith("FORM"u8) && (head[8..].StartsWith("AIFF"u8) || head[8..].StartsWith("AIFC"u8))) return AudioFormat.Aiff;
        if (head.StartsWith(new byte[] { 0x30, 0x26, 0xB2, 0x75, 0x8E, 0x66, 0xCF, 0x11 })) return AudioFormat.Asf;
        if (head.StartsWith("caff"u8)) return AudioFormat.Caf;
        if (head.StartsWith("#!AMR"u8)) return AudioFormat.Amr;
        if (head.StartsWith("wvpk"u8)) return AudioFormat.WavPack;
        int at = SkipId3v2(head);
        if (at > 0)
        {
            if (at >= head.Length) return AudioFormat.Mp3; // a tag longer than what we were shown: MP3 is the common case
            var rest = head[at..];
            if (rest.StartsWith("fLaC"u8)) return AudioFormat.Flac;
            return IsAdts(rest) ? AudioFormat.Aac : AudioFormat.Mp3;
        }
        if (IsAdts(head)) return AudioFormat.Aac;
        if (Mp3Reader.ParseHeader(head, 0) is not null) return AudioFormat.Mp3;
        return AudioFormat.Unknown;
    }

    private static bool IsAdts(ReadOnlySpan<byte> b) => b.Length >= 2 && b[0] == 0xFF && (b[1] & 0xF6) == 0xF0;

    /// <summary>The offset after any ID3v2 tags at the start (0 when there is none).</summary>
    internal static int SkipId3v2(ReadOnlySpan<byte> data)
    {
        int at = 0;
        while (data.Length - at >= 10 && data[at..].StartsWith("ID3"u8))
        {
            int size = (data[at + 6] & 0x7F) << 21 | (data[at + 7] & 0x7F) << 14 | (data[at + 8] & 0x7F) << 7 | (data[at + 9] & 0x7F);
            bool footer = (data[at + 5] & 0x10) != 0;
            long next = (long)at + 10 + size + (footer ? 10 : 0);
            at = (int)Math.Min(next, int.MaxValue);
        }
        return at;
    }

    /// <summary>Reads an audio file of any supported format.</summary>
    /// <param name="path">The file.</param>
    /// <param name="options">ffmpeg's location and time limit (defaults: the PATH, 10 minutes).</param>
    /// <returns>The decoded audio, interleaved.</returns>
    /// <exception cref="AudioFormatException">Not audio, truncated, corrupt, or (<see cref="AudioDecoderNotFoundException"/>)
    /// a format that needs ffmpeg when it is not installed.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public static AudioClip Read(string path, AudioReadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        options ??= AudioReadOptions.Default;
        AudioFormat format;
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan))
        {
            // A named pipe or /dev/stdin can be read once only: the stream path keeps the bytes the detection reads.
            if (!stream.CanSeek) return Read(stream, path, options);
            var head = new byte[64];
            int got = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
            format = Detect(head.AsSpan(0, got), path);
            if (format == AudioFormat.Unknown) throw Unrecognised(head.AsSpan(0, got), path);
            stream.Position = 0;
            if (format == AudioFormat.Wav) return WavReader.Read(stream, path);
            if (IsManaged(format) || format is AudioFormat.OggOpus or AudioFormat.OggOther)
                return Decode(format, AudioBytes.ReadStream(stream, path, DisplayName(format)), path, options);
        }
        return FfmpegAudioReader.Decode(path, null, path, DisplayName(format), options);
    }

    /// <summary>Reads audio of any supported format from a stream (need not be seekable), from its current position
    /// to its end.</summary>
    /// <param name="stream">The stream; it is left open.</param>
    /// <param name="name">A name for error messages (its extension helps where the content does not say).</param>
    /// <param name="options">ffmpeg's location and time limit.</param>
    /// <returns>The decoded audio, interleaved.</returns>
    /// <exception cref="AudioFormatException">Not audio, truncated, corrupt, or a format that needs ffmpeg when it is
    /// not installed.</exception>
    public static AudioClip Read(Stream stream, string? name = null, AudioReadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        options ??= AudioReadOptions.Default;
        var head = new byte[64];
        int got = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        var format = Detect(head.AsSpan(0, got), name);
        if (format == AudioFormat.Unknown) throw Unrecognised(head.AsSpan(0, got), name);
        var whole = new PrefixedStream(head.AsMemory(0, got), stream);
        if (format == AudioFormat.Wav) return WavReader.Read(whole, name);
        return Decode(format, AudioBytes.ReadStream(whole, name, DisplayName(format)), name, options);
    }

    private static AudioClip Decode(AudioFormat format, AudioBytes bytes, string? name, AudioReadOptions options)
    {
        switch (format)
        {
            case AudioFormat.Flac:
                return FlacReader.Decode(bytes, name);
            case AudioFormat.Mp3:
                return Mp3Reader.IsMpeg25(bytes)
                    ? FfmpegAudioReader.Decode(null, bytes, name, "MP3 (MPEG-2.5, 8-12 kHz)", options)
                    : Mp3Reader.Decode(bytes, name);
            case AudioFormat.OggVorbis:
                return OggVorbisReader.Decode(bytes, name);
            case AudioFormat.OggOpus or AudioFormat.OggOther:
                // ffmpeg does not report an Ogg file cut short; the page walk does.
                var info = OggPages.Scan(bytes.Span, $"{DisplayName(format)} {(name is null ? "stream" : $"'{name}'")}", name);
                if (info.Codec == "Vorbis") return OggVorbisReader.Decode(bytes, name);
                return FfmpegAudioReader.Decode(null, bytes, name, info.Codec == "unknown" ? "Ogg" : info.Codec == "FLAC" ? "Ogg FLAC" : info.Codec, options);
            default:
                return FfmpegAudioReader.Decode(null, bytes, name, DisplayName(format), options);
        }
    }

    private static AudioFormatException Unrecognised(ReadOnlySpan<byte> head, string? name)
    {
        string start = head.Length == 0 ? "it is empty"
            : $"it starts with {string.Join(" ", head[..Math.Min(8, head.Length)].ToArray().Select(b => b.ToString("x2")))}";
        return new AudioFormatException(
            $"Cannot read {(name is null ? "audio stream" : $"'{name}'")}: not a recognised audio format ({start}); " +
            "read are WAV, FLAC, MP3 and Ogg Vorbis, and with ffmpeg installed M4A/AAC, Opus, WebM, AIFF, WMA and more", name);
    }

    /// <summary>The bytes already read for detection, then the rest of the stream.</summary>
    private sealed class PrefixedStream(ReadOnlyMemory<byte> prefix, Stream rest) : Stream
    {
        private int used;

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (used < prefix.Length)
            {
                int n = Math.Min(buffer.Length, prefix.Length - used);
                prefix.Span.Slice(used, n).CopyTo(buffer);
                used += n;
                return n;
            }
            return rest.Read(buffer);
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
