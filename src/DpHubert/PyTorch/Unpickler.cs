using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Numerics;
using System.Text;
using TorchSharp;

namespace DpHubert.PyTorch;

/// <summary>
/// Our own, not PyBridge's unpickler: it must check every global against an allow-list and build configs, not only tensors.
/// A pickle virtual machine (protocols 0-5) that builds a plain object graph and never runs Python code:
/// every GLOBAL is checked against <see cref="PickleNames"/>, and the few callables it allows are
/// implemented here. Tensors come out as <see cref="PendingTensor"/>s; omegaconf/Namespace objects as
/// <see cref="PyObject"/>s, which <see cref="TorchCheckpointReader"/> converts afterwards.
/// </summary>
internal sealed class Unpickler
{
    private readonly Stream _in;
    private readonly string _file;
    private readonly Func<object?, object?> _persistentLoad;
    private List<object?> _stack = new();
    private readonly Stack<List<object?>> _marks = new();
    private readonly Dictionary<long, object?> _memo = new();

    public Unpickler(Stream input, string file, Func<object?, object?> persistentLoad)
    {
        _in = input;
        _file = file;
        _persistentLoad = persistentLoad;
    }

    /// <summary>Reads one pickle up to and including its STOP opcode.</summary>
    public object? Load()
    {
        _stack.Clear();
        _marks.Clear();
        _memo.Clear();
        while (true)
        {
            var op = _in.ReadByte();
            if (op < 0)
                throw Error("pickle ended before its STOP opcode");
            switch (op)
            {
                case 0x80: ReadByte(); break; // PROTO
                case 0x95: ReadBytes(8); break; // FRAME: framing is only a read-ahead hint
                case '.': return Pop(); // STOP
                case '(': _marks.Push(_stack); _stack = new List<object?>(); break; // MARK: start a new stack, as CPython does
                case '0': Pop(); break;
                case '1': PopMark(); break;
                case '2': Push(Peek()); break;
                case 'N': Push(null); break;
                case 0x88: Push(true); break;
                case 0x89: Push(false); break;
                case 'K': Push((long)ReadByte()); break;
                case 'M': Push((long)BinaryPrimitives.ReadUInt16LittleEndian(ReadBytes(2))); break;
                case 'J': Push((long)BinaryPrimitives.ReadInt32LittleEndian(ReadBytes(4))); break;
                case 0x8a: Push(DecodeLong(ReadBytes(ReadByte()))); break; // LONG1
                case 0x8b: Push(DecodeLong(ReadBytes(ReadLength(BinaryPrimitives.ReadInt32LittleEndian(ReadBytes(4)))))); break; // LONG4
                case 'I': Push(ParseIntLine(ReadLine())); break;
                case 'L': Push(ParseLong(ReadLine().TrimEnd('L'))); break;
                case 'F': Push(double.Parse(ReadLine(), NumberStyles.Float, CultureInfo.InvariantCulture)); break;
                case 'G': Push(BinaryPrimitives.ReadDoubleBigEndian(ReadBytes(8))); break; // BINFLOAT
                case 'X': Push(Encoding.UTF8.GetString(ReadBytes(ReadLength(BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4)))))); break;
                case 0x8c: Push(Encoding.UTF8.GetString(ReadBytes(ReadByte()))); break; // SHORT_BINUNICODE
                case 0x8d: Push(Encoding.UTF8.GetString(ReadBytes(ReadLength(BinaryPrimitives.ReadUInt64LittleEndian(ReadBytes(8)))))); break;
                case 'V': Push(DecodeRawUnicodeEscape(ReadLine())); break;
                case 'S': Push(ParseQuotedString(ReadLine())); break; // py2 str: read as text
                case 'T': Push(Encoding.Latin1.GetString(ReadBytes(ReadLength(BinaryPrimitives.ReadInt32LittleEndian(ReadBytes(4)))))); break;
                case 'U': Push(Encoding.Latin1.GetString(ReadBytes(ReadByte()))); break;
                case 'B': Push(ReadBytes(ReadLength(BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4))))); break; // BINBYTES
                case 'C': Push(ReadBytes(ReadByte())); break; // SHORT_BINBYTES
                case 0x8e or 0x96: Push(ReadBytes(ReadLength(BinaryPrimitives.ReadUInt64LittleEndian(ReadBytes(8))))); break;
                case ')': Push(Array.Empty<object?>()); break;
                case 't': Push(PopMark().ToArray()); break;
                case 0x85: Push(new[] { Pop() }); break;
                case 0x86: { var b = Pop(); var a = Pop(); Push(new[] { a, b }); break; }
                case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); Push(new[] { a, b, c }); break; }
                case ']': Push(new List<object?>()); break;
                case 'l': Push(PopMark()); break;
                case 'a': { var v = Pop(); AsList(Peek()).Add(v); break; }
                case 'e': { var items = PopMark(); AsList(Peek()).AddRange(items); break; }
                case '}': Push(new PyDict()); break;
                case 'd': { var items = PopMark(); var d = new PyDict(); SetItems(d, items); Push(d); break; }
                case 's': { var v = Pop(); var k = Pop(); SetItems(Peek(), new List<object?> { k, v }); break; }
                case 'u': { var items = PopMark(); SetItems(Peek(), items); break; }
                case 0x8f: Push(new List<object?>()); break; // EMPTY_SET: sets become lists
                case 0x90: { var items = PopMark(); AsList(Peek()).AddRange(items); break; } // ADDITEMS
                case 0x91: Push(PopMark()); break; // FROZENSET
                case 'p': _memo[ParseLong(ReadLine())] = Peek(); break;
                case 'q': _memo[ReadByte()] = Peek(); break;
                case 'r': _memo[BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4))] = Peek(); break;
                case 0x94: _memo[_memo.Count] = Peek(); break; // MEMOIZE
                case 'g': Push(MemoGet(ParseLong(ReadLine()))); break;
                case 'h': Push(MemoGet(ReadByte())); break;
                case 'j': Push(MemoGet(BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4)))); break;
                case 'c': { var module = ReadLine(); var name = ReadLine(); Push(ResolveGlobal(module, name)); break; }
                case 0x93: { var name = Pop() as string; var module = Pop() as string; if (module is null || name is null) throw Error("STACK_GLOBAL needs two strings"); Push(ResolveGlobal(module, name)); break; }
                case 'R': { var args = Pop(); var fn = Pop(); Push(Call(fn, AsTuple(args, "REDUCE"), null)); break; }
                case 0x81: { var args = Pop(); var cls = Pop(); Push(Call(cls, AsTuple(args, "NEWOBJ"), null, isNew: true)); break; }
                case 0x92: { var kwargs = Pop(); var args = Pop(); var cls = Pop(); Push(Call(cls, AsTuple(args, "NEWOBJ_EX"), kwargs as PyDict, isNew: true)); break; }
                case 'o': { var items = PopMark(); if (items.Count == 0) throw Error("OBJ without a class"); Push(Call(items[0], items.GetRange(1, items.Count - 1).ToArray(), null)); break; }
                case 'i': { var module = ReadLine(); var name = ReadLine(); var cls = ResolveGlobal(module, name); Push(Call(cls, PopMark().ToArray(), null)); break; }
                case 'b': { var state = Pop(); Build(Peek(), state); break; }
                case 'P': Push(_persistentLoad(ReadLine())); break;
                case 'Q': Push(_persistentLoad(Pop())); break;
                case 0x82 or 0x83 or 0x84: throw new UnsafePickleException("copyreg extension registry", _file); // EXT1/2/4
                case 0x97 or 0x98: throw Error("out-of-band pickle buffers are not supported");
                default: throw Error($"unknown pickle opcode 0x{op:x2} at byte {_in.Position - 1}");
            }
        }
    }

    private CheckpointFormatException Error(string message) => new(message, _file);

    private void Push(object? value) => _stack.Add(value);

    private object? Peek() => _stack.Count > 0 ? _stack[^1] : throw Error("pickle stack underflow");

    private object? Pop()
    {
        if (_stack.Count == 0)
            throw Error("pickle stack underflow");
        var v = _stack[^1];
        _stack.RemoveAt(_stack.Count - 1);
        return v;
    }

    /// <summary>Returns the items pushed since the last MARK and restores the stack below it.</summary>
    private List<object?> PopMark()
    {
        if (_marks.Count == 0)
            throw Error("pickle MARK missing");
        var items = _stack;
        _stack = _marks.Pop();
        return items;
    }

    private object? MemoGet(long key) =>
        _memo.TryGetValue(key, out var v) ? v : throw Error($"pickle memo key {key} is missing");

    private int ReadByte()
    {
        var b = _in.ReadByte();
        return b >= 0 ? b : throw Error("pickle is truncated");
    }

    private int ReadLength(ulong length) => ReadLength(length > long.MaxValue ? -1 : (long)length);

    private int ReadLength(long length)
    {
        // A corrupt length must not make us allocate gigabytes before noticing the stream is short.
        if (length < 0 || length > int.MaxValue || (_in.CanSeek && length > _in.Length - _in.Position))
            throw Error($"pickle is truncated (item of {length} bytes)");
        return (int)length;
    }

    private byte[] ReadBytes(int count)
    {
        var buffer = new byte[count];
        if (_in.ReadAtLeast(buffer, count, throwOnEndOfStream: false) < count)
            throw Error("pickle is truncated");
        return buffer;
    }

    private string ReadLine()
    {
        var bytes = new List<byte>();
        while (true)
        {
            var b = ReadByte();
            if (b == '\n')
                break;
            bytes.Add((byte)b);
        }
        if (bytes.Count > 0 && bytes[^1] == '\r')
            bytes.RemoveAt(bytes.Count - 1);
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    private object ParseIntLine(string line) => line switch
    {
        "00" => false,
        "01" => true,
        _ => ParseLong(line),
    };

    private long ParseLong(string text) =>
        long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v)
            ? v
            : throw Error($"bad integer '{text}' in pickle");

    /// <summary>Little-endian two's complement; long when it fits (the usual case), BigInteger otherwise.</summary>
    private static object DecodeLong(byte[] bytes)
    {
        if (bytes.Length == 0)
            return 0L;
        var value = new BigInteger(bytes, isUnsigned: false, isBigEndian: false);
        return value >= long.MinValue && value <= long.MaxValue ? (object)(long)value : value;
    }

    private static string DecodeRawUnicodeEscape(string s)
    {
        if (!s.Contains("\\u", StringComparison.Ordinal) && !s.Contains("\\U", StringComparison.Ordinal))
            return s;
        var sb = new StringBuilder();
        for (var i = 0; i < s.Length; i++)
        {
            if (s[i] == '\\' && i + 5 < s.Length && s[i + 1] == 'u')
            {
                sb.Append((char)int.Parse(s.AsSpan(i + 2, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                i += 5;
            }
            else if (s[i] == '\\' && i + 9 < s.Length && s[i + 1] == 'U')
            {
                sb.Append(char.ConvertFromUtf32(int.Parse(s.AsSpan(i + 2, 8), NumberStyles.HexNumber, CultureInfo.InvariantCulture)));
                i += 9;
            }
            else
                sb.Append(s[i]);
        }
        return sb.ToString();
    }

    private string ParseQuotedString(string line)
    {
        if (line.Length < 2 || line[0] != line[^1] || (line[0] != '\'' && line[0] != '"'))
            throw Error("bad STRING opcode argument");
        var body = line[1..^1];
        var sb = new StringBuilder();
        for (var i = 0; i < body.Length; i++)
        {
            if (body[i] != '\\' || i + 1 >= body.Length)
            {
                sb.Append(body[i]);
                continue;
            }
            var c = body[++i];
            switch (c)
            {
                case 'n': sb.Append('\n'); break;
                case 't': sb.Append('\t'); break;
                case 'r': sb.Append('\r'); break;
                case 'x' when i + 2 < body.Length:
                    sb.Append((char)int.Parse(body.AsSpan(i + 1, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                    i += 2;
                    break;
                default: sb.Append(c); break;
            }
        }
        return sb.ToString();
    }

    private List<object?> AsList(object? o) => o switch
    {
        List<object?> l => l,
        PendingRecord r => r.ListItems ??= new List<object?>(), // a list subclass outside the allow-list
        _ => throw Error($"APPEND to a {Describe(o)}"),
    };

    private object?[] AsTuple(object? o, string op) =>
        o as object?[] ?? throw Error($"{op} arguments are a {Describe(o)}, not a tuple");

    private void SetItems(object? target, List<object?> items)
    {
        var dict = target switch
        {
            PyDict d => d,
            PendingRecord r => r.DictItems ??= new PyDict(), // a dict subclass outside the allow-list
            _ => throw Error($"SETITEM on a {Describe(target)}"),
        };
        if (items.Count % 2 != 0)
            throw Error("SETITEMS with an odd number of items");
        for (var i = 0; i < items.Count; i += 2)
            dict[HashableKey(items[i])] = items[i + 1];
    }

    private List<object?> DictPairs(object? mapping)
    {
        if (mapping is not PyDict d)
            throw Error($"expected a dict, got a {Describe(mapping)}");
        var items = new List<object?>();
        foreach (var kv in d)
        {
            items.Add(kv.Key is NoneKey ? null : kv.Key);
            items.Add(kv.Value);
        }
        return items;
    }

    private object HashableKey(object? key) => key switch
    {
        null => NoneKey.Instance,
        string or long or double or bool or BigInteger or object?[] => key,
        PyGlobal g => g.FullName,
        _ => throw Error($"unsupported dict key of type {Describe(key)}"),
    };

    private static string Describe(object? o) => o switch
    {
        null => "None",
        PyObject p => p.Type.FullName,
        PyGlobal g => g.FullName,
        ForeignGlobal g => g.FullName,
        PendingRecord r => r.TypeName,
        _ => o.GetType().Name,
    };

    /// <summary>An allowed global, or a <see cref="ForeignGlobal"/> that can only become an inert record.</summary>
    private object ResolveGlobal(string rawModule, string rawName)
    {
        var module = PickleNames.Python3Module(rawModule);
        var name = PickleNames.Python3Name(module, rawName);
        var full = $"{module}.{name}";
        if (!PickleNames.IsAllowed(full, module, name))
            return new ForeignGlobal(module, name);
        return new PyGlobal(module, name);
    }

    /// <summary>
    /// REDUCE / NEWOBJ: the only "calls" a checkpoint can make, each implemented here. A class outside the
    /// allow-list may only be instantiated the way pickle creates a plain object (<paramref name="isNew"/>:
    /// <c>cls.__new__</c>, no constructor), which yields an inert record; calling it is refused.
    /// </summary>
    private object? Call(object? callable, object?[] args, PyDict? kwargs, bool isNew = false)
    {
        if (callable is ForeignGlobal foreign)
            return isNew ? new PendingRecord(foreign.FullName, args, kwargs) : throw new UnsafePickleException(foreign.FullName, _file);
        if (callable is not PyGlobal fn)
            throw Error($"call of a {Describe(callable)}");
        var full = fn.FullName;
        if (PickleNames.InstanceClasses.Contains(full))
            return new PyObject(fn, args) { State = kwargs };
        switch (full)
        {
            case "collections.OrderedDict":
            case "builtins.dict":
            case var mapping when PickleNames.MappingClasses.Contains(mapping):
            {
                var d = new PyDict(full == "builtins.dict" ? PyDict.Dict : full == "collections.OrderedDict" ? PyDict.OrderedDict : full);
                if (args.Length > 0 && args[0] is List<object?> pairs)
                    foreach (var p in pairs)
                        if (p is object?[] { Length: 2 } kv)
                            d[HashableKey(kv[0])] = kv[1];
                        else
                            throw Error($"{full} expects (key, value) pairs");
                return d;
            }
            case "collections.defaultdict":
                // The default factory is dropped: nothing is ever called.
                return new PyDict("collections.defaultdict");
            case "builtins.list":
            case "builtins.set":
            case "builtins.frozenset":
                return args.Length == 0 ? new List<object?>() : args[0] switch
                {
                    List<object?> l => new List<object?>(l),
                    object?[] t => new List<object?>(t),
                    _ => throw Error($"{full} of a {Describe(args[0])}"),
                };
            case "builtins.bytearray":
                return args.Length == 0 ? Array.Empty<byte>() : args[0] switch
                {
                    byte[] b => b,
                    string s => Encoding.Latin1.GetBytes(s),
                    _ => throw Error($"bytearray of a {Describe(args[0])}"),
                };
            case "builtins.slice":
                return args;
            case "_codecs.encode":
                // Protocol 2 pickles bytes as _codecs.encode(latin-1 text, 'latin1').
                if (args.Length >= 1 && args[0] is string text)
                {
                    var enc = args.Length > 1 ? args[1] as string : "utf-8";
                    return enc is "latin1" or "latin-1" or "iso-8859-1" ? Encoding.Latin1.GetBytes(text) : Encoding.UTF8.GetBytes(text);
                }
                throw Error("_codecs.encode expects a string");
            case "copyreg._reconstructor":
                // Protocol 0/1 objects: _reconstructor(cls, object, None) creates an instance of cls.
                if (args.Length >= 1 && args[0] is PyGlobal cls && PickleNames.InstanceClasses.Contains(cls.FullName))
                    return new PyObject(cls, Array.Empty<object?>());
                if (args.Length >= 1 && args[0] is PyGlobal mappingClass && PickleNames.MappingClasses.Contains(mappingClass.FullName))
                {
                    // _reconstructor(cls, dict, items) initialises the dict subclass with the items.
                    var mapping = new PyDict(mappingClass.FullName);
                    if (args.Length >= 3 && args[2] is not null) SetItems(mapping, DictPairs(args[2]));
                    return mapping;
                }
                if (args.Length >= 1 && args[0] is ForeignGlobal plain)
                {
                    var record = new PendingRecord(plain.FullName, Array.Empty<object?>(), null);
                    var basis = args.Length >= 2 ? Describe(args[1]) : "builtins.object";
                    var init = args.Length >= 3 ? args[2] : null;
                    if (basis == "builtins.dict" && init is not null) SetItems(record, DictPairs(init));
                    else if (basis == "builtins.list" && init is List<object?> initItems) AsList(record).AddRange(initItems);
                    else if (basis != "builtins.object" && init is not null)
                        throw new UnsafePickleException(plain.FullName, _file, $"a subclass of {basis} initialised from a value");
                    return record;
                }
                throw new UnsafePickleException(args.Length >= 1 ? Describe(args[0]) : "copyreg._reconstructor", _file);
            case "torch._utils._rebuild_tensor":
            case "torch._utils._rebuild_tensor_v2":
            case "torch._utils._rebuild_tensor_v3":
                return RebuildTensor(full, args);
            case "torch._utils._rebuild_parameter":
            case "torch._utils._rebuild_parameter_with_state":
                return args.Length >= 1 && args[0] is PendingTensor data ? data : throw Error($"{full} of a {(args.Length > 0 ? Describe(args[0]) : "nothing")}");
            case "torch.Size":
                return args.Length == 0 ? Array.Empty<object?>() : AsTuple(args[0], "torch.Size");
            case "torch.device":
                return args.Length switch
                {
                    1 => args[0] as string ?? throw Error("torch.device expects a string"),
                    2 when args[1] is null => args[0] as string ?? throw Error("torch.device expects a string"),
                    2 => $"{args[0]}:{args[1]}",
                    _ => throw Error("torch.device expects one or two arguments"),
                };
            case "_operator.getitem":
            case "operator.getitem":
                // typing generics pickle as getitem(typing.Dict, (str, Any)); anything else is refused.
                if (args.Length == 2 && TypeText(args[0]) is { } origin && origin.StartsWith("typing.", StringComparison.Ordinal))
                {
                    var parameters = args[1] is object?[] tuple ? tuple : new[] { args[1] };
                    var texts = new List<string>();
                    foreach (var p in parameters)
                        texts.Add(TypeText(p) ?? throw new UnsafePickleException(full, _file));
                    return new PyTypeExpr($"{origin}[{string.Join(", ", texts)}]");
                }
                throw new UnsafePickleException(full, _file);
            case "builtins.type":
                return args is [null] ? new PyTypeExpr("builtins.NoneType") : throw new UnsafePickleException(full, _file);
            case "numpy.dtype":
                return args.Length >= 1 && args[0] is string descr ? new NumpyDType(descr) : throw Error("numpy.dtype expects a string");
            case "numpy.core.multiarray.scalar":
            case "numpy._core.multiarray.scalar":
                return NumpyScalar(args);
            default:
                // Allowed as a value (e.g. a type in omegaconf metadata) but not as something to call.
                throw new UnsafePickleException(full, _file);
        }
    }

    /// <summary>The text of a type-like value (a global, a typing expression or None), else null.</summary>
    private static string? TypeText(object? o) => o switch
    {
        PyGlobal g => g.FullName,
        PyTypeExpr t => t.Text,
        null => "None",
        object?[] tuple => "[" + string.Join(", ", Array.ConvertAll(tuple, x => TypeText(x) ?? "?")) + "]",
        _ => null,
    };

    private PendingTensor RebuildTensor(string fn, object?[] args)
    {
        if (args.Length < 4 || args[0] is not StorageRef storage || args[1] is not long offset)
            throw Error($"{fn} has unexpected arguments");
        var size = LongTuple(args[2], fn);
        var stride = LongTuple(args[3], fn);
        torch.ScalarType? dtype = null;
        if (fn.EndsWith("_v3", StringComparison.Ordinal) && args.Length >= 7 && args[6] is PyGlobal dt
            && dt.Module == "torch" && DTypeNames.Torch.TryParse(dt.Name, out var parsed))
            dtype = parsed;
        return new PendingTensor(storage, offset, size, stride, dtype);
    }

    private long[] LongTuple(object? o, string fn)
    {
        var items = o as object?[] ?? throw Error($"{fn}: size/stride is a {Describe(o)}, not a tuple");
        var result = new long[items.Length];
        for (var i = 0; i < items.Length; i++)
            result[i] = items[i] is long v ? v : throw Error($"{fn}: size/stride holds a {Describe(items[i])}");
        return result;
    }

    private object NumpyScalar(object?[] args)
    {
        if (args.Length < 2 || args[0] is not NumpyDType dtype || args[1] is not byte[] data)
            throw Error("numpy scalar has unexpected arguments");
        var descr = dtype.Descr.TrimStart('<', '>', '=', '|');
        var big = dtype.ByteOrder == ">" || dtype.Descr.StartsWith('>');
        var bytes = (byte[])data.Clone();
        if (big)
            Array.Reverse(bytes);
        return (descr, bytes.Length) switch
        {
            ("f8", 8) => BitConverter.ToDouble(bytes),
            ("f4", 4) => (double)BitConverter.ToSingle(bytes),
            ("f2", 2) => (double)BitConverter.ToHalf(bytes),
            ("i8", 8) => BitConverter.ToInt64(bytes),
            ("i4", 4) => (long)BitConverter.ToInt32(bytes),
            ("i2", 2) => (long)BitConverter.ToInt16(bytes),
            ("i1", 1) => (long)(sbyte)bytes[0],
            ("u8", 8) => (long)BitConverter.ToUInt64(bytes),
            ("u4", 4) => (long)BitConverter.ToUInt32(bytes),
            ("u2", 2) => (long)BitConverter.ToUInt16(bytes),
            ("u1", 1) => (long)bytes[0],
            ("b1", 1) => bytes[0] != 0,
            _ => throw Error($"unsupported numpy scalar dtype '{dtype.Descr}'"),
        };
    }

    private void Build(object? target, object? state)
    {
        switch (target)
        {
            case PyObject obj:
                obj.State = state;
                break;
            case NumpyDType dt:
                // state = (version, byteorder, subarray, names, fields, elsize, alignment, flags)
                if (state is object?[] { Length: > 1 } t && t[1] is string order)
                    dt.ByteOrder = order;
                break;
            case PendingTensor:
                break; // Parameter attributes (_rebuild_parameter_with_state) are not needed.
            case PendingRecord record:
                record.State = state;
                break;
            case PyDict dict:
                // BUILD sets instance attributes, not items: e.g. a state_dict's _metadata (module versions).
                dict.Attributes = state as PyDict;
                break;
            default:
                throw Error($"BUILD on a {Describe(target)}");
        }
    }

    /// <summary>Dictionary key standing for Python's None.</summary>
    internal sealed class NoneKey
    {
        public static readonly NoneKey Instance = new();

        public override string ToString() => "None";
    }
}
