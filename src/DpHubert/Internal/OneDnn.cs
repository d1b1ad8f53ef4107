using System;
using System.Runtime.InteropServices;
using System.Threading;
using TorchSharp;

namespace DpHubert;

/// <summary>
/// libtorch's process-wide oneDNN (MKL-DNN) switch, <c>at::globalContext().setUserEnabledMkldnn</c>, which TorchSharp
/// does not expose: reached through the C++ symbols <c>libtorch_cpu</c> / <c>torch_cpu.dll</c> exports (Itanium names on Linux and macOS,
/// MSVC names on Windows). With
/// oneDNN off, libtorch computes convolutions with its own kernels (im2col and BLAS), slower but right on CPUs where a
/// oneDNN kernel is wrong. The environment variable <see cref="EnvironmentVariable"/> (<c>off</c>) turns it off when
/// the first model is built.
/// </summary>
internal static class OneDnn
{
    /// <summary>The environment variable read at the first model build: <c>off</c> (or <c>0</c>, <c>false</c>) turns
    /// oneDNN off for the process; <c>on</c> (or <c>1</c>, <c>true</c>, empty) leaves libtorch's default.</summary>
    public const string EnvironmentVariable = "DPHUBERT_ONEDNN";

    private static readonly Lazy<Api?> api = new(Bind, LazyThreadSafetyMode.ExecutionAndPublication);
    private static int environmentApplied;

    /// <summary>Whether this libtorch exposes the switch.</summary>
    public static bool IsAvailable => api.Value is not null;

    /// <summary>Whether libtorch may use oneDNN now (true where the switch is unavailable: libtorch's default).</summary>
    public static bool Enabled
    {
        get
        {
            var a = api.Value;
            return a is null || a.Get(a.Context());
        }
    }

    /// <summary>Turns oneDNN on or off for the whole process.</summary>
    /// <param name="enabled">The new state.</param>
    /// <returns>Whether the switch exists (nothing changes where it does not).</returns>
    public static bool SetEnabled(bool enabled)
    {
        var a = api.Value;
        if (a is null) return false;
        a.Set(a.Context(), enabled);
        return true;
    }

    /// <summary>Applies <see cref="EnvironmentVariable"/> once per process (later calls do nothing).</summary>
    /// <exception cref="ArgumentException">A value other than on/off/1/0/true/false.</exception>
    public static void ApplyEnvironmentOnce()
    {
        if (Volatile.Read(ref environmentApplied) != 0) return;
        bool? on = ParseSetting(Environment.GetEnvironmentVariable(EnvironmentVariable));
        if (Interlocked.Exchange(ref environmentApplied, 1) != 0) return;
        if (on == false && !SetEnabled(false))
            Console.Error.WriteLine($"warning: {EnvironmentVariable}=off ignored: this libtorch does not expose its oneDNN switch.");
    }

    /// <summary>Reads an on/off setting: null for unset or empty.</summary>
    /// <param name="value">The variable's value.</param>
    /// <exception cref="ArgumentException">Anything else than on/off/1/0/true/false (any case).</exception>
    public static bool? ParseSetting(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        null or "" => null,
        "on" or "1" or "true" => true,
        "off" or "0" or "false" => false,
        _ => throw new ArgumentException($"{EnvironmentVariable}={value} is not a valid setting: use 'on' or 'off'."),
    };

    private static Api? Bind()
    {
        _ = torch.get_num_threads(); // loads libtorch into the process first
        var (library, names) = Exports();
        if (NativeLibrary.TryLoad(library, typeof(torch).Assembly, null, out var lib)
            && NativeLibrary.TryGetExport(lib, names.Context, out var context)
            && NativeLibrary.TryGetExport(lib, names.Get, out var get)
            && NativeLibrary.TryGetExport(lib, names.Set, out var set))
            return new Api(context, get, set);
        return null;
    }

    /// <summary>Where the switch lives on this platform: the library and its exported names (Itanium C++ names on Linux
    /// and macOS, MSVC names on Windows). A libtorch that does not export them leaves <see cref="IsAvailable"/> false.</summary>
    internal static (string Library, SymbolNames Names) Exports() =>
        OperatingSystem.IsWindows() ? ("torch_cpu.dll", Msvc)
        : OperatingSystem.IsMacOS() ? ("libtorch_cpu.dylib", Itanium)
        : ("libtorch_cpu.so", Itanium);

    /// <summary>The three entry points by their Itanium C++ names.</summary>
    internal static readonly SymbolNames Itanium = new(
        "_ZN2at13globalContextEv", "_ZNK2at7Context17userEnabledMkldnnEv", "_ZN2at7Context20setUserEnabledMkldnnEb");

    /// <summary>The same entry points by their MSVC (x64) names.</summary>
    internal static readonly SymbolNames Msvc = new(
        "?globalContext@at@@YAAEAVContext@1@XZ", "?userEnabledMkldnn@Context@at@@QEBA_NXZ", "?setUserEnabledMkldnn@Context@at@@QEAAX_N@Z");

    /// <summary><c>at::globalContext()</c>, <c>Context::userEnabledMkldnn() const</c>, <c>Context::setUserEnabledMkldnn(bool)</c>.</summary>
    internal readonly record struct SymbolNames(string Context, string Get, string Set);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate IntPtr ContextFn();

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    [return: MarshalAs(UnmanagedType.U1)]
    private delegate bool GetFn(IntPtr context);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate void SetFn(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool enabled);

    private sealed class Api(IntPtr context, IntPtr get, IntPtr set)
    {
        private readonly ContextFn context = Marshal.GetDelegateForFunctionPointer<ContextFn>(context);
        private readonly GetFn get = Marshal.GetDelegateForFunctionPointer<GetFn>(get);
        private readonly SetFn set = Marshal.GetDelegateForFunctionPointer<SetFn>(set);

        public IntPtr Context() => context();

        public bool Get(IntPtr ctx) => get(ctx);

        public void Set(IntPtr ctx, bool on) => set(ctx, on);
    }
}
