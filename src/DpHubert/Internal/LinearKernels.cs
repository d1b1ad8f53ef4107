using System;
using System.Collections.Generic;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Threading;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DpHubert;

/// <summary>Which library computes the float32 matrix products on the CPU (the linear layers and the feature
/// extractor's GEMM convolutions).</summary>
public enum LinearBackend
{
    /// <summary>libtorch's default: its BLAS (MKL in the official builds), which on AMD CPUs runs its AVX2 code path.</summary>
    Blas,

    /// <summary>libtorch's oneDNN matrix multiplication, which picks its code path by the CPU's instruction sets
    /// (AVX-512 on any vendor that has it). Checked by <see cref="KernelCheck"/> like every other kernel.</summary>
    OneDnn,

    /// <summary>The default setting: measured once per machine (recorded in the user's cache folder) before the first float32 CPU forward pass (the model's
    /// own GEMM shapes on both libraries, alternating), oneDNN only when it is clearly faster
    /// (<see cref="LinearKernels.AutoMaxTimeRatio"/>) and the kernel check finds its results right; BLAS until then.</summary>
    Auto,
}

/// <summary>Which library float32 CPU matrix products use in this process, and why.</summary>
/// <param name="Backend">The library in use: <see cref="LinearBackend.Blas"/> or <see cref="LinearBackend.OneDnn"/>.</param>
/// <param name="Requested">What was asked for (<see cref="LinearBackend.Auto"/> unless forced).</param>
/// <param name="Reason">Why: <c>measured</c>, <c>forced</c>, <c>oneDNN wrong: …</c>, <c>oneDNN unavailable</c>.</param>
/// <param name="BlasMilliseconds">The model's GEMMs on BLAS, in milliseconds per second of audio as estimated from the
/// timed shapes (the best round), or null when not measured.</param>
/// <param name="OneDnnMilliseconds">The same on oneDNN, or null when not measured.</param>
/// <param name="Shapes">What was timed, e.g. <c>3 of 7 GEMM shapes (88% of the work) x 256 rows</c>; null when not measured.</param>
/// <param name="Elapsed">How long the measurement took (wall), or null when not measured.</param>
public sealed record GemmBackendChoice(LinearBackend Backend, LinearBackend Requested, string Reason,
    double? BlasMilliseconds = null, double? OneDnnMilliseconds = null, string? Shapes = null, TimeSpan? Elapsed = null)
{
    /// <summary>oneDNN's time over BLAS's on the measured GEMMs (below 1: oneDNN faster), or null when not measured.</summary>
    public double? Ratio => BlasMilliseconds is > 0 && OneDnnMilliseconds is { } o ? o / BlasMilliseconds.Value : null;

    /// <summary>One line, e.g. <c>GEMM backend: blas (auto, measured: oneDNN 1.02x BLAS's time, 6.1 vs 6.0 ms; oneDNN
    /// needs &lt;= 0.87x)</c>.</summary>
    public override string ToString()
    {
        var inv = CultureInfo.InvariantCulture;
        string name = Backend == LinearBackend.OneDnn ? "onednn" : "blas";
        string asked = Requested.ToString().ToLowerInvariant();
        string measured = Ratio is { } r
            ? $": oneDNN {r.ToString("0.00", inv)}x BLAS's time ({OneDnnMilliseconds!.Value.ToString("0.0", inv)} vs {BlasMilliseconds!.Value.ToString("0.0", inv)} ms per s of audio; {Shapes}; {Elapsed?.TotalMilliseconds.ToString("0", inv)} ms); oneDNN needs <= {LinearKernels.AutoMaxTimeRatio.ToString("0.00", inv)}x"
            : "";
        return $"GEMM backend: {name} ({asked}, {Reason}{measured})";
    }
}

/// <summary>
/// Routes the models' float32 CPU matrix products (linear layers, the feature extractor's GEMM convolutions, the final
/// projection) to <see cref="LinearBackend.Blas"/> or <see cref="LinearBackend.OneDnn"/>, process-wide like libtorch's
/// own oneDNN switch: <see cref="EnvironmentVariable"/> or <see cref="Requested"/> force one; the default,
/// <see cref="LinearBackend.Auto"/>, measures both on the first float32 CPU model's shapes (<see cref="KernelCheck"/>
/// does it before the first forward pass) and keeps BLAS unless oneDNN is clearly faster. TorchSharp has no binding
/// for oneDNN's matrix product, so a two-line TorchScript function calls <c>mkldnn_linear</c>. Other dtypes, devices
/// and passes that record gradients always use BLAS, and so does everything once oneDNN is turned off
/// (<see cref="KernelCheck"/>'s last resort).
/// </summary>
public static class LinearKernels
{
    /// <summary>The environment variable read once per process: <c>auto</c> (default), <c>blas</c> or <c>onednn</c>.</summary>
    public const string EnvironmentVariable = "DPHUBERT_LINEAR";

    /// <summary>The most oneDNN may take, as a fraction of BLAS's time on the measured GEMMs, for <c>auto</c> to choose
    /// it: a clear margin, so that on a CPU where the two are even the choice stays BLAS from run to run.</summary>
    public const double AutoMaxTimeRatio = 0.87;

    /// <summary>The fewest rows a GEMM is timed at: long-input sizes (a 10 s recording's encoder frames), not the check's
    /// small ones; oneDNN's per-call costs (it reorders the weight every time) weigh as they do in a long forward pass.</summary>
    internal const int TimedRows = 512;

    /// <summary>The most rows a GEMM is timed at (the extractor's products have up to 16,000 per 10 s).</summary>
    internal const int MaxTimedRows = 4096;

    /// <summary>The rows a family is timed at: what its largest product has for a 10 s recording, in
    /// [<see cref="TimedRows"/>, <see cref="MaxTimedRows"/>], a multiple of 64. At 512 rows alone oneDNN's share of
    /// threads and weight reorders made the extractor's products look 1.6x slower than BLAS on a Zen 4 where whole
    /// passes ran even.</summary>
    internal static int RowsOf(GemmShape s)
    {
        double rows = Math.Ceiling(s.CallRowsPerSecond * 10 / 64) * 64;
        return (int)Math.Clamp(rows, TimedRows, MaxTimedRows);
    }

    /// <summary>Timed rounds per library at most (after an untimed warm-up; the order alternates; a first round that
    /// oneDNN clearly loses decides alone, see <see cref="ClearlyFaster"/>).</summary>
    internal const int TimedRounds = 2;

    private static readonly Lazy<LinearBackend> fromEnvironment = new(() => Parse(Environment.GetEnvironmentVariable(EnvironmentVariable)));
    private static readonly Lazy<jit.CompilationUnit?> script = new(Compile, LazyThreadSafetyMode.ExecutionAndPublication);
    private static readonly object gate = new();
    private static int overridden = -1;
    private static GemmBackendChoice? choice;

    /// <summary>Measures the two libraries on GEMM shapes: (BLAS, oneDNN) estimated milliseconds per second of audio.
    /// Tests replace it.</summary>
    internal delegate (double BlasMilliseconds, double OneDnnMilliseconds) GemmTimer(IReadOnlyList<GemmShape> shapes);

    /// <summary>One GEMM family of a model: [rows, K] × [K, N], how many rows of it a second of audio runs in all, and
    /// how many the largest single product of it has per second of audio (0: unknown, timed at <see cref="TimedRows"/>).</summary>
    internal readonly record struct GemmShape(long K, long N, double RowsPerSecond, double CallRowsPerSecond = 0);

    /// <summary>The backend asked for: <see cref="LinearBackend.Auto"/> (default), or one forced. Setting it drops the
    /// current choice (an <c>auto</c> one is measured again by the next kernel check).</summary>
    /// <exception cref="ArgumentException">(Reading) <see cref="EnvironmentVariable"/> has a value other than auto/blas/onednn.</exception>
    public static LinearBackend Requested
    {
        get
        {
            int o = Volatile.Read(ref overridden);
            return o >= 0 ? (LinearBackend)o : fromEnvironment.Value;
        }
        set
        {
            if (!Enum.IsDefined(value)) throw new ArgumentOutOfRangeException(nameof(value), value, "Unknown linear backend.");
            lock (gate)
            {
                Volatile.Write(ref overridden, (int)value);
                Volatile.Write(ref choice, null);
            }
        }
    }

    /// <summary>The backend float32 CPU matrix products use now: <see cref="LinearBackend.Blas"/> or
    /// <see cref="LinearBackend.OneDnn"/> (<c>auto</c> is BLAS until measured). Setting it sets <see cref="Requested"/>.</summary>
    /// <exception cref="ArgumentException">(Reading) <see cref="EnvironmentVariable"/> has a value other than auto/blas/onednn.</exception>
    public static LinearBackend Backend
    {
        get
        {
            if (Volatile.Read(ref choice) is { } c) return c.Backend;
            var requested = Requested;
            return requested == LinearBackend.Auto ? LinearBackend.Blas : requested;
        }
        set => Requested = value;
    }

    /// <summary>Sets <see cref="Requested"/> until the result is disposed, which restores the setting and the choice
    /// that were in effect before (benchmarks comparing the two libraries in one process).</summary>
    /// <param name="backend">The backend to use meanwhile.</param>
    /// <returns>The restorer.</returns>
    public static IDisposable Override(LinearBackend backend)
    {
        lock (gate)
        {
            var restore = new Restorer(Volatile.Read(ref overridden), choice);
            Requested = backend;
            return restore;
        }
    }

    private sealed class Restorer(int overridden, GemmBackendChoice? choice) : IDisposable
    {
        private int disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref disposed, 1) != 0) return;
            lock (gate)
            {
                Volatile.Write(ref LinearKernels.overridden, overridden);
                Volatile.Write(ref LinearKernels.choice, choice);
            }
        }
    }

    /// <summary>What this process chose and why (<see cref="GemmBackendChoice.ToString"/>), or null before the first
    /// float32 CPU kernel check.</summary>
    public static GemmBackendChoice? Choice => Volatile.Read(ref choice);

    /// <summary>The choice in effect, or what applies before one is made (BLAS for <c>auto</c>, not measured yet).</summary>
    internal static GemmBackendChoice Current => Choice ?? new GemmBackendChoice(Backend, Requested,
        Requested == LinearBackend.Auto ? "not measured yet" : "forced");

    /// <summary>Reads a value of <see cref="EnvironmentVariable"/>: <see cref="LinearBackend.Auto"/> when empty.</summary>
    /// <param name="value">The variable's value.</param>
    /// <exception cref="ArgumentException">Anything but auto, blas or onednn (any case).</exception>
    internal static LinearBackend Parse(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        null or "" or "auto" => LinearBackend.Auto,
        "blas" => LinearBackend.Blas,
        "onednn" => LinearBackend.OneDnn,
        _ => throw new ArgumentException($"{EnvironmentVariable}={value} is not a valid setting: use 'auto', 'blas' or 'onednn'."),
    };

    /// <summary>Whether oneDNN can run float32 matrix products in this process now (oneDNN on, the script compiled).</summary>
    internal static bool OneDnnUsable => OneDnn.Enabled && script.Value is not null;

    /// <summary>
    /// Settles the backend before a float32 CPU model's first forward pass: a forced one as asked; <c>auto</c> measured
    /// once per machine (a record in the user's cache folder, else timed) on <paramref name="shapes"/> (the first model's), oneDNN when it took at most
    /// <see cref="AutoMaxTimeRatio"/> of BLAS's time. The caller then checks the chosen kernels, and a wrong oneDNN
    /// result comes back through <see cref="RejectOneDnn"/>.
    /// </summary>
    /// <param name="shapes">The model's GEMM families.</param>
    /// <param name="timer">Replaces the measurement (tests); null measures.</param>
    /// <returns>The choice in effect.</returns>
    internal static GemmBackendChoice Choose(IReadOnlyList<GemmShape> shapes, GemmTimer? timer)
    {
        lock (gate)
        {
            var requested = Requested;
            if (choice is { } made) return made;
            GemmBackendChoice next;
            if (requested == LinearBackend.OneDnn && !OneDnnUsable)
                next = new GemmBackendChoice(LinearBackend.Blas, requested, "oneDNN unavailable");
            else if (requested != LinearBackend.Auto)
                next = new GemmBackendChoice(requested, requested, "forced");
            else if (!OneDnnUsable)
                next = new GemmBackendChoice(LinearBackend.Blas, requested, "oneDNN unavailable");
            else
            {
                long start = System.Diagnostics.Stopwatch.GetTimestamp();
                var (timed, coverage) = SelectTimed(shapes);
                string what = timer is null
                    ? $"{timed.Count} of {shapes.Count} GEMM shapes ({(100 * coverage).ToString("0", CultureInfo.InvariantCulture)}% of the work) x {string.Join("/", System.Linq.Enumerable.Select(timed, s => RowsOf(s)))} rows"
                    : "injected timing";
                string reason = "measured";
                double blas, onednn;
                if (timer is not null)
                    (blas, onednn) = timer(shapes);
                else
                    (blas, onednn, reason) = MeasureOrRecall(timed, coverage);
                var elapsed = System.Diagnostics.Stopwatch.GetElapsedTime(start);
                var backend = onednn <= AutoMaxTimeRatio * blas ? LinearBackend.OneDnn : LinearBackend.Blas;
                next = new GemmBackendChoice(backend, requested, reason, blas, onednn, what, elapsed);
            }
            Volatile.Write(ref choice, next);
            return next;
        }
    }

    /// <summary>The machine's record of an earlier measurement of these shapes (<see cref="GemmBackendRecord"/>), or a
    /// new measurement, recorded when the cache folder can be written; the reason says which.</summary>
    private static (double Blas, double OneDnn, string Reason) MeasureOrRecall(IReadOnlyList<GemmShape> timed, double coverage)
    {
        string key = GemmBackendRecord.Key(string.Join(",", System.Linq.Enumerable.Select(timed, s =>
            $"{s.K}x{s.N}@{s.RowsPerSecond.ToString("0.###", CultureInfo.InvariantCulture)}x{RowsOf(s)}")));
        string? path = GemmBackendRecord.PathFor(key);
        if (path is null)
        {
            var (b, o) = Time(timed, coverage);
            return (b, o, "measured");
        }
        using var held = GemmBackendRecord.Lock(path);
        if (GemmBackendRecord.Read(path) is { } recorded)
            return (recorded.Blas, recorded.OneDnn, $"recorded in {path}");
        var (blas, onednn) = Time(timed, coverage);
        bool kept = held is not null && GemmBackendRecord.Write(path, blas, onednn, key);
        return (blas, onednn, kept ? $"measured, recorded in {path}" : "measured");
    }

    /// <summary>The kernel check found a oneDNN product wrong (or turned oneDNN off): BLAS from now on, whatever was
    /// asked or measured.</summary>
    /// <param name="reason">Why, e.g. <c>oneDNN wrong: linear 768-&gt;3072</c>.</param>
    internal static void RejectOneDnn(string reason)
    {
        lock (gate)
        {
            var before = choice;
            var next = new GemmBackendChoice(LinearBackend.Blas, Requested, reason,
                before?.BlasMilliseconds, before?.OneDnnMilliseconds, before?.Shapes, before?.Elapsed);
            Volatile.Write(ref choice, next);
        }
    }

    /// <summary>Whether a product of this dtype and device goes through oneDNN now: the backend is oneDNN, oneDNN is on
    /// and this libtorch runs the script. The kernel check reports its paths by the same rule.</summary>
    internal static bool RoutesToOneDnn(ScalarType dtype, DeviceType device) => Backend == LinearBackend.OneDnn
        && dtype == ScalarType.Float32 && device == DeviceType.CPU && OneDnnUsable;

    /// <summary>Whether <paramref name="x"/> would go through oneDNN now: as <see cref="RoutesToOneDnn"/>, no gradient,
    /// and, when <c>auto</c> chose oneDNN, at least <see cref="OneDnnMinRows"/> rows (fewer stay on BLAS: oneDNN reorders
    /// the weight on every call, a cost that only long products repay) unless a kernel check is verifying the path.</summary>
    internal static bool UsesOneDnn(Tensor x) => RoutesToOneDnn(x.dtype, x.device_type) && !(is_grad_enabled() && x.requires_grad)
        && (verifying || Requested == LinearBackend.OneDnn || x.numel() >= OneDnnMinRows * x.size(-1));

    /// <summary>Products with fewer rows stay on BLAS when <c>auto</c> chose oneDNN: below it oneDNN's weight reorder
    /// (about 3 ms for a 768 x 3072 layer on one Zen 4 core) is a fifth or more of the product.</summary>
    internal const long OneDnnMinRows = 256;

    [ThreadStatic]
    private static bool verifying;

    /// <summary>While the result is alive, products on this thread follow the backend whatever their row count, so that
    /// the kernel check's small inputs run the path longer ones will.</summary>
    internal static IDisposable Verifying()
    {
        bool before = verifying;
        verifying = true;
        return new VerifyingScope(before);
    }

    private sealed class VerifyingScope(bool before) : IDisposable
    {
        public void Dispose() => verifying = before;
    }

    /// <summary><paramref name="layer"/> applied to <paramref name="x"/> on the current backend.</summary>
    /// <param name="layer">The layer.</param>
    /// <param name="x">[..., in_features].</param>
    internal static Tensor Apply(Linear layer, Tensor x) =>
        Routed(x, layer.weight!) ? OneDnnLinear(x, layer.weight!, layer.bias) : layer.call(x);

    /// <summary><c>x Wᵀ + b</c> on the current backend (<c>nn.functional.linear</c> on BLAS).</summary>
    internal static Tensor Linear(Tensor x, Tensor weight, Tensor? bias) =>
        Routed(x, weight) ? OneDnnLinear(x, weight, bias) : nn.functional.linear(x, weight, bias);

    /// <summary><c>x · rows (+ bias)</c> on the current backend, for [M, K] × [K, N]: <c>mm</c> / <c>addmm</c> on BLAS
    /// (which read strided views in place).</summary>
    /// <param name="x">[M, K], any strides.</param>
    /// <param name="rows">[K, N].</param>
    /// <param name="bias">[N], or null.</param>
    internal static Tensor Mm(Tensor x, Tensor rows, Tensor? bias)
    {
        if (!Routed(x, rows)) return bias is null ? x.mm(rows) : addmm(bias, x, rows, 1, 1);
        using var t = rows.t();
        using var weight = t.contiguous(); // [N, K], as oneDNN's inner product takes it
        return OneDnnLinear(x, weight, bias);
    }

    /// <summary><c>y += x · rows</c> on the current backend (<c>addmm_</c> on BLAS).</summary>
    internal static void AddMmInPlace(Tensor y, Tensor x, Tensor rows)
    {
        if (!Routed(x, rows))
        {
            y.addmm_(x, rows, 1, 1);
            return;
        }
        using var product = Mm(x, rows, null);
        y.PlusInPlace(product);
    }

    private static bool Routed(Tensor x, Tensor weight) => UsesOneDnn(x) && !(is_grad_enabled() && weight.requires_grad);

    /// <summary><c>x Wᵀ + b</c> through oneDNN, for any leading dimensions and strides of <paramref name="x"/>.</summary>
    internal static Tensor OneDnnLinear(Tensor x, Tensor weight, Tensor? bias)
    {
        var shape = x.shape; // a fresh array: it becomes the output's shape
        using var rows = x.reshape(-1, shape[^1]);
        shape[^1] = weight.size(0);
        using var y = bias is null
            ? (Tensor)script.Value!.invoke("linear_no_bias", rows, weight)
            : (Tensor)script.Value!.invoke("linear", rows, weight, bias);
        return y.view(shape);
    }

    /// <summary>The most GEMM families timed.</summary>
    internal const int TimedFamilies = 3;

    /// <summary>The most multiply-adds one round may run per library (about 8 GFLOP: ~45 ms on two Zen 4 cores); the
    /// measurement is made once per machine (<see cref="GemmBackendRecord"/>), so it may cost a first run ~0.3 s.</summary>
    internal const double TimedMultiplyAddsPerRound = 4e9;

    /// <summary>The families <see cref="Time"/> runs: [K, N] and [N, K] count as one (the orientation with more work is
    /// timed); in order of multiply-adds per second of audio, each that still fits <see cref="TimedMultiplyAddsPerRound"/>
    /// at its rows (<see cref="RowsOf"/>), up to <see cref="TimedFamilies"/> (the cheapest when none fits), each weighted by
    /// its rows per second; and the share of all the work they stand for.</summary>
    internal static (IReadOnlyList<GemmShape> Timed, double Coverage) SelectTimed(IReadOnlyList<GemmShape> shapes)
    {
        static double Work(GemmShape s) => s.K * (double)s.N * s.RowsPerSecond;
        static double Cost(GemmShape s) => s.K * (double)s.N * RowsOf(s);
        double total = 0;
        foreach (var s in shapes) total += Work(s);
        var groups = new Dictionary<(long, long), (GemmShape Largest, double Work)>();
        foreach (var s in shapes)
        {
            var key = (Math.Min(s.K, s.N), Math.Max(s.K, s.N));
            var merged = groups.TryGetValue(key, out var g)
                ? ((Work(s) > Work(g.Largest) ? s : g.Largest) with { CallRowsPerSecond = Math.Max(s.CallRowsPerSecond, g.Largest.CallRowsPerSecond) }, g.Work + Work(s))
                : (s, Work(s));
            groups[key] = merged;
        }
        var ordered = System.Linq.Enumerable.ToList(System.Linq.Enumerable.OrderByDescending(groups.Values, g => g.Work));
        var chosen = new List<(GemmShape Largest, double Work)>();
        double cost = 0;
        foreach (var g in ordered)
        {
            if (chosen.Count == TimedFamilies) break;
            if (cost + Cost(g.Largest) > TimedMultiplyAddsPerRound) continue;
            chosen.Add(g);
            cost += Cost(g.Largest);
        }
        if (chosen.Count == 0 && ordered.Count > 0)
            chosen.Add(System.Linq.Enumerable.MinBy(ordered, g => Cost(g.Largest)));
        var picked = new List<GemmShape>();
        double covered = 0;
        foreach (var (largest, work) in chosen)
        {
            // The group's rows per second at the timed shape's size: the same multiply-adds.
            picked.Add(largest with { RowsPerSecond = work / (largest.K * (double)largest.N) });
            covered += work;
        }
        return (picked, total > 0 ? covered / total : 1);
    }

    /// <summary>
    /// Times a model's GEMMs on both libraries (the families <see cref="SelectTimed"/> picked, standing for
    /// <paramref name="coverage"/> of its work): each timed family once per round at
    /// its rows (<see cref="RowsOf"/>) with random data, weighted by its rows per second of audio and scaled to all the
    /// work, so the sum estimates a second of audio's GEMMs; an untimed warm-up (oneDNN builds its kernels per shape on
    /// first use), then up to <see cref="TimedRounds"/> rounds with the libraries alternating first; the best round of
    /// each.
    /// </summary>
    internal static (double BlasMilliseconds, double OneDnnMilliseconds) Time(IReadOnlyList<GemmShape> timed, double coverage)
    {
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        // Its own generator: the caller's torch random stream is left as it was.
        using var gen = new Generator(0x67656d6d);
        var data = new (Tensor X, Tensor Rows, Tensor Weight, double Weighting)[timed.Count];
        for (int i = 0; i < timed.Count; i++)
        {
            var s = timed[i];
            var rows = randn(new[] { s.K, s.N }, generator: gen);
            int count = RowsOf(s);
            data[i] = (randn(new[] { (long)count, s.K }, generator: gen), rows, rows.t().contiguous(), s.RowsPerSecond / count / coverage);
        }
        double Round(bool oneDnn, long rowCount = long.MaxValue)
        {
            double total = 0;
            foreach (var (x, rows, weight, weighting) in data)
            {
                using var part = x.narrow(0, 0, Math.Min(rowCount, x.size(0)));
                long start = System.Diagnostics.Stopwatch.GetTimestamp();
                // CPU products are synchronous: the result exists when the call returns.
                using (oneDnn ? OneDnnLinear(part, weight, null) : part.mm(rows))
                {
                }
                total += System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds * weighting;
            }
            return total;
        }
        // Warm-up: oneDNN creates a primitive per shape (the timed ones); BLAS only starts its threads and dispatch.
        Round(oneDnn: true);
        Round(oneDnn: false, rowCount: 32);
        double blas = double.MaxValue, onednn = double.MaxValue;
        for (int round = 0; round < TimedRounds; round++)
        {
            bool oneDnnFirst = round % 2 != 0;
            double a = Round(oneDnnFirst), b = Round(!oneDnnFirst);
            (double o, double bl) = oneDnnFirst ? (a, b) : (b, a);
            onednn = Math.Min(onednn, o);
            blas = Math.Min(blas, bl);
            // One round settles a clear loss for oneDNN (BLAS stays, the default); a win needs every round (best of each).
            if (onednn >= blas / ClearlyFaster) break;
        }
        return (blas, onednn);
    }

    /// <summary>A first round in which BLAS took at most this fraction of oneDNN's time decides for BLAS without a
    /// second: far outside the <see cref="AutoMaxTimeRatio"/> margin. Choosing oneDNN always takes every round.</summary>
    internal const double ClearlyFaster = 0.7;

    // Null, with one warning, where this libtorch cannot run it (a build without oneDNN): products stay on BLAS.
    private static jit.CompilationUnit? Compile()
    {
        try
        {
            return jit.compile("""
                def linear(x: Tensor, w: Tensor, b: Tensor) -> Tensor:
                    return torch.to_dense(torch.mkldnn_linear(torch.to_mkldnn(x.contiguous()), w, b))

                def linear_no_bias(x: Tensor, w: Tensor) -> Tensor:
                    return torch.to_dense(torch.mkldnn_linear(torch.to_mkldnn(x.contiguous()), w))

                """);
        }
        catch (ExternalException e)
        {
            Console.Error.WriteLine($"warning: {EnvironmentVariable}: oneDNN matrix products unavailable, BLAS used: this libtorch cannot run mkldnn_linear ({e.Message.Split('\n')[0]}).");
            return null;
        }
    }
}
