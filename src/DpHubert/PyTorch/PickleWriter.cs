using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Numerics;
using System.Text;

namespace DpHubert.PyTorch;

/// <summary>
/// Our own, not PyBridge's: it writes whole checkpoint values (configs and tensors), not only a flat state_dict.
/// Writes the checkpoint value model as a protocol-2 pickle the way <c>torch.save</c> does, handing each tensor
/// to a callback that assigns it a storage key.
/// </summary>
internal sealed class PickleWriter
{
    private const int BatchSize = 1000; // as CPython: SETITEMS/APPENDS in batches

    private readonly Stream _out;
    private readonly Func<Tensor, string> _addStorage;
    private readonly Dictionary<string, int> _globals = new();
    private readonly HashSet<object> _active = new(ReferenceEqualityComparer.Instance);
    private int _memoCount;

    public PickleWriter(Stream output, Func<Tensor, string> addStorage)
    {
        _out = output;
        _addStorage = addStorage;
    }

    public void Dump(object? value)
    {
        _out.WriteByte(0x80);
        _out.WriteByte(2);
        Write(value);
        _out.WriteByte((byte)'.');
    }

    private void Write(object? value)
    {
        switch (value)
        {
            case null: _out.WriteByte((byte)'N'); break;
            case bool b: _out.WriteByte(b ? (byte)0x88 : (byte)0x89); break;
            case long l: WriteInt(l); break;
            case int i: WriteInt(i); break;
            case short sh: WriteInt(sh); break;
            case sbyte sb: WriteInt(sb); break;
            case byte by: WriteInt(by); break;
            case uint ui: WriteInt(ui); break;
            case BigInteger big: WriteLong1(big); break;
            case double d: WriteFloat(d); break;
            case float f: WriteFloat(f); break;
            case string s: WriteString(s); break;
            case byte[] bytes:
                // Protocol 2 has no bytes opcode: Python writes _codecs.encode(latin-1 text, 'latin1').
                WriteGlobal("_codecs", "encode");
                WriteString(Encoding.Latin1.GetString(bytes));
                WriteString("latin1");
                _out.WriteByte(0x86); // TUPLE2
                _out.WriteByte((byte)'R');
                break;
            case Tensor t: WriteTensor(t); break;
            case PyDict dict: Enter(dict); WriteDict(dict); _active.Remove(dict); break;
            case object?[] tuple: Enter(tuple); WriteTuple(tuple); _active.Remove(tuple); break;
            case System.Collections.IList list: Enter(list); WriteList(list); _active.Remove(list); break;
            default:
                throw new ArgumentException($"cannot write a {value.GetType().Name} to a torch checkpoint; use PyDict, List, object?[], scalars, strings, byte[] or Tensor");
        }
    }

    private void Enter(object container)
    {
        // Without memoisation a cycle would recurse forever; torch.save output never needs one.
        if (!_active.Add(container))
            throw new ArgumentException("cannot write a container that contains itself");
    }

    private void WriteInt(long v)
    {
        if (v >= 0 && v <= 0xff)
        {
            _out.WriteByte((byte)'K');
            _out.WriteByte((byte)v);
        }
        else if (v >= 0 && v <= 0xffff)
        {
            _out.WriteByte((byte)'M');
            Span<byte> b = stackalloc byte[2];
            BinaryPrimitives.WriteUInt16LittleEndian(b, (ushort)v);
            _out.Write(b);
        }
        else if (v >= int.MinValue && v <= int.MaxValue)
        {
            _out.WriteByte((byte)'J');
            Span<byte> b = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(b, (int)v);
            _out.Write(b);
        }
        else
            WriteLong1(v);
    }

    private void WriteLong1(BigInteger v)
    {
        var bytes = v.ToByteArray(isUnsigned: false, isBigEndian: false);
        if (bytes.Length > 255)
            throw new ArgumentException("integer too large for the pickle writer");
        _out.WriteByte(0x8a);
        _out.WriteByte((byte)bytes.Length);
        _out.Write(bytes);
    }

    private void WriteFloat(double d)
    {
        _out.WriteByte((byte)'G');
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteDoubleBigEndian(b, d);
        _out.Write(b);
    }

    private void WriteString(string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        _out.WriteByte((byte)'X');
        Span<byte> len = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(len, (uint)bytes.Length);
        _out.Write(len);
        _out.Write(bytes);
    }

    /// <summary>GLOBAL, memoised so that repeated references cost a BINGET, as pickle does.</summary>
    private void WriteGlobal(string module, string name)
    {
        var key = module + "\n" + name;
        if (_globals.TryGetValue(key, out var index))
        {
            WriteGet(index);
            return;
        }
        _out.WriteByte((byte)'c');
        _out.Write(Encoding.ASCII.GetBytes(key + "\n"));
        index = _memoCount++;
        _globals[key] = index;
        WritePut(index);
    }

    private void WritePut(int index)
    {
        Span<byte> b = stackalloc byte[4];
        if (index < 256)
        {
            _out.WriteByte((byte)'q');
            _out.WriteByte((byte)index);
        }
        else
        {
            _out.WriteByte((byte)'r');
            BinaryPrimitives.WriteInt32LittleEndian(b, index);
            _out.Write(b);
        }
    }

    private void WriteGet(int index)
    {
        Span<byte> b = stackalloc byte[4];
        if (index < 256)
        {
            _out.WriteByte((byte)'h');
            _out.WriteByte((byte)index);
        }
        else
        {
            _out.WriteByte((byte)'j');
            BinaryPrimitives.WriteInt32LittleEndian(b, index);
            _out.Write(b);
        }
    }

    private void WriteDict(PyDict dict)
    {
        if (dict.PythonType == PyDict.OrderedDict)
        {
            // collections.OrderedDict() then SETITEMS, as pickle writes an OrderedDict's __reduce__.
            WriteGlobal("collections", "OrderedDict");
            _out.WriteByte((byte)')');
            _out.WriteByte((byte)'R');
        }
        else
            _out.WriteByte((byte)'}');

        var n = 0;
        foreach (var kv in dict)
        {
            if (n % BatchSize == 0)
            {
                if (n > 0)
                    _out.WriteByte((byte)'u');
                _out.WriteByte((byte)'(');
            }
            Write(kv.Key is Unpickler.NoneKey ? null : kv.Key);
            Write(kv.Value);
            n++;
        }
        if (n > 0)
            _out.WriteByte((byte)'u');
    }

    private void WriteList(System.Collections.IList list)
    {
        _out.WriteByte((byte)']');
        var n = 0;
        foreach (var item in list)
        {
            if (n % BatchSize == 0)
            {
                if (n > 0)
                    _out.WriteByte((byte)'e');
                _out.WriteByte((byte)'(');
            }
            Write(item);
            n++;
        }
        if (n > 0)
            _out.WriteByte((byte)'e');
    }

    private void WriteTuple(object?[] tuple)
    {
        switch (tuple.Length)
        {
            case 0: _out.WriteByte((byte)')'); return;
            case 1: Write(tuple[0]); _out.WriteByte(0x85); return;
            case 2: Write(tuple[0]); Write(tuple[1]); _out.WriteByte(0x86); return;
            case 3: Write(tuple[0]); Write(tuple[1]); Write(tuple[2]); _out.WriteByte(0x87); return;
            default:
                _out.WriteByte((byte)'(');
                foreach (var item in tuple)
                    Write(item);
                _out.WriteByte((byte)'t');
                return;
        }
    }

    private void WriteLongTuple(long[] values)
    {
        var boxed = new object?[values.Length];
        for (var i = 0; i < values.Length; i++)
            boxed[i] = values[i];
        WriteTuple(boxed);
    }

    /// <summary>
    /// _rebuild_tensor_v2(persistent storage, 0, size, contiguous stride, False, OrderedDict()), each tensor
    /// with its own storage.
    /// </summary>
    private void WriteTensor(Tensor t)
    {
        var storageName = DTypeNames.TorchStorage.NameOf(t.dtype); // throws for unsupported dtypes before writing anything
        var shape = t.shape;
        var stride = new long[shape.Length];
        long acc = 1;
        for (var i = shape.Length - 1; i >= 0; i--)
        {
            stride[i] = acc;
            acc *= shape[i];
        }
        var key = _addStorage(t);

        WriteGlobal("torch._utils", "_rebuild_tensor_v2");
        _out.WriteByte((byte)'(');
        _out.WriteByte((byte)'(');
        WriteString("storage");
        WriteGlobal("torch", storageName);
        WriteString(key);
        WriteString("cpu");
        WriteInt(acc);
        _out.WriteByte((byte)'t');
        _out.WriteByte((byte)'Q'); // BINPERSID
        WriteInt(0);
        WriteLongTuple(shape);
        WriteLongTuple(stride);
        _out.WriteByte(0x89); // requires_grad = False
        WriteGlobal("collections", "OrderedDict");
        _out.WriteByte((byte)')');
        _out.WriteByte((byte)'R');
        _out.WriteByte((byte)'t');
        _out.WriteByte((byte)'R');
    }
}
