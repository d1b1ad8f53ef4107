using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace DpHubert.Audio;

/// <summary>
/// Containers and codecs without a managed decoder here (M4A/AAC, Opus, WebM/Matroska, AIFF, WMA, ...) decoded by an
/// <c>ffmpeg</c> child process to 32-bit float WAV on its standard output. The process is killed when it exceeds the
/// timeout; a failure, or any error ffmpeg reports while decoding (a truncated file), is an
/// <see cref="AudioFormatException"/> carrying ffmpeg's message.
/// </summary>
internal static class FfmpegAudioReader
{
    /// <summary>The ffmpeg executable: <paramref name="configured"/> when given, else the first on the PATH; null when
    /// there is none.</summary>
    internal static string? Locate(string? configured, string? pathVariable)
    {
        if (!string.IsNullOrEmpty(configured)) return File.Exists(configured) ? configured : null;
        if (string.IsNullOrEmpty(pathVariable)) return null;
        string[] names = OperatingSystem.IsWindows() ? new[] { "ffmpeg.exe" } : new[] { "ffmpeg" };
        foreach (var dir in pathVariable.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            foreach (var n in names)
            {
                string candidate = Path.Combine(dir, n);
                if (File.Exists(candidate)) return candidate;
            }
        }
        return null;
    }

    /// <summary>The error for a format that needs ffmpeg when there is none: it names the format and what to install.</summary>
    internal static AudioDecoderNotFoundException Missing(string formatName, string? name, string? configured) =>
        new($"Cannot read {formatName} {(name is null ? "stream" : $"'{name}'")}: {formatName} is decoded by ffmpeg, and " +
            (string.IsNullOrEmpty(configured) ? "no ffmpeg is on the PATH" : $"the configured ffmpeg '{configured}' does not exist") +
            ". Install it (Debian/Ubuntu: apt-get install ffmpeg; Fedora: dnf install ffmpeg; macOS: brew install ffmpeg; " +
            "Windows: winget install ffmpeg) or convert the file to WAV, FLAC, MP3 or Ogg Vorbis, which are read without it.",
            name, formatName);

    /// <summary>Decodes a file (<paramref name="path"/>) or in-memory bytes (<paramref name="bytes"/>, written to a
    /// temporary file first: from a pipe ffmpeg can neither find an MP4's index at the end of the file nor trim an MP3's
    /// padding).</summary>
    public static AudioClip Decode(string? path, AudioBytes? bytes, string? name, string formatName, AudioReadOptions options)
    {
        if (path is null && bytes is not null)
        {
            if (Locate(options.FfmpegPath, Environment.GetEnvironmentVariable("PATH")) is null) throw Missing(formatName, name, options.FfmpegPath);
            string temp = Path.Combine(Path.GetTempPath(), $"dphubert-{Guid.NewGuid():N}.audio");
            try
            {
                using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
                    file.Write(bytes.Buffer, 0, bytes.Length);
                return Decode(temp, null, name, formatName, options);
            }
            finally
            {
                File.Delete(temp);
            }
        }
        string display = name is null ? $"{formatName} stream" : $"{formatName} '{name}'";
        string exe = Locate(options.FfmpegPath, Environment.GetEnvironmentVariable("PATH"))
                     ?? throw Missing(formatName, name, options.FfmpegPath);
        var info = new ProcessStartInfo(exe)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            CreateNoWindow = true,
        };
        // "file:" keeps a name with a colon from being read as a protocol (ffmpeg would otherwise open URLs).
        foreach (var a in new[] { "-hide_banner", "-nostdin", "-v", "error", "-i", "file:" + Path.GetFullPath(path!),
                     "-map", "0:a:0", "-vn", "-sn", "-dn", "-f", "wav", "-acodec", "pcm_f32le", "pipe:1" })
        {
            info.ArgumentList.Add(a);
        }
        using var process = new Process { StartInfo = info };
        try
        {
            process.Start();
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            throw new AudioDecoderNotFoundException($"Cannot read {display}: ffmpeg ('{exe}') could not be started: {e.Message}", name, formatName, e);
        }
        var stderr = new StringBuilder();
        var errorTask = Task.Run(() =>
        {
            var buffer = new char[4096];
            int got;
            while ((got = process.StandardError.Read(buffer, 0, buffer.Length)) > 0)
            {
                lock (stderr)
                {
                    if (stderr.Length < 16384) stderr.Append(buffer, 0, got);
                }
            }
        });
        try { process.StandardInput.Close(); } catch (IOException) { }
        int timedOut = 0;
        using var timer = new Timer(_ =>
        {
            Interlocked.Exchange(ref timedOut, 1);
            try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        }, null, options.DecoderTimeout, Timeout.InfiniteTimeSpan);

        AudioClip? clip = null;
        AudioFormatException? parseError = null;
        try
        {
            clip = WavReader.Read(process.StandardOutput.BaseStream, name);
        }
        catch (AudioFormatException e)
        {
            parseError = e;
        }
        finally
        {
            // Drain what is left so ffmpeg never blocks on a full pipe, then wait for it.
            try { process.StandardOutput.BaseStream.CopyTo(Stream.Null); } catch (IOException) { }
            if (!process.WaitForExit((int)Math.Min(int.MaxValue, options.DecoderTimeout.TotalMilliseconds)))
            {
                Interlocked.Exchange(ref timedOut, 1);
                try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
                process.WaitForExit();
            }
            timer.Change(Timeout.Infinite, Timeout.Infinite);
            errorTask.Wait();
        }
        if (timedOut != 0)
            throw new AudioFormatException($"Cannot read {display}: ffmpeg did not finish within {options.DecoderTimeout.TotalSeconds:0.#} s and was stopped", name);
        string message;
        lock (stderr) message = stderr.ToString().Trim();
        if (process.ExitCode != 0 || message.Length > 0)
        {
            string said = message.Length == 0 ? $"exit status {process.ExitCode}"
                : string.Join("; ", message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).TakeLast(3));
            throw new AudioFormatException($"Cannot read {display}: ffmpeg could not decode it ({said})", name, parseError);
        }
        if (parseError is not null)
            throw new AudioFormatException($"Cannot read {display}: ffmpeg's output could not be read ({parseError.Message})", name, parseError);
        if (clip!.Frames == 0) throw new AudioFormatException($"Cannot read {display}: ffmpeg decoded no audio", name);
        return clip;
    }
}
