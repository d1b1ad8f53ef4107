using System;
using System.IO;
using System.Linq;
using System.Text;
using DpHubert.Tests.Support;
using FluentAssertions;
using Xunit;

namespace DpHubert.Tests.Build;

/// <summary>
/// build/DpHubert.targets marks libLibTorchSharp.so's GLIBCXX_3.4.32 version need weak in the build output when the host
/// libstdc++ lacks that version (Debian 12). That these tests run at all shows the library loads; this checks the bit.
/// </summary>
public class NativePatchTests
{
    private static bool HostHasGlibcxx3432()
    {
        foreach (var c in new[] { "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib64/libstdc++.so.6" })
            if (File.Exists(c)) return Encoding.ASCII.GetString(File.ReadAllBytes(c)).Contains("GLIBCXX_3.4.32\0", StringComparison.Ordinal);
        return false;
    }

    /// <summary>vna_flags of every version need named <paramref name="version"/> in an ELF64 file.</summary>
    internal static ushort[] VersionNeedFlags(byte[] elf, string version)
    {
        long shoff = BitConverter.ToInt64(elf, 0x28);
        int shentsize = BitConverter.ToUInt16(elf, 0x3A), shnum = BitConverter.ToUInt16(elf, 0x3C);
        var flags = new System.Collections.Generic.List<ushort>();
        for (int s = 0; s < shnum; s++)
        {
            int sh = (int)(shoff + (long)s * shentsize);
            if (BitConverter.ToUInt32(elf, sh + 4) != 0x6ffffffe) continue;
            long vn = BitConverter.ToInt64(elf, sh + 0x18);
            long strOff = BitConverter.ToInt64(elf, (int)(shoff + (long)BitConverter.ToUInt32(elf, sh + 0x28) * shentsize) + 0x18);
            for (uint n = 0; n < BitConverter.ToUInt32(elf, sh + 0x2C); n++)
            {
                long aux = vn + BitConverter.ToUInt32(elf, (int)vn + 8);
                for (int a = 0; a < BitConverter.ToUInt16(elf, (int)vn + 2); a++)
                {
                    long name = strOff + BitConverter.ToUInt32(elf, (int)aux + 8);
                    int len = 0;
                    while (elf[name + len] != 0) len++;
                    if (Encoding.ASCII.GetString(elf, (int)name, len) == version) flags.Add(BitConverter.ToUInt16(elf, (int)aux + 4));
                    aux += BitConverter.ToUInt32(elf, (int)aux + 12);
                }
                vn += BitConverter.ToUInt32(elf, (int)vn + 12);
            }
        }
        return flags.ToArray();
    }

    [LinuxFact]
    public void The_output_copy_has_the_version_need_marked_weak_only_where_needed()
    {
        string lib = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        File.Exists(lib).Should().BeTrue();
        var flags = VersionNeedFlags(File.ReadAllBytes(lib), "GLIBCXX_3.4.32");
        flags.Should().ContainSingle("TorchSharp 0.107 declares exactly one GLIBCXX_3.4.32 need");
        bool weak = (flags[0] & 0x2) != 0;
        weak.Should().Be(!HostHasGlibcxx3432());
    }

    private static string CachedLibrary => Path.Combine(
        Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages"),
        "torchsharp", "0.107.0", "runtimes", "linux-x64", "native", "libLibTorchSharp.so");

    /// <summary>Runs where the NuGet cache holds the Linux TorchSharp package this repository restores.</summary>
    public sealed class CachedLibraryFactAttribute : FactAttribute
    {
        public CachedLibraryFactAttribute()
        {
            if (!File.Exists(CachedLibrary)) Skip = $"no {CachedLibrary}: a different package layout or cache location";
        }
    }

    [CachedLibraryFact]
    public void The_nuget_cache_copy_is_left_untouched()
    {
        string cached = CachedLibrary;
        VersionNeedFlags(File.ReadAllBytes(cached), "GLIBCXX_3.4.32").Should().OnlyContain(f => (f & 0x2) == 0);
    }
}
