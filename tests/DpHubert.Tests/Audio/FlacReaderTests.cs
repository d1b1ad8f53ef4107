using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using DpHubert.Audio;
using FluentAssertions;
using Xunit;
using Xunit.Abstractions;

namespace DpHubert.Tests.Audio;

/// <summary>Our FLAC decoder against the reference (<c>flac</c> 1.4 from Debian): every sample bit-exact over bit
/// depths, channel counts, block sizes, subframe types, residual codings and stereo modes; corrupt and truncated files
/// refused by name.</summary>
public sealed class FlacReaderTests(ITestOutputHelper output)
{
    /// <summary>(bits, channels, flac options): each row one file; together they cover every block size code, every
    /// subframe type, Rice and Rice2 partitions, wasted bits and the four channel assignments (checked below).</summary>
    public static IEnumerable<object[]> Matrix()
    {
        int[] bits = { 8, 16, 24 };
        string[][] options =
        {
            new[] { "-0", "--blocksize=192" },                    // code 1, fixed predictors only
            new[] { "-5", "--blocksize=576" },                    // code 2, mid/side search
            new[] { "-8", "--blocksize=1152" },                   // code 3, LPC
            new[] { "-3", "--blocksize=2304" },                   // code 4
            new[] { "-5", "--blocksize=4608" },                   // code 5
            new[] { "-8", "--lax", "-l", "32", "--blocksize=100" }, // code 6 (8-bit size), LPC order 32
            new[] { "-5", "--lax", "--blocksize=1000" },          // code 7 (16-bit size)
            new[] { "-1", "--blocksize=256" },                    // code 8, adaptive mid/side
            new[] { "-8", "--blocksize=512", "-r", "8" },         // code 9, deep partitions
            new[] { "-4", "--blocksize=1024" },                   // code 10
            new[] { "-5", "--blocksize=2048" },                   // code 11
            new[] { "-8", "--blocksize=4096" },                   // code 12
            new[] { "-5", "--lax", "--blocksize=8192" },          // code 13
            new[] { "-5", "--lax", "--blocksize=16384" },         // code 14
            new[] { "-5", "--lax", "--blocksize=32768" },         // code 15
            new[] { "-5", "--lax", "--blocksize=65535" },         // the largest block
            new[] { "-5", "--blocksize=16" },                     // the smallest block
        };
        int row = 0;
        foreach (int b in bits)
        {
            for (int channels = 1; channels <= 8; channels++)
            {
                var o = options[row % options.Length];
                yield return new object[] { b, channels, string.Join(" ", o) };
                row++;
            }
        }
        // Every block size with stereo at 16 bits, so each appears with inter-channel decorrelation too.
        foreach (var o in options) yield return new object[] { 16, 2, string.Join(" ", o) };
    }

    /// <summary>Encodes one row with flac, decodes it with flac -d and with ours; returns the coding features met.</summary>
    private HashSet<string> CheckRow(int bits, int channels, string flacOptions)
    {
        int rate = 16000;
        // Long enough for at least one whole block (a shorter last block is coded with an explicit size).
        int block = int.Parse(flacOptions.Split(' ').First(o => o.StartsWith("--blocksize=", StringComparison.Ordinal))[12..]);
        int frames = Math.Max(9000, block + block / 2);
        var pcm = AudioTools.Pcm(frames, channels, bits, seed: bits * 10 + channels, rate);
        if (flacOptions.StartsWith("-4", StringComparison.Ordinal)) for (int i = 0; i < pcm.Length; i++) pcm[i] &= ~3; // wasted bits
        string dir = Path.GetDirectoryName(AudioTools.Temp("x"))!;
        string wav = Path.Combine(dir, "in.wav"), flac = Path.Combine(dir, "in.flac"), decoded = Path.Combine(dir, "ref.wav");
        AudioTools.WriteWav(wav, pcm, channels, bits, rate);
        // A plain PCM WAV has no channel mask; flac then needs to be told not to assign speakers to 3+ channels.
        AudioTools.Run("flac", new[] { "-s", "-f", "--channel-map=none", "-o", flac }.Concat(flacOptions.Split(' ')).Append(wav).ToArray());
        AudioTools.Run("flac", "-s", "-d", "-f", "--channel-map=none", "-o", decoded, flac);

        var features = new HashSet<string>();
        var ours = FlacReader.Decode(AudioBytes.ReadFile(flac), flac, features);
        var reference = WavReader.Read(decoded);
        string row = $"{bits}-bit x{channels} {flacOptions}";
        ours.SampleRate.Should().Be(rate, row);
        ours.Channels.Should().Be(channels, row);
        ours.Samples.Should().Equal(reference.Samples, $"every sample must equal flac -d's ({row})");
        WavReader.Read(wav).Samples.Should().Equal(ours.Samples, $"FLAC is lossless ({row})");
        FlacReader.Read(flac).Samples.Should().Equal(ours.Samples, $"the public path decodes alike ({row})");
        output.WriteLine($"{row}: {string.Join(", ", features.Order())}");
        return features;
    }

    [AudioToolsFact("flac")]
    public void Decodes_bit_exact_with_flac_d_over_the_matrix_and_covers_every_coding_feature()
    {
        var covered = new HashSet<string>();
        foreach (var row in Matrix()) covered.UnionWith(CheckRow((int)row[0], (int)row[1], (string)row[2]));
        var expected = new[]
        {
            "constant", "verbatim", "fixed-0", "fixed-1", "fixed-2", "fixed-3", "fixed-4", "lpc", "rice", "rice2", "wasted-bits",
            "independent", "left-side", "right-side", "mid-side",
        }.Concat(Enumerable.Range(1, 15).Select(c => $"block-size-code-{c}"));
        covered.Should().Contain(expected);
    }

    [AudioToolsFact("flac")]
    public void Escape_codes_rice2_and_variable_blocking_match_flac_d()
    {
        // libFLAC's encoder does not write escaped partitions or variable block sizes: a file written here does, and
        // the reference decoder must agree with ours on it.
        var pcm = AudioTools.Pcm(3000, 2, 24, seed: 7);
        var writer = new TestFlacWriter(2, 24, 44100);
        int at = 0, frame = 0;
        foreach (int size in new[] { 1000, 37, 1500, 463 })
        {
            var left = Enumerable.Range(at, size).Select(i => (long)pcm[2 * i]).ToArray();
            var right = Enumerable.Range(at, size).Select(i => (long)pcm[2 * i + 1]).ToArray();
            writer.Frame(at, left, right, frame++ % 2 == 0 ? TestFlacWriter.Coding.EscapedFixed2 : TestFlacWriter.Coding.Rice2Lpc);
            at += size;
        }
        string path = AudioTools.Temp("handmade.flac"), decoded = Path.ChangeExtension(path, ".wav");
        File.WriteAllBytes(path, writer.Finish());
        AudioTools.Run("flac", "-s", "-d", "-f", "-o", decoded, path);

        var features = new HashSet<string>();
        var ours = FlacReader.Decode(AudioBytes.ReadFile(path), path, features);
        ours.Samples.Should().Equal(WavReader.Read(decoded).Samples);
        ours.Samples.Should().Equal(pcm.Take(2 * at).Select(v => v / 8388608f));
        features.Should().Contain(new[] { "escape", "rice2", "variable-blocking", "lpc", "fixed-2" });
    }

    private static byte[] EncodedSample(out int[] pcm)
    {
        pcm = AudioTools.Pcm(8000, 2, 16, seed: 3);
        string wav = AudioTools.Temp("s.wav"), flac = Path.ChangeExtension(wav, ".flac");
        AudioTools.WriteWav(wav, pcm, 2, 16, 16000);
        AudioTools.Run("flac", "-s", "-f", "-5", "--blocksize=1024", "-o", flac, wav);
        return File.ReadAllBytes(flac);
    }

    [AudioToolsFact("flac")]
    public void An_md5_mismatch_is_refused_naming_the_file()
    {
        var bytes = EncodedSample(out _);
        // fLaC (4) + block header (4) + STREAMINFO's 18 bytes before the MD5.
        bytes[4 + 4 + 18] ^= 1;
        var e = FluentActions.Invoking(() => FlacReader.Read(new MemoryStream(bytes), "bad-md5.flac")).Should().Throw<AudioFormatException>().Which;
        e.Message.Should().Contain("bad-md5.flac").And.Contain("MD5 mismatch");
        e.Path.Should().Be("bad-md5.flac");
    }

    [AudioToolsFact("flac")]
    public void A_damaged_frame_fails_its_crc_and_a_cut_file_is_truncated()
    {
        var bytes = EncodedSample(out var pcm);
        FlacReader.Read(new MemoryStream(bytes), "ok.flac").Samples.Should().Equal(pcm.Select(v => v / 32768f));

        var damaged = (byte[])bytes.Clone();
        damaged[^200] ^= 0x40;
        FluentActions.Invoking(() => FlacReader.Read(new MemoryStream(damaged), "damaged.flac")).Should().Throw<AudioFormatException>()
            .Which.Message.Should().Contain("damaged.flac").And.Match(m => m.Contains("CRC") || m.Contains("corrupt"));

        foreach (int keep in new[] { 3, 20, 60, bytes.Length / 2, bytes.Length - 1 })
        {
            FluentActions.Invoking(() => FlacReader.Read(new MemoryStream(bytes[..keep]), "cut.flac")).Should().Throw<AudioFormatException>()
                .Which.Message.Should().Contain("cut.flac");
        }
    }

    [AudioToolsFact("flac")]
    public void A_file_without_md5_or_length_still_decodes()
    {
        var pcm = AudioTools.Pcm(5000, 1, 16, seed: 4);
        string wav = AudioTools.Temp("n.wav"), flac = Path.ChangeExtension(wav, ".flac");
        AudioTools.WriteWav(wav, pcm, 1, 16, 16000);
        AudioTools.Run("flac", "-s", "-f", "--no-md5-sum", "-o", flac, wav);
        var bytes = File.ReadAllBytes(flac);
        // Zero the total sample count as a streaming encoder leaves it (36 bits ending 16 bytes before the MD5's end).
        bytes[8 + 13] &= 0xF0;
        bytes[8 + 14] = bytes[8 + 15] = bytes[8 + 16] = bytes[8 + 17] = 0;
        FlacReader.Read(new MemoryStream(bytes), "n.flac").Samples.Should().Equal(pcm.Select(v => v / 32768f));
    }
}

/// <summary>A minimal FLAC encoder for the tests: codings libFLAC never writes (escaped partitions, variable block
/// sizes) so that the decoder's handling of them is checked against the reference decoder.</summary>
internal sealed class TestFlacWriter
{
    public enum Coding { EscapedFixed2, Rice2Lpc }

    private readonly List<byte> frames = new();
    private readonly int channels, bits, rate;
    private readonly IncrementalHash md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
    private long total;
    private int minBlock = int.MaxValue, maxBlock;

    public TestFlacWriter(int channels, int bits, int rate)
    {
        (this.channels, this.bits, this.rate) = (channels, bits, rate);
    }

    public void Frame(long firstSample, long[] left, long[] right, Coding coding)
    {
        int n = left.Length;
        var w = new BitWriter();
        w.Write(0x3FFE, 14);
        w.Write(0, 1);
        w.Write(1, 1); // variable blocking: the header carries the first sample's number
        w.Write(7, 4); // 16-bit block size follows
        w.Write(0, 4); // rate from STREAMINFO
        w.Write(channels == 2 ? 8u : 0u, 4); // left/side
        w.Write(0, 3);
        w.Write(0, 1);
        WriteUtf8(w, firstSample);
        w.Write((uint)(n - 1), 16);
        w.Write(Crc8(w.Bytes()), 8);
        var side = left.Zip(right, (l, r) => l - r).ToArray();
        Subframe(w, left, bits, coding);
        Subframe(w, side, bits + 1, coding);
        w.Align();
        w.Write((uint)Crc16(w.Bytes()), 16);
        frames.AddRange(w.Bytes());
        var pcm = new byte[n * channels * ((bits + 7) / 8)];
        int k = 0;
        for (int i = 0; i < n; i++)
        {
            foreach (long v in new[] { left[i], right[i] })
                for (int b = 0; b < (bits + 7) / 8; b++) pcm[k++] = (byte)(v >> (8 * b));
        }
        md5.AppendData(pcm);
        total += n;
        minBlock = Math.Min(minBlock, n);
        maxBlock = Math.Max(maxBlock, n);
    }

    private static void Subframe(BitWriter w, long[] x, int bits, Coding coding)
    {
        int n = x.Length;
        if (coding == Coding.EscapedFixed2)
        {
            w.Write(0, 1);
            w.Write(8 + 2, 6);
            w.Write(0, 1);
            w.WriteSigned(x[0], bits);
            w.WriteSigned(x[1], bits);
            var r = Enumerable.Range(2, n - 2).Select(i => x[i] - 2 * x[i - 1] + x[i - 2]).ToArray();
            // Rice (4-bit parameters), one partition, escaped to raw two's complement.
            w.Write(0, 2);
            w.Write(0, 4);
            w.Write(15, 4);
            int raw = r.Length == 0 ? 0 : r.Max(v => 64 - System.Numerics.BitOperations.LeadingZeroCount((ulong)(v < 0 ? ~v : v))) + 1;
            w.Write((uint)raw, 5);
            foreach (long v in r) w.WriteSigned(v, raw);
        }
        else
        {
            long[] coefs = { 3, -1 }; // predicts 1.5 x[i-1] - 0.5 x[i-2] with shift 1
            int shift = 1, precision = 4;
            w.Write(0, 1);
            w.Write(32 + coefs.Length - 1, 6);
            w.Write(0, 1);
            for (int i = 0; i < coefs.Length; i++) w.WriteSigned(x[i], bits);
            w.Write((uint)(precision - 1), 4);
            w.WriteSigned(shift, 5);
            foreach (var c in coefs) w.WriteSigned(c, precision);
            var r = Enumerable.Range(coefs.Length, n - coefs.Length).Select(i => x[i] - ((coefs[0] * x[i - 1] + coefs[1] * x[i - 2]) >> shift)).ToArray();
            // Rice2 (5-bit parameters), one partition, parameter 20 (above Rice's 14).
            w.Write(1, 2);
            w.Write(0, 4);
            const int k = 20;
            w.Write(k, 5);
            foreach (long v in r)
            {
                ulong u = (ulong)((v << 1) ^ (v >> 63));
                ulong q = u >> k;
                for (ulong i = 0; i < q; i++) w.Write(0, 1);
                w.Write(1, 1);
                w.Write((uint)(u & ((1u << k) - 1)), k);
            }
        }
    }

    public byte[] Finish()
    {
        var s = new BitWriter();
        s.Write((uint)minBlock, 16);
        s.Write((uint)maxBlock, 16);
        s.Write(0, 24);
        s.Write(0, 24);
        s.Write((uint)rate, 20);
        s.Write((uint)(channels - 1), 3);
        s.Write((uint)(bits - 1), 5);
        s.Write((uint)(total >> 32), 4);
        s.Write((uint)total, 32);
        var head = new List<byte>("fLaC"u8.ToArray()) { 0x80, 0, 0, 34 };
        head.AddRange(s.Bytes());
        head.AddRange(md5.GetHashAndReset());
        head.AddRange(frames);
        return head.ToArray();
    }

    private static void WriteUtf8(BitWriter w, long v)
    {
        if (v < 0x80)
        {
            w.Write((uint)v, 8);
            return;
        }
        int more = v < 0x800 ? 1 : v < 0x10000 ? 2 : v < 0x200000 ? 3 : v < 0x4000000 ? 4 : v < 0x80000000 ? 5 : 6;
        uint lead = (uint)(0xFF00 >> (more + 1)) & 0xFF;
        w.Write(lead | (uint)(v >> (6 * more)), 8);
        for (int i = more - 1; i >= 0; i--) w.Write(0x80 | (uint)((v >> (6 * i)) & 0x3F), 8);
    }

    private static uint Crc8(byte[] bytes)
    {
        int c = 0;
        foreach (byte b in bytes)
        {
            c ^= b;
            for (int i = 0; i < 8; i++) c = (c & 0x80) != 0 ? ((c << 1) ^ 0x07) & 0xFF : (c << 1) & 0xFF;
        }
        return (uint)c;
    }

    private static int Crc16(byte[] bytes)
    {
        int c = 0;
        foreach (byte b in bytes)
        {
            c ^= b << 8;
            for (int i = 0; i < 8; i++) c = (c & 0x8000) != 0 ? ((c << 1) ^ 0x8005) & 0xFFFF : (c << 1) & 0xFFFF;
        }
        return c;
    }

    private sealed class BitWriter
    {
        private readonly List<byte> bytes = new();
        private int acc, used;

        public void Write(uint value, int n)
        {
            for (int i = n - 1; i >= 0; i--)
            {
                acc = (acc << 1) | (int)((value >> i) & 1);
                if (++used == 8)
                {
                    bytes.Add((byte)acc);
                    acc = used = 0;
                }
            }
        }

        public void Write(int value, int n) => Write((uint)value, n);

        public void WriteSigned(long value, int n)
        {
            for (int i = n - 1; i >= 0; i--) Write((uint)((value >> i) & 1), 1);
        }

        public void Align()
        {
            while (used != 0) Write(0, 1);
        }

        public byte[] Bytes() => bytes.ToArray();
    }
}
