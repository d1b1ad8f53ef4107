using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using DpHubert.Modules;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DpHubert;

/// <summary>Whether <see cref="KernelCheck"/> runs.</summary>
public enum KernelCheckMode
{
    /// <summary>Check each native operation configuration once per process (the default).</summary>
    On,

    /// <summary>Do not check (the model runs whatever libtorch picks).</summary>
    Off,

    /// <summary>Check every configuration again, ignoring what this process already verified.</summary>
    Force,
}

/// <summary>One distinct native operation configuration of a model, as <see cref="KernelCheck"/> left it.</summary>
/// <param name="Operation">What runs, e.g. <c>conv1d 512->113 k3 s2</c>, <c>linear 768->3072</c>,
/// <c>attention 12x64</c>, <c>pos_conv 768 k128 g16</c>.</param>
/// <param name="DType">The compute dtype.</param>
/// <param name="Path">How it runs now: <c>libtorch</c> (libtorch's kernel for the op), <c>onednn</c> (a float32 linear
/// layer routed by <see cref="LinearKernels"/>; when <c>auto</c> chose it, products of at least
/// <see cref="LinearKernels.OneDnnMinRows"/> rows), <c>gemm</c> (a convolution computed by BLAS matrix products) or
/// <c>gemm/onednn</c> (the same products on oneDNN).</param>
/// <param name="Sites">How many places in the model run it.</param>
/// <param name="Error">Largest difference from the float64 reference over the largest reference magnitude (NaN or
/// infinity count as infinite).</param>
/// <param name="Tolerance">The most <paramref name="Error"/> may be for the dtype.</param>
/// <param name="Cached">Whether the verdict came from an earlier check in this process.</param>
/// <param name="WrongError">The error of the kernel that was wrong, when it was rerouted; else null.</param>
/// <param name="RoutedTo">Where a wrong kernel was routed: <c>gemm</c> or <c>oneDNN off</c>; null when it was right.</param>
public sealed record KernelCheckEntry(string Operation, ScalarType DType, string Path, int Sites, double Error,
    double Tolerance, bool Cached, double? WrongError, string? RoutedTo)
{
    /// <summary>Whether the configuration as it runs now matches the reference.</summary>
    public bool Passed => Error <= Tolerance;

    /// <inheritdoc/>
    public override string ToString()
    {
        var inv = CultureInfo.InvariantCulture;
        string s = $"{Operation} {DType.ToString().ToLowerInvariant()} x{Sites} [{Path}] error {Error.ToString("0.##E+0", inv)}"
            + (Cached ? " (cached)" : "");
        return RoutedTo is null ? s : $"{s}; was wrong (error {WrongError!.Value.ToString("0.##E+0", inv)}), routed to {RoutedTo}";
    }
}

/// <summary>What <see cref="KernelCheck.Run"/> checked, what was wrong, where it was routed and how long it took.</summary>
/// <param name="Mode">How it ran.</param>
/// <param name="Entries">One per distinct configuration (empty when skipped).</param>
/// <param name="OneDnnEnabled">Whether libtorch's oneDNN is on after the check.</param>
/// <param name="OneDnnTurnedOff">Whether this check turned oneDNN off, as the last resort.</param>
/// <param name="Elapsed">Wall time of the check.</param>
/// <param name="Skipped">Why nothing was checked, or null.</param>
/// <param name="Gemm">Which library float32 CPU matrix products use after the check, and the measured ratio when
/// <see cref="LinearBackend.Auto"/> chose it (<see cref="LinearKernels.Choice"/>); null for other devices.</param>
public sealed record KernelCheckReport(KernelCheckMode Mode, IReadOnlyList<KernelCheckEntry> Entries, bool OneDnnEnabled,
    bool OneDnnTurnedOff, TimeSpan Elapsed, string? Skipped = null, GemmBackendChoice? Gemm = null)
{
    /// <summary>The configurations that were wrong and were rerouted.</summary>
    public IReadOnlyList<KernelCheckEntry> Rerouted => Entries.Where(e => e.RoutedTo is not null).ToArray();

    /// <summary>One line: how many configurations, how long, and each wrong one with where it went.</summary>
    public string Summary
    {
        get
        {
            string gemm = Gemm is null ? "" : $"; {Gemm}";
            if (Skipped is not null) return $"kernel check: skipped ({Skipped}); oneDNN {(OneDnnEnabled ? "on" : "off")}{gemm}";
            string kinds = string.Join(", ", Entries.GroupBy(e => e.Operation.Split(' ')[0]).Select(g => $"{g.Count()} {g.Key}"));
            string head = $"kernel check: {Entries.Count} configurations ({kinds}) in {Elapsed.TotalMilliseconds.ToString("F0", CultureInfo.InvariantCulture)} ms"
                + (Entries.Count > 0 && Entries.All(e => e.Cached) ? " (cached)" : "");
            var wrong = Rerouted;
            string tail = wrong.Count == 0 ? "all right" : "wrong: " + string.Join("; ", wrong.Select(e =>
                $"{e.Operation} (error {e.WrongError!.Value.ToString("0.##E+0", CultureInfo.InvariantCulture)}) -> {e.RoutedTo}"));
            return $"{head}; {tail}; oneDNN {(OneDnnEnabled ? "on" : OneDnnTurnedOff ? "turned off" : "off")}{gemm}";
        }
    }

    /// <inheritdoc/>
    public override string ToString() => string.Join(Environment.NewLine, Entries.Select(e => "  " + e).Prepend(Summary));
}

/// <summary>A native kernel that stays wrong with every fallback: the model would give wrong features here.</summary>
public sealed class KernelCheckException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">Which operations, their errors, what was tried.</param>
    public KernelCheckException(string message) : base(message)
    {
    }
}

/// <summary>
/// Checks the native kernels a model will run before it runs them: every distinct configuration (each feature-extractor
/// convolution (in, out, kernel, stride) on its current path, the positional convolution, each linear shape, the fused
/// attention per head size) once per process and dtype, on a small random input against a float64 reference that
/// uses none of those kernels (unfolded inputs times weights in float64). A wrong convolution is switched to the matrix
/// product path; anything still wrong turns libtorch's oneDNN off for the process and everything is checked again; what
/// is wrong even then throws a <see cref="KernelCheckException"/>. Nothing is decided by CPU names: a libtorch 2.10
/// oneDNN convolution returns wrong values for channel counts that are not a multiple of 16 on some CPUs only.
/// </summary>
/// <remarks>Verdicts are cached process-wide by configuration, dtype, path and oneDNN state, so a second model with the
/// same shapes costs nothing. Call it before the model is shared by threads: it may change a layer's path.
/// <see cref="EnvironmentVariable"/> (<c>off</c>, <c>force</c>) overrides the mode a caller passes.</remarks>
public static class KernelCheck
{
    /// <summary>The environment variable that sets the mode for every model: <c>on</c>, <c>off</c> or <c>force</c>.</summary>
    public const string EnvironmentVariable = "DPHUBERT_KERNEL_CHECK";

    /// <summary>Output frames of a checked convolution (odd, so no kernel sees only whole vector blocks).</summary>
    internal const int ConvFrames = 97;

    /// <summary>Rows of a checked linear layer and frames of a checked attention.</summary>
    internal const int Rows = 67;

    /// <summary>Frames of the checked positional convolution (its kernel is long, so few frames suffice).</summary>
    internal const int PositionalFrames = 24;

    private static readonly ConcurrentDictionary<string, Lazy<Verdict>> cache = new();

    /// <summary>Test hook: returns true for a configuration whose kernel output the checker must treat as wrong.</summary>
    internal delegate bool FaultInjector(KernelProbe probe);

    /// <summary>What an injected fault is decided on.</summary>
    internal readonly record struct KernelProbe(string Operation, ScalarType DType, string Path, bool OneDnnEnabled);

    internal readonly record struct Verdict(double Error, double Tolerance, bool Cached)
    {
        public bool Passed => Error <= Tolerance;
    }

    /// <summary>The mode <see cref="EnvironmentVariable"/> asks for, or <paramref name="requested"/> when it is unset.</summary>
    /// <param name="requested">The caller's mode.</param>
    /// <exception cref="ArgumentException">An unknown value of the variable.</exception>
    public static KernelCheckMode ResolveMode(KernelCheckMode requested) =>
        ParseMode(Environment.GetEnvironmentVariable(EnvironmentVariable), requested);

    /// <summary>The mode a value of <see cref="EnvironmentVariable"/> names, or <paramref name="requested"/> when empty.</summary>
    internal static KernelCheckMode ParseMode(string? value, KernelCheckMode requested) => value?.Trim().ToLowerInvariant() switch
    {
        null or "" => requested,
        "on" or "1" or "true" => KernelCheckMode.On,
        "off" or "0" or "false" => KernelCheckMode.Off,
        "force" => KernelCheckMode.Force,
        _ => throw new ArgumentException($"{EnvironmentVariable}={value} is not a valid setting: use 'on', 'off' or 'force'."),
    };

    /// <summary>Checks the kernels <paramref name="model"/> will run and routes wrong ones to verified paths.</summary>
    /// <param name="model">A model in eval mode (its device and dtype are the ones checked).</param>
    /// <param name="mode">On (default), Off or Force; <see cref="EnvironmentVariable"/> overrides it.</param>
    /// <returns>The report.</returns>
    /// <exception cref="KernelCheckException">A kernel wrong even with oneDNN off.</exception>
    public static KernelCheckReport Run(Wav2Vec2Model model, KernelCheckMode mode = KernelCheckMode.On) =>
        RunCore(model, mode, faults: null, projection: null, timer: null);

    /// <summary><see cref="Run"/> with the encoder's optional output projection, a test's injected faults and a test's
    /// GEMM timings for <see cref="LinearBackend.Auto"/>.</summary>
    internal static KernelCheckReport RunCore(Wav2Vec2Model model, KernelCheckMode mode, FaultInjector? faults,
        FinalProjection? projection, LinearKernels.GemmTimer? timer)
    {
        ArgumentNullException.ThrowIfNull(model);
        OneDnn.ApplyEnvironmentOnce();
        mode = ResolveMode(mode);
        if (mode == KernelCheckMode.Off)
            return new KernelCheckReport(mode, Array.Empty<KernelCheckEntry>(), OneDnn.Enabled, false, TimeSpan.Zero, "turned off",
                model.Device.type == DeviceType.CPU ? LinearKernels.Current : null);
        if (model.Device.type != DeviceType.CPU)
            return new KernelCheckReport(mode, Array.Empty<KernelCheckEntry>(), OneDnn.Enabled, false, TimeSpan.Zero, $"{model.Device.type} model");
        var clock = Stopwatch.StartNew();
        using var scope = NewDisposeScope(); // the sites' index tensors
        var dtype = model.DType;
        // The float32 products' library is settled (measured, for auto) before their kernels are checked on it.
        if (dtype == ScalarType.Float32) LinearKernels.Choose(GemmShapes(model, projection), timer);
        // Injected faults are not this machine's: keep their verdicts out of the process cache.
        var verdicts = faults is null ? cache : new ConcurrentDictionary<string, Lazy<Verdict>>();
        // Force measures each configuration again, once in this run.
        var forced = mode == KernelCheckMode.Force ? new HashSet<string>() : null;
        var measured = new HashSet<string>(); // what this run measured itself (not cached)
        var wrongBefore = new Dictionary<string, (double Error, string RoutedTo)>();
        bool turnedOff = false;
        List<Site> sites;
        Dictionary<Site, Verdict> final;
        while (true)
        {
            // Listed again on every pass: a rerouted block may now run fused with its neighbour.
            sites = Sites.Of(model, projection);
            final = new Dictionary<Site, Verdict>();
            var wrong = new List<(Site Site, Verdict Verdict)>();
            bool rerouted = false;
            foreach (var site in sites)
            {
                var v = Check(site, dtype, verdicts, forced, measured, faults);
                if (!v.Passed && site.TryReroute())
                {
                    wrongBefore.TryAdd(site.Name, (v.Error, site.Path));
                    rerouted = true;
                    v = Check(site, dtype, verdicts, forced, measured, faults);
                }
                final[site] = v;
                if (!v.Passed) wrong.Add((site, v));
            }
            if (wrong.Count == 0)
            {
                if (rerouted) continue; // each block is rerouted at most once, so this ends
                break;
            }
            if (!turnedOff && OneDnn.Enabled && OneDnn.SetEnabled(false))
            {
                // The last resort is process-wide: every kernel may change, so everything is checked again.
                turnedOff = true;
                if (LinearKernels.Backend == LinearBackend.OneDnn) LinearKernels.RejectOneDnn("oneDNN turned off by the kernel check");
                foreach (var (site, v) in wrong) wrongBefore[site.Name] = (v.Error, "oneDNN off");
                continue;
            }
            throw new KernelCheckException(
                $"Native kernels give wrong results on this machine even {(OneDnn.Enabled ? "with oneDNN on (its switch is unavailable here)" : "with oneDNN off")}: "
                + string.Join("; ", wrong.GroupBy(w => (w.Site.Operation, w.Site.Path)).Select(g =>
                    $"{g.Key.Operation} {dtype.ToString().ToLowerInvariant()} [{g.Key.Path}] at {g.First().Site.Name}"
                    + (g.Count() > 1 ? $" and {g.Count() - 1} more" : "")
                    + $" (error {Format(g.First().Verdict.Error)}, tolerance {Format(g.First().Verdict.Tolerance)})"))
                + $". Set {EnvironmentVariable}=off to run anyway, or use another dtype.");
        }
        var entries = sites.GroupBy(s => (s.Operation, s.Path)).Select(g =>
        {
            var first = g.First();
            var v = final[first];
            var before = g.Select(s => wrongBefore.TryGetValue(s.Name, out var w) ? w : ((double, string)?)null).FirstOrDefault(w => w is not null);
            return new KernelCheckEntry(first.Operation, dtype, first.Path, g.Count(), v.Error, v.Tolerance, v.Cached,
                before?.Item1, before?.Item2);
        }).ToArray();
        return new KernelCheckReport(mode, entries, OneDnn.Enabled, turnedOff, clock.Elapsed, Gemm: LinearKernels.Current);
    }

    /// <summary>The model's float32 GEMM families as it runs them: each linear layer at the encoder's frame rate, each
    /// GEMM-path convolution's products (one per group of stride taps, or one for a narrow layer) at its output rate.</summary>
    internal static IReadOnlyList<LinearKernels.GemmShape> GemmShapes(Wav2Vec2Model model, FinalProjection? projection)
    {
        var rows = new Dictionary<(long K, long N), (double All, double Call)>();
        void Add(long k, long n, double perSecond)
        {
            var (all, call) = rows.GetValueOrDefault((k, n));
            rows[(k, n)] = (all + perSecond, Math.Max(call, perSecond));
        }
        double rate = 16000; // samples per second in, frames per second out of each block
        foreach (var block in model.FeatureExtractor.ConvLayers)
        {
            rate /= block.Stride;
            if (block.Path != ConvolutionPath.Gemm) continue;
            long cin = block.Conv.Weight.shape[1], cout = block.OutChannels, k = block.KernelSize, s = block.Stride;
            if (block.IsNarrow || k <= s) Add(k * cin, cout, rate);
            else
                for (long first = 0; first < k; first += s)
                    Add(Math.Min(s, k - first) * cin, cout, rate);
        }
        foreach (var (_, module) in model.named_modules())
            if (module is Linear linear)
                Add(linear.weight!.shape[1], linear.weight.shape[0], rate);
        if (projection is not null) Add(projection.InFeatures, projection.OutFeatures, rate);
        return rows.Select(r => new LinearKernels.GemmShape(r.Key.K, r.Key.N, r.Value.All, r.Value.Call)).ToArray();
    }

    private static string Format(double x) => x.ToString("0.##E+0", CultureInfo.InvariantCulture);

    /// <summary>Forgets every cached verdict (tests that change the oneDNN state and restore it).</summary>
    internal static void ClearCache() => cache.Clear();

    private static Verdict Check(Site site, ScalarType dtype, ConcurrentDictionary<string, Lazy<Verdict>> verdicts, HashSet<string>? forced,
        HashSet<string> measured, FaultInjector? faults)
    {
        bool oneDnn = OneDnn.Enabled;
        string key = $"{site.Operation}|{dtype}|{site.Path}|oneDNN {(oneDnn ? "on" : "off")}";
        var probe = new KernelProbe(site.Operation, dtype, site.Path, oneDnn);
        if (forced is not null && forced.Add(key)) verdicts.TryRemove(key, out _);
        bool computed = false;
        var lazy = verdicts.GetOrAdd(key, _ => new Lazy<Verdict>(() =>
        {
            computed = true;
            return Measure(site, dtype, faults?.Invoke(probe) == true);
        }));
        var v = lazy.Value;
        if (computed) measured.Add(key);
        return v with { Cached = !measured.Contains(key) };
    }

    /// <summary>Runs the site's kernel on a seeded random input and compares it with the float64 reference.</summary>
    private static Verdict Measure(Site site, ScalarType dtype, bool injectFault)
    {
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        // Its own generator: the caller's torch random stream is left as it was.
        using var gen = new Generator(0x6b636b);
        var input = site.Input(gen, dtype);
        Tensor got;
        using (LinearKernels.Verifying()) got = site.Pick(site.Run(input));
        if (injectFault) got = got.Plus(1.0);
        var reference = site.Reference(input.to(ScalarType.Float64), dtype);
        double scale = Math.Max(reference.abs().max().item<double>(), 1e-3);
        double diff = got.to(ScalarType.Float64).Minus(reference).abs().max().item<double>();
        double error = double.IsFinite(diff) ? diff / scale : double.PositiveInfinity;
        // float32 accumulation errors are ~1e-6 of the scale here and bfloat16 rounding ~1e-2; a wrong kernel is off by
        // tenths or more.
        double tolerance = dtype switch
        {
            ScalarType.Float32 => 1e-3,
            ScalarType.Float64 => 1e-9,
            _ => 0.06,
        };
        return new Verdict(error, tolerance, false);
    }

    /// <summary>One place in the model that runs a native operation configuration.</summary>
    internal abstract class Site(string name, string operation)
    {
        public string Name { get; } = name;

        public string Operation { get; } = operation;

        /// <summary>How it runs now.</summary>
        public virtual string Path => "libtorch";

        public abstract Tensor Input(Generator gen, ScalarType dtype);

        /// <summary>The model's own code for it.</summary>
        public abstract Tensor Run(Tensor input);

        /// <summary>The float64 result at the outputs <see cref="Pick"/> keeps, without the kernel under test.</summary>
        public abstract Tensor Reference(Tensor input64, ScalarType dtype);

        /// <summary>The outputs compared with the reference (all, or a sample of the channels of a wide one).</summary>
        public virtual Tensor Pick(Tensor output) => output;

        /// <summary>Switches to a path that does not use the failing kernel, if the site has one it is not on yet.</summary>
        public virtual bool TryReroute() => false;

        protected static Tensor F64(Tensor t) => t.detach().to(ScalarType.Float64);

        /// <summary>Sends every float32 product back to BLAS when <paramref name="path"/> ran any on oneDNN.</summary>
        protected static bool RejectOneDnnProducts(string path, string operation)
        {
            if (!path.Contains("onednn", StringComparison.Ordinal)) return false;
            LinearKernels.RejectOneDnn($"oneDNN wrong: {operation}");
            return true;
        }

        /// <summary>The output channels compared: all of a narrow layer; of a wide one the first 16, the last 32 (where
        /// a kernel's partial vector blocks are) and 16 spread between, so the float64 reference costs little.</summary>
        protected static Tensor Channels(long n)
        {
            if (n <= 64) return ScalarSafe.Arange(n);
            var picked = new SortedSet<long>();
            for (long c = 0; c < 16; c++) picked.Add(c);
            for (long c = n - 32; c < n; c++) picked.Add(c);
            for (long i = 1; i <= 16; i++) picked.Add(16 + i * (n - 48) / 17);
            return tensor(picked.ToArray());
        }
    }

    /// <summary>The sites of a model, in the order they run.</summary>
    private static class Sites
    {
        public static List<Site> Of(Wav2Vec2Model model, FinalProjection? projection)
        {
            var sites = new List<Site>();
            var layers = model.FeatureExtractor.ConvLayers;
            for (int i = 0; i < layers.Count; i++)
                sites.Add(new ConvBlockSite($"feature_extractor.conv_layers.{i}", layers[i]));
            // The pairs the extractor runs fused, as it picks them (a fused pair's second block starts no pair).
            for (int i = 0; i + 1 < layers.Count; i++)
                if (layers[i].FusesWith(layers[i + 1]))
                    sites.Add(new FusedPairSite($"feature_extractor.conv_layers.{i}+{i + 1}", layers[i], layers[++i]));
            foreach (var (name, module) in model.named_modules())
            {
                switch (module)
                {
                    case ConvolutionalPositionalEmbedding pos:
                        sites.Add(new PositionalConvSite(name, pos));
                        break;
                    case Linear linear:
                        sites.Add(new LinearSite(name, linear.weight!, linear.bias, x => LinearKernels.Apply(linear, x), routable: true));
                        break;
                    case SelfAttention attention:
                        long heads = attention.named_parameters().First(p => p.name == "q_proj.weight").parameter.shape[0] / attention.HeadDim;
                        if (heads > 0) sites.Add(new AttentionSite(name, (int)heads, attention.HeadDim, attention is WavLMSelfAttention));
                        break;
                }
            }
            if (projection is not null)
                sites.Add(new LinearSite("final_proj", projection.Weight, projection.Bias, projection.Apply, routable: true));
            return sites;
        }
    }

    private sealed class ConvBlockSite(string name, ConvLayerBlock block) : Site(name, Describe(block))
    {
        private static string Describe(ConvLayerBlock b)
        {
            var w = b.Conv.Weight;
            string norm = b.Norm switch
            {
                PerChannelGroupNorm => " group_norm",
                PrunableLayerNorm => " layer_norm",
                _ => "",
            };
            return $"conv1d {w.shape[1]}->{w.shape[0]} k{b.KernelSize} s{b.Stride}{(b.Conv.Bias is null ? "" : " bias")}{norm}";
        }

        // A layer norm over the channels needs them all; a per-channel norm (or none) lets the channels be sampled.
        private readonly Tensor channels = block.Norm is PrunableLayerNorm
            ? ScalarSafe.Arange(block.OutChannels) : Channels(block.OutChannels);

        public override Tensor Input(Generator gen, ScalarType dtype)
        {
            var w = block.Conv.Weight;
            long steps = (long)block.Stride * (ConvFrames - 1) + block.KernelSize;
            return randn(new long[] { 1, w.shape[1], steps }, generator: gen).to(dtype);
        }

        public override string Path => block.Path == ConvolutionPath.Gemm ? GemmPath(block) : "libtorch";

        /// <summary><c>gemm/onednn</c> when the block's products go to oneDNN (a narrow block computes in float32 in
        /// every dtype), else <c>gemm</c>.</summary>
        public static string GemmPath(ConvLayerBlock block)
        {
            var dtype = block.Conv.Weight.dtype;
            if (block.IsNarrow && dtype is ScalarType.BFloat16 or ScalarType.Float16) dtype = ScalarType.Float32;
            return LinearKernels.RoutesToOneDnn(dtype, block.Conv.Weight.device_type) ? "gemm/onednn" : "gemm";
        }

        public override Tensor Run(Tensor input) => block.forward(input, null).Output; // forward: no user hooks

        /// <summary>A wrong libtorch convolution goes to the matrix-product path (this block only); a wrong one on
        /// oneDNN's products sends every float32 product back to BLAS.</summary>
        public override bool TryReroute()
        {
            if (block.Path == ConvolutionPath.Gemm) return RejectOneDnnProducts(Path, Operation);
            block.Path = ConvolutionPath.Gemm;
            return true;
        }

        public override Tensor Pick(Tensor output) => output.index_select(1, channels);

        public override Tensor Reference(Tensor x, ScalarType dtype) => BlockReference(block, x, channels);

        /// <summary>The block in float64 on [1, in, frames], at the output <paramref name="channels"/>: [1, C, frames].</summary>
        public static Tensor BlockReference(ConvLayerBlock block, Tensor x, Tensor channels)
        {
            var w = F64(block.Conv.Weight.index_select(0, channels));
            long outC = w.shape[0], inC = w.shape[1];
            // [1, in, frames, k] -> [frames, in * k] times [in * k, out]: no convolution kernel involved.
            var cols = x.unfold(2, block.KernelSize, block.Stride).permute(0, 2, 1, 3).reshape(-1, inC * block.KernelSize);
            var y = cols.mm(w.reshape(outC, -1).t());
            if (block.Conv.Bias is { } b) y = y.Plus(F64(b.index_select(0, channels)));
            y = y.t().unsqueeze(0); // [1, out, frames]
            switch (block.Norm)
            {
                case PerChannelGroupNorm g:
                    y = nn.functional.group_norm(y, outC, F64(g.Weight.index_select(0, channels)), F64(g.Bias.index_select(0, channels)), g.Eps);
                    break;
                case PrunableLayerNorm l:
                    y = nn.functional.layer_norm(y.transpose(1, 2), new[] { outC }, F64(l.Weight), F64(l.Bias), l.Eps).transpose(1, 2);
                    break;
            }
            y = nn.functional.gelu(y);
            if (block.HardConcrete is { } hc) y = y * F64(hc.forward().index_select(0, channels)).unsqueeze(-1);
            return y;
        }
    }

    /// <summary>A narrow block (the waveform layer) and the next one as the GEMM path runs them together, in chunks,
    /// without the first one's output ever being whole.</summary>
    private sealed class FusedPairSite(string name, ConvLayerBlock first, ConvLayerBlock next)
        : Site(name, $"conv_pair {Describe(first)} + {Describe(next)}")
    {
        private static string Describe(ConvLayerBlock b) =>
            $"{b.Conv.Weight.shape[1]}->{b.OutChannels} k{b.KernelSize} s{b.Stride}{(b.Norm is null ? "" : " norm")}";

        private readonly Tensor channels = next.Norm is PrunableLayerNorm
            ? ScalarSafe.Arange(next.OutChannels) : Channels(next.OutChannels);

        public override string Path
        {
            get
            {
                string a = ConvBlockSite.GemmPath(first), b = ConvBlockSite.GemmPath(next);
                return a == b ? a : $"{a}+{b}";
            }
        }

        public override bool TryReroute() => RejectOneDnnProducts(Path, Operation);

        // Channels-last [1, samples, in], long enough for ConvFrames outputs of the second block.
        public override Tensor Input(Generator gen, ScalarType dtype)
        {
            long mid = (long)next.Stride * (ConvFrames - 1) + next.KernelSize;
            long steps = first.Stride * (mid - 1) + first.KernelSize;
            return randn(new long[] { 1, steps, first.Conv.Weight.shape[1] }, generator: gen).to(dtype);
        }

        public override Tensor Run(Tensor input) => first.ForwardNarrow(input, next);

        public override Tensor Pick(Tensor output) => output.index_select(2, channels);

        public override Tensor Reference(Tensor x, ScalarType dtype)
        {
            var all = ScalarSafe.Arange(first.OutChannels);
            var mid = ConvBlockSite.BlockReference(first, x.transpose(1, 2), all);
            return ConvBlockSite.BlockReference(next, mid, channels).transpose(1, 2);
        }
    }

    private sealed class PositionalConvSite(string name, ConvolutionalPositionalEmbedding pos)
        : Site(name, $"pos_conv {pos.EmbedDim} k{pos.KernelSize} g{Groups(pos)}")
    {
        private readonly Tensor channels = Channels(pos.EmbedDim);

        private static long Groups(ConvolutionalPositionalEmbedding pos) =>
            pos.EmbedDim / Parameter(pos, "conv.weight_v").shape[1];

        private static Tensor Parameter(ConvolutionalPositionalEmbedding pos, string key) =>
            pos.named_parameters().First(p => p.name == key).parameter;

        public override Tensor Input(Generator gen, ScalarType dtype) =>
            randn(new long[] { 1, PositionalFrames, pos.EmbedDim }, generator: gen).to(dtype);

        public override Tensor Run(Tensor input) => pos.forward(input);

        public override Tensor Pick(Tensor output) => output.index_select(2, channels);

        public override Tensor Reference(Tensor x, ScalarType dtype)
        {
            var v = Parameter(pos, "conv.weight_v");
            var bias = F64(Parameter(pos, "conv.bias").index_select(0, channels));
            // The weight as the module computes it (norm in its dtype), for the sampled output channels: [C, E/G, K].
            var scale = Parameter(pos, "conv.weight_g") / v.Power(2).sum(new long[] { 0, 1 }, keepdim: true).sqrt();
            var w = F64(v.index_select(0, channels) * scale);
            long per = w.shape[1], frames = x.shape[1];
            int k = pos.KernelSize, pad = k / 2;
            // Output t reads input s through tap s - t + pad (zero outside the kernel): [C, per, t, s] weights.
            var s = ScalarSafe.Arange(frames);
            var taps = s.unsqueeze(0).Minus(s.unsqueeze(1)).Plus((long)pad);
            var inside = taps.GreaterThan(-1L).logical_and(taps.LessThan(k));
            var wts = w.index_select(2, taps.ClampMin(0).ClampMax(k - 1).flatten()).view(w.shape[0], per, frames, frames);
            if (!inside.all().item<bool>()) wts = wts * inside.to(ScalarType.Float64);
            // Each sampled channel's group of inputs: [C, per, s].
            var groupStart = channels.FloorDividedBy(per).Times(per);
            var inputs = x[0].t().index_select(0, groupStart.unsqueeze(1).Plus(ScalarSafe.Arange(per).unsqueeze(0)).flatten())
                .view(w.shape[0], per, frames);
            var y = einsum("cjts,cjs->ct", wts, inputs).Plus(bias.unsqueeze(1)); // [C, t]
            return nn.functional.gelu(y).t().unsqueeze(0);
        }
    }

    private sealed class LinearSite(string name, Tensor weight, Tensor? bias, Func<Tensor, Tensor> run, bool routable)
        : Site(name, $"linear {weight.shape[1]}->{weight.shape[0]}{(bias is null ? "" : " bias")}")
    {
        /// <summary><c>onednn</c> when <see cref="LinearKernels"/> routes this layer's dtype there, else libtorch's BLAS.</summary>
        public override string Path => routable && LinearKernels.RoutesToOneDnn(weight.dtype, weight.device_type) ? "onednn" : "libtorch";

        /// <summary>A wrong oneDNN linear sends every float32 product back to BLAS (the backend is process-wide).</summary>
        public override bool TryReroute()
        {
            return RejectOneDnnProducts(Path, Operation);
        }

        public override Tensor Input(Generator gen, ScalarType dtype) =>
            randn(new long[] { 1, Rows, weight.shape[1] }, generator: gen).to(dtype);

        private readonly Tensor columns = Channels(weight.shape[0]);

        public override Tensor Run(Tensor input) => run(input);

        public override Tensor Pick(Tensor output) => output.index_select(2, columns);

        public override Tensor Reference(Tensor x, ScalarType dtype)
        {
            // The weights as the kernel sees them: in the input's dtype (a projection built for another dtype is cast per call).
            var w = F64(weight.index_select(0, columns).to(dtype));
            var y = CatchingOps.MatMul(x, w.t().unsqueeze(0));
            return bias is { } b ? y.Plus(F64(b.index_select(0, columns).to(dtype))) : y;
        }
    }

    private sealed class AttentionSite(string name, int heads, int headDim, bool withBias)
        : Site(name, $"attention {heads}x{headDim}{(withBias ? " bias" : "")}")
    {
        private long QkvSize => 3L * heads * Rows * headDim;

        // q, k and v [3, H, L, Hd] flat, then the additive bias [H, L, L] when the model's attention takes one.
        public override Tensor Input(Generator gen, ScalarType dtype) =>
            randn(new long[] { QkvSize + (withBias ? (long)heads * Rows * Rows : 0) }, generator: gen).to(dtype);

        private (Tensor Q, Tensor K, Tensor V, Tensor? Bias) Split(Tensor flat)
        {
            var qkv = flat.narrow(0, 0, QkvSize).view(3, 1, heads, Rows, headDim);
            var bias = withBias ? flat.narrow(0, QkvSize, flat.shape[0] - QkvSize).view(1, heads, Rows, Rows) : null;
            return (qkv[0], qkv[1], qkv[2], bias);
        }

        public override Tensor Run(Tensor input)
        {
            var (q, k, v, bias) = Split(input);
            return nn.functional.scaled_dot_product_attention(q, k, v, bias);
        }

        public override Tensor Reference(Tensor x, ScalarType dtype)
        {
            var (q, k, v, bias) = Split(x);
            var weights = CatchingOps.MatMul(q, k.transpose(-2, -1)).Times(1.0 / Math.Sqrt(headDim));
            if (bias is not null) weights = weights.Plus(bias);
            return CatchingOps.MatMul(weights.softmax(-1), v);
        }
    }
}
