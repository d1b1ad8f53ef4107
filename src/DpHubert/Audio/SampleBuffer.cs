using System;

namespace DpHubert.Audio;

/// <summary>The recent part of an unbounded signal: samples [<see cref="Start"/>, <see cref="End"/>) by their absolute
/// index. Appending grows the array only when the kept part outgrows it (it is moved down first), so a stream that
/// drops what it no longer needs runs in constant memory without allocating.</summary>
internal sealed class SampleBuffer
{
    private float[] data = new float[4096];
    private int offset; // index in data of Start
    private int count;

    /// <summary>Absolute index of the first kept sample.</summary>
    public long Start { get; private set; }

    /// <summary>Absolute index one past the last sample (the number of samples ever appended).</summary>
    public long End => Start + count;

    /// <summary>The kept samples.</summary>
    public ReadOnlySpan<float> Span => data.AsSpan(offset, count);

    /// <summary>Samples [<paramref name="from"/>, <paramref name="from"/> + <paramref name="length"/>) by absolute index.</summary>
    public ReadOnlySpan<float> Slice(long from, int length)
    {
        if (from < Start || from + length > End)
            throw new ArgumentOutOfRangeException(nameof(from), from, $"samples [{from}, {from + length}) are not all kept (kept: [{Start}, {End})).");
        return data.AsSpan(offset + (int)(from - Start), length);
    }

    public void Append(ReadOnlySpan<float> samples)
    {
        samples.CopyTo(Reserve(samples.Length));
        count += samples.Length;
    }

    public void AppendOne(float sample)
    {
        Reserve(1)[0] = sample;
        count++;
    }

    public void AppendZeros(int n)
    {
        Reserve(n)[..n].Clear();
        count += n;
    }

    /// <summary>Forgets the samples before absolute index <paramref name="from"/> (clamped to what is kept).</summary>
    public void DropBefore(long from)
    {
        long drop = Math.Clamp(from - Start, 0, count);
        offset += (int)drop;
        count -= (int)drop;
        Start += drop;
    }

    public void Clear()
    {
        offset = 0;
        count = 0;
        Start = 0;
    }

    private Span<float> Reserve(int n)
    {
        if (offset + count + n > data.Length)
        {
            if (count + n > data.Length)
            {
                var bigger = new float[Math.Max(count + n, data.Length * 2)];
                data.AsSpan(offset, count).CopyTo(bigger);
                data = bigger;
            }
            else
            {
                data.AsSpan(offset, count).CopyTo(data); // move down: what was dropped is reused
            }
            offset = 0;
        }
        return data.AsSpan(offset + count, n);
    }
}
