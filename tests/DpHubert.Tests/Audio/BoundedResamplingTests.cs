using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using DpHubert.Audio;
using DpHubert.Tests.Support;
using FluentAssertions;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DpHubert.Tests.Audio;

/// <summary>Rates that share little with 16 kHz (44,101 Hz, 96,001 Hz) resample in memory that does not grow with
/// 16000 / gcd; rates no recording uses are refused by name.</summary>
public sealed class BoundedResamplingTests(ITestOutputHelper output)
{
    private static double MaxAbs(float[] a, float[] b) => a.Zip(b, (x, y) => Math.Abs((double)x - y)).DefaultIfEmpty(0).Max();

    [Theory]
    [InlineData(8000)]
    [InlineData(11025)]
    [InlineData(16000)]
    [InlineData(22050)]
    [InlineData(24000)]
    [InlineData(32000)]
    [InlineData(44100)]
    [InlineData(48000)]
    [InlineData(88200)]
    [InlineData(96000)]
    [InlineData(176400)]
    [InlineData(192000)]
    [InlineData(384000)]
    [InlineData(768000)]
    public void Common_rates_keep_the_torchaudio_gcd_kernel(int rate)
    {
        AudioPreprocessor.UsesExactKernel(rate, 16000).Should().BeTrue();
        AudioPreprocessor.ExactKernelElements(rate, 16000).Should().BeLessThanOrEqualTo(AudioPreprocessor.MaxExactKernelElements);
    }

    [Theory]
    [InlineData(44101)]
    [InlineData(96001)]
    [InlineData(47999)]
    [InlineData(8001)]
    [InlineData(999_983)]
    public void Rates_sharing_little_with_16k_use_the_direct_filter(int rate)
    {
        AudioPreprocessor.UsesExactKernel(rate, 16000).Should().BeFalse();
        // What torchaudio's table would have held: hundreds of millions of values (GBs).
        AudioPreprocessor.ExactKernelElements(rate, 16000).Should().BeGreaterThan(100_000_000);
    }

    public static TheoryData<string, int> FixtureCases()
    {
        var data = new TheoryData<string, int>();
        foreach (var signal in new[] { "chirp", "noise", "speech" })
            foreach (var rate in new[] { 44100, 48000, 22050, 8000, 32000, 11025 })
                data.Add(signal, rate);
        return data;
    }

    [Theory]
    [MemberData(nameof(FixtureCases))]
    public void The_direct_filter_matches_torchaudio_where_both_apply(string signal, int rate)
    {
        // torchaudio builds its float32 kernel from t = idx / 441 - j / 320 etc., whose float32 rounding moves taps by
        // ~1e-7 of a sample; on these full-scale signals that is up to 2.3e-5 (1e-7 where orig is small, 48 kHz, 8 kHz).
        // The float64 comparison below shows the direct filter is the same filter: 5e-5 absolute.
        var (input, _) = Npy.ReadFloat32(Npy.Fixture("resample", $"{signal}_{rate}.in.npy"));
        var (expected, _) = Npy.ReadFloat32(Npy.Fixture("resample", $"{signal}_{rate}.out.npy"));
        var actual = new float[DirectSincResampler.OutputLength(input.Length, rate, 16000)];

        DirectSincResampler.Resample<float>(input, actual, rate, 16000);

        actual.Length.Should().Be(expected.Length);
        double maxAbs = MaxAbs(actual, expected);
        output.WriteLine($"direct {signal} {rate}: max |direct - torchaudio| = {maxAbs:E2}");
        maxAbs.Should().BeLessThan(5e-5);
    }

    [Fact]
    public void The_direct_filter_in_float64_is_torchaudios_filter_in_float64()
    {
        var (input, _) = Npy.ReadFloat32(Npy.Fixture("resample", "noise_44100.in.npy"));
        var (expected, _) = Npy.ReadFloat64(Npy.Fixture("resample", "noise_44100.f64.out.npy"));
        var actual = new double[expected.Length];

        DirectSincResampler.Resample<double>(input.Select(x => (double)x).ToArray(), actual, 44100, 16000);

        double maxAbs = actual.Zip(expected, (x, y) => Math.Abs(x - y)).Max();
        output.WriteLine($"float64 direct vs torchaudio float64, noise 44100: max |error| = {maxAbs:E2}");
        // float64 rounding of ~40-tap sums and of the sin/cos rotation along the taps.
        maxAbs.Should().BeLessThan(1e-11);
    }

    [Theory]
    [InlineData(44101)]
    [InlineData(96001)]
    [InlineData(8001)]
    public void Odd_rates_resample_with_allocation_proportional_to_the_audio(int rate)
    {
        var samples = Signal(rate, 5.0);
        AudioPreprocessor.Resample(samples.AsSpan(0, rate).ToArray(), rate, 16000); // warm-up (JIT)
        long before = GC.GetAllocatedBytesForCurrentThread();
        long rssBefore = Environment.WorkingSet;
        var sw = Stopwatch.StartNew();

        var result = AudioPreprocessor.Resample(samples, rate, 16000);

        sw.Stop();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        long rssGrowth = Environment.WorkingSet - rssBefore;
        output.WriteLine($"{rate} Hz, 5 s: {allocated / 1e6:F2} MB allocated, RSS +{rssGrowth / 1e6:F0} MB, {sw.ElapsedMilliseconds} ms");
        result.Length.Should().Be((int)Math.Ceiling(samples.Length * 16000.0 / rate));
        // The output array plus a little: the gcd kernel table here would be 1e8+ values (GBs).
        allocated.Should().BeLessThan(result.Length * 4L + (1 << 20));
        rssGrowth.Should().BeLessThan(256L << 20, "nothing native is allocated on this path");
    }

    [Fact]
    public void A_tensor_at_an_odd_rate_resamples_in_its_dtype_with_the_direct_filter()
    {
        var samples = Signal(44101, 0.25);
        using var scope = NewDisposeScope();

        var f32 = AudioPreprocessor.Resample(tensor(samples).reshape(1, 1, -1), 44101, 16000);
        var f64 = AudioPreprocessor.Resample(tensor(samples.Select(x => (double)x).ToArray()), 44101, 16000);

        f32.dtype.Should().Be(ScalarType.Float32);
        f64.dtype.Should().Be(ScalarType.Float64);
        f32.shape.Should().Equal(1, 1, (long)Math.Ceiling(samples.Length * 16000.0 / 44101));
        f32.reshape(-1).data<float>().ToArray().Should().Equal(AudioPreprocessor.Resample(samples, 44101, 16000));
        MaxAbs(f64.to(ScalarType.Float32).data<float>().ToArray(), f32.reshape(-1).data<float>().ToArray()).Should().BeLessThan(1e-6);
    }

    [SoxTheory]
    [InlineData(44100)] // the torchaudio kernel, for comparison
    [InlineData(44101)]
    [InlineData(96000)]
    [InlineData(96001)]
    [InlineData(8001)]
    [InlineData(250_001)]
    public void Accuracy_against_sox_rate_very_high_quality(int rate)
    {
        // Tones from 100 Hz to 6 kHz: inside both filters' pass band (sox -v: 95% of 8 kHz; torchaudio's filter rolls
        // off towards 7.92 kHz), so both resamplers should reproduce them and differ only by pass-band ripple/droop.
        var samples = Signal(rate, 2.0);
        string dir = TestFiles.TempDir();
        string input = Path.Combine(dir, "in.wav"), soxOut = Path.Combine(dir, "sox.wav");
        WavWriter.WriteFloat32(input, samples, rate);
        RunSox(input, "-e", "floating-point", "-b", "32", soxOut, "rate", "-v", "16000");
        var reference = WavReader.Read(soxOut).Samples;

        var ours = AudioPreprocessor.Resample(samples, rate, 16000);

        // Skip 0.1 s at each end: the two zero-pad differently and sox's filter is far longer.
        int skip = 1600, n = Math.Min(ours.Length, reference.Length) - 2 * skip;
        double err = 0, energy = 0;
        for (int i = skip; i < skip + n; i++)
        {
            double d = ours[i] - reference[i];
            err += d * d;
            energy += (double)reference[i] * reference[i];
        }
        double relRms = Math.Sqrt(err / energy);
        output.WriteLine($"{rate} Hz ({(AudioPreprocessor.UsesExactKernel(rate, 16000) ? "gcd kernel" : "direct")}): " +
                         $"{ours.Length} vs sox {reference.Length} samples, RMS(ours - sox) / RMS(sox) = {relRms:E2} ({20 * Math.Log10(relRms):F1} dB)");
        Math.Abs(ours.Length - reference.Length).Should().BeLessThanOrEqualTo(1);
        // torchaudio's own filter (the gcd kernel at 44,100 and 96,000 Hz) measures 6.3e-3 (-44 dB) here: its pass band
        // droops towards 6 kHz where sox -v is flat to 7.6 kHz. The direct filter is that filter, so the same bound holds.
        relRms.Should().BeLessThan(8e-3);
        Directory.Delete(dir, true);
    }

    [Theory]
    [InlineData(999)]
    [InlineData(1_000_001)]
    [InlineData(int.MaxValue)]
    [InlineData(0)]
    [InlineData(-8000)]
    public void Rates_outside_1kHz_to_1MHz_are_refused_by_value(int rate)
    {
        FluentActions.Invoking(() => AudioPreprocessor.Resample(new float[4], rate, 16000))
            .Should().Throw<ArgumentOutOfRangeException>().WithMessage($"*sample rate {rate} Hz is outside the supported 1000..1000000 Hz*");
        FluentActions.Invoking(() => AudioPreprocessor.Resample(new float[4], 16000, rate))
            .Should().Throw<ArgumentOutOfRangeException>().WithMessage($"*{rate} Hz*");
    }

    [Theory]
    [InlineData(int.MaxValue)]
    [InlineData(1_000_001)]
    [InlineData(999)]
    public void A_wav_at_an_unusable_rate_is_an_audio_error_naming_the_file_and_rate(int rate)
    {
        string dir = TestFiles.TempDir();
        string path = Path.Combine(dir, $"odd-{rate}.wav");
        WavWriter.WritePcm16(path, Signal(16000, 0.1), rate);

        var thrown = FluentActions.Invoking(() => AudioPreprocessor.LoadMono16k(path)).Should().Throw<AudioFormatException>().Which;

        thrown.Message.Should().Contain(path).And.Contain($"{rate} Hz").And.Contain("1000..1000000");
        thrown.Path.Should().Be(path);
        Directory.Delete(dir, true);
    }

    /// <summary>Tones from 100 Hz to 6 kHz (those below 0.4 × <paramref name="rate"/>), peak about 0.8.</summary>
    internal static float[] Signal(int rate, double seconds)
    {
        var freqs = new[] { 100.0, 440.0, 1234.5, 2500.0, 3999.0, 6000.0 }.Where(f => f < 0.4 * rate).ToArray();
        var x = new float[(int)(rate * seconds)];
        for (int i = 0; i < x.Length; i++)
        {
            double t = (double)i / rate, v = 0;
            for (int k = 0; k < freqs.Length; k++) v += Math.Sin(2 * Math.PI * freqs[k] * t + k) / freqs.Length;
            x[i] = (float)(0.8 * v);
        }
        return x;
    }

    private static void RunSox(params string[] args)
    {
        var psi = new ProcessStartInfo("sox") { RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit(60_000).Should().BeTrue();
        p.ExitCode.Should().Be(0, err);
    }
}
