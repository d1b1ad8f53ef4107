using System;
using System.Collections.Generic;
using DpHubert.Config;

namespace DpHubert.Checkpoints;

/// <summary>
/// Parses fairseq's <c>conv_feature_layers</c> string, a Python expression such as
/// <c>[(512,10,5)] + [(512,3,2)] * 4 + [(512,2,2)] * 2</c>, without evaluating anything: the grammar is
/// <c>sum := term ('+' term)*</c>, <c>term := list ('*' int)? | int '*' list</c>, <c>list := '[' tuple (',' tuple)* ','? ']'</c>,
/// <c>tuple := '(' int ',' int ',' int ','? ')'</c>.
/// </summary>
public static class FairseqConvLayers
{
    /// <summary>Parses the expression into the typed conv stack (the one parse: nothing rewrites it as a string or
    /// dictionary value afterwards).</summary>
    /// <param name="text">The <c>conv_feature_layers</c> value.</param>
    /// <exception cref="FormatException">Anything outside the grammar; the message shows the position.</exception>
    public static EquatableArray<ConvLayerSpec> Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var p = new Parser(text);
        var result = p.Sum();
        p.SkipSpace();
        if (!p.AtEnd) throw p.Error("unexpected text");
        if (result.Count == 0) throw new FormatException($"conv_feature_layers '{text}' has no layers");
        return result.ToEquatableArray();
    }

    private sealed class Parser
    {
        private readonly string _s;
        private int _i;

        public Parser(string s) => _s = s;

        public bool AtEnd => _i >= _s.Length;

        public void SkipSpace()
        {
            while (_i < _s.Length && char.IsWhiteSpace(_s[_i])) _i++;
        }

        private bool Accept(char c)
        {
            SkipSpace();
            if (_i < _s.Length && _s[_i] == c)
            {
                _i++;
                return true;
            }
            return false;
        }

        private void Expect(char c)
        {
            if (!Accept(c)) throw Error($"expected '{c}'");
        }

        public FormatException Error(string what) =>
            new($"conv_feature_layers '{_s}': {what} at position {_i}");

        private bool PeekDigit()
        {
            SkipSpace();
            return _i < _s.Length && char.IsAsciiDigit(_s[_i]);
        }

        private int Int()
        {
            SkipSpace();
            int start = _i;
            while (_i < _s.Length && char.IsAsciiDigit(_s[_i])) _i++;
            if (start == _i) throw Error("expected an integer");
            if (_i - start > 9) throw Error("integer too large");
            return int.Parse(_s.AsSpan(start, _i - start), System.Globalization.CultureInfo.InvariantCulture);
        }

        public List<ConvLayerSpec> Sum()
        {
            var all = Term();
            while (Accept('+')) all.AddRange(Term());
            return all;
        }

        private List<ConvLayerSpec> Term()
        {
            int repeat = 1;
            if (PeekDigit())
            {
                repeat = Int();
                Expect('*');
            }
            var list = List();
            if (Accept('*')) repeat *= Int();
            if (repeat > 10_000) throw Error("repeat count too large");
            var result = new List<ConvLayerSpec>();
            for (int r = 0; r < repeat; r++) result.AddRange(list);
            return result;
        }

        private List<ConvLayerSpec> List()
        {
            Expect('[');
            var items = new List<ConvLayerSpec>();
            if (Accept(']')) return items;
            do
            {
                SkipSpace();
                if (_i < _s.Length && _s[_i] == ']') break;
                items.Add(Tuple());
            }
            while (Accept(','));
            Expect(']');
            return items;
        }

        private ConvLayerSpec Tuple()
        {
            Expect('(');
            int dim = Int();
            Expect(',');
            int kernel = Int();
            Expect(',');
            int stride = Int();
            Accept(',');
            Expect(')');
            return new ConvLayerSpec(dim, kernel, stride);
        }
    }
}
