using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Text;

namespace DpHubert.PyTorch;

/// <summary>
/// Our own, not System.IO.Compression's ZipArchive: that cannot place each entry's data on the 64-byte boundary torch's own writer uses.
/// A minimal zip writer for torch checkpoints: entries are stored (not compressed) and, like PyTorch's
/// PyTorchStreamWriter, padded with an extra field so that each entry's data starts on a 64-byte boundary
/// (lets torch map storages directly). Zip64 is not written, so the archive must stay under 4 GiB.
/// </summary>
internal sealed class StoredZipWriter
{
    private const int Alignment = 64;

    private readonly Stream _out;
    private readonly List<(string Name, uint Crc, long Size, long Offset, int ExtraLength)> _entries = new();

    public StoredZipWriter(Stream output) => _out = output;

    /// <summary>Writes one entry; <paramref name="writeData"/> writes its bytes, which are then CRC'd and patched in.</summary>
    public void AddEntry(string name, Action<Stream> writeData)
    {
        var nameBytes = Encoding.UTF8.GetBytes(name);
        var headerOffset = _out.Position;
        CheckZip32(headerOffset);
        var dataStart = headerOffset + 30 + nameBytes.Length;
        // "FB" extra field (id 0x4246, as torch uses) of 4+ bytes padding the data to the alignment.
        var pad = (int)((Alignment - (dataStart + 4) % Alignment) % Alignment);
        var extraLength = 4 + pad;

        Span<byte> header = stackalloc byte[30];
        WriteLocalHeader(header, 0, 0, nameBytes.Length, extraLength);
        _out.Write(header);
        _out.Write(nameBytes);
        Span<byte> extra = stackalloc byte[4];
        BinaryPrimitives.WriteUInt16LittleEndian(extra, 0x4246);
        BinaryPrimitives.WriteUInt16LittleEndian(extra[2..], (ushort)pad);
        _out.Write(extra);
        _out.Write(new byte[pad]);

        var dataOffset = _out.Position;
        var crcStream = new Crc32Stream(_out);
        writeData(crcStream);
        var size = _out.Position - dataOffset;
        CheckZip32(size);
        CheckZip32(_out.Position);

        // Patch CRC and sizes into the local header now that they are known.
        var end = _out.Position;
        _out.Position = headerOffset;
        WriteLocalHeader(header, crcStream.Crc, size, nameBytes.Length, extraLength);
        _out.Write(header);
        _out.Position = end;
        _entries.Add((name, crcStream.Crc, size, headerOffset, extraLength));
    }

    /// <summary>Writes the central directory and end record.</summary>
    public void Finish()
    {
        var cdStart = _out.Position;
        Span<byte> h = stackalloc byte[46];
        foreach (var e in _entries)
        {
            var nameBytes = Encoding.UTF8.GetBytes(e.Name);
            h.Clear();
            BinaryPrimitives.WriteUInt32LittleEndian(h, 0x02014b50);
            BinaryPrimitives.WriteUInt16LittleEndian(h[4..], 20); // version made by
            BinaryPrimitives.WriteUInt16LittleEndian(h[6..], 20); // version needed
            BinaryPrimitives.WriteUInt32LittleEndian(h[16..], e.Crc);
            BinaryPrimitives.WriteUInt32LittleEndian(h[20..], (uint)e.Size);
            BinaryPrimitives.WriteUInt32LittleEndian(h[24..], (uint)e.Size);
            BinaryPrimitives.WriteUInt16LittleEndian(h[28..], (ushort)nameBytes.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(h[42..], (uint)e.Offset);
            _out.Write(h);
            _out.Write(nameBytes);
        }
        var cdSize = _out.Position - cdStart;
        CheckZip32(_out.Position);
        if (_entries.Count > 0xffff)
            throw new NotSupportedException("too many zip entries for a zip32 archive");
        Span<byte> eocd = stackalloc byte[22];
        eocd.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(eocd, 0x06054b50);
        BinaryPrimitives.WriteUInt16LittleEndian(eocd[8..], (ushort)_entries.Count);
        BinaryPrimitives.WriteUInt16LittleEndian(eocd[10..], (ushort)_entries.Count);
        BinaryPrimitives.WriteUInt32LittleEndian(eocd[12..], (uint)cdSize);
        BinaryPrimitives.WriteUInt32LittleEndian(eocd[16..], (uint)cdStart);
        _out.Write(eocd);
    }

    private static void WriteLocalHeader(Span<byte> h, uint crc, long size, int nameLength, int extraLength)
    {
        h.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(h, 0x04034b50);
        BinaryPrimitives.WriteUInt16LittleEndian(h[4..], 20); // version needed
        // flags 0, method 0 (stored), DOS time/date 0 as torch writes
        BinaryPrimitives.WriteUInt32LittleEndian(h[14..], crc);
        BinaryPrimitives.WriteUInt32LittleEndian(h[18..], (uint)size);
        BinaryPrimitives.WriteUInt32LittleEndian(h[22..], (uint)size);
        BinaryPrimitives.WriteUInt16LittleEndian(h[26..], (ushort)nameLength);
        BinaryPrimitives.WriteUInt16LittleEndian(h[28..], (ushort)extraLength);
    }

    private static void CheckZip32(long value)
    {
        if (value > uint.MaxValue)
            throw new NotSupportedException("checkpoints over 4 GiB (zip64) are not supported by the writer");
    }

    /// <summary>Write-through stream computing the CRC-32 of what passes.</summary>
    private sealed class Crc32Stream : Stream
    {
        private static readonly uint[] Table = BuildTable();
        private readonly Stream _inner;
        private uint _crc = 0xffffffff;

        public Crc32Stream(Stream inner) => _inner = inner;

        public uint Crc => ~_crc;

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            var crc = _crc;
            foreach (var b in buffer)
                crc = Table[(crc ^ b) & 0xff] ^ (crc >> 8);
            _crc = crc;
            _inner.Write(buffer);
        }

        public override void Flush() => _inner.Flush();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        private static uint[] BuildTable()
        {
            var table = new uint[256];
            for (uint i = 0; i < 256; i++)
            {
                var c = i;
                for (var k = 0; k < 8; k++)
                    c = (c & 1) != 0 ? 0xedb88320 ^ (c >> 1) : c >> 1;
                table[i] = c;
            }
            return table;
        }
    }
}
