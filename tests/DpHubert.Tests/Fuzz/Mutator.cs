using System;
using System.Collections.Generic;
using System.Linq;

namespace DpHubert.Tests.Fuzz;

/// <summary>Seeded byte-level mutations of valid files: bit flips, boundary values in size fields, truncation, inserted,
/// deleted and duplicated ranges. The same seed gives the same inputs, so a failure names a reproducible case.</summary>
internal static class Mutator
{
    /// <summary>Iterations per target: <c>DPHUBERT_FUZZ_ITERATIONS</c> (tools/fuzz/run.sh --iterations) or the CI default.</summary>
    public static int Iterations(int ciDefault) =>
        int.TryParse(Environment.GetEnvironmentVariable("DPHUBERT_FUZZ_ITERATIONS"), out int n) && n > 0 ? n : ciDefault;

    public static int Seed => int.TryParse(Environment.GetEnvironmentVariable("DPHUBERT_FUZZ_SEED"), out int s) ? s : 20261202;

    private static readonly uint[] Interesting = { 0, 1, 2, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x7FFFF000 };

    public static byte[] Mutate(byte[] seed, Random rng)
    {
        var data = new List<byte>(seed);
        int rounds = 1 + rng.Next(4);
        for (int r = 0; r < rounds && data.Count > 0; r++)
        {
            int at = rng.Next(data.Count);
            switch (rng.Next(7))
            {
                case 0: // flip bits
                    data[at] ^= (byte)(1 << rng.Next(8));
                    break;
                case 1: // random byte
                    data[at] = (byte)rng.Next(256);
                    break;
                case 2: // a boundary value in a little-endian 16/32-bit field
                    uint v = Interesting[rng.Next(Interesting.Length)];
                    int width = rng.Next(2) == 0 ? 2 : 4;
                    for (int i = 0; i < width && at + i < data.Count; i++) data[at + i] = (byte)(v >> (8 * i));
                    break;
                case 3: // truncate
                    data.RemoveRange(at, data.Count - at);
                    break;
                case 4: // delete a range
                    data.RemoveRange(at, Math.Min(data.Count - at, 1 + rng.Next(64)));
                    break;
                case 5: // insert random bytes
                    data.InsertRange(at, Enumerable.Range(0, 1 + rng.Next(32)).Select(_ => (byte)rng.Next(256)));
                    break;
                default: // duplicate a range elsewhere
                    int len = Math.Min(data.Count - at, 1 + rng.Next(128));
                    var copy = data.GetRange(at, len);
                    data.InsertRange(rng.Next(data.Count), copy);
                    break;
            }
        }
        return data.ToArray();
    }
}
