using System;

namespace DpHubert.Extraction;

/// <summary>Which output of the model to return.</summary>
public readonly record struct LayerSelection
{
    private LayerSelection(int? index, bool all)
    {
        Index = index;
        All = all;
    }

    /// <summary>The model's final output, <c>model(wave)[0]</c> (aux logits when the model has an aux head).</summary>
    public static LayerSelection Final { get; } = new(null, false);

    /// <summary>Every <c>extract_features</c> output stacked: [layers + 1, frames, dim].</summary>
    public static LayerSelection AllLayers { get; } = new(null, true);

    /// <summary><c>extract_features</c> index <paramref name="index"/>: 0 = the transformer's input, N = after layer N.</summary>
    /// <param name="index">0..L.</param>
    public static LayerSelection Layer(int index) => index >= 0 ? new(index, false)
        : throw new ArgumentOutOfRangeException(nameof(index), index, "A layer index must be >= 0.");

    /// <summary>The <c>extract_features</c> index, or null for <see cref="Final"/> / <see cref="AllLayers"/>.</summary>
    public int? Index { get; }

    /// <summary>Whether every layer is selected.</summary>
    public bool All { get; }

    /// <summary>Parses <c>final</c>, <c>all</c> or a layer number (as the CLI's <c>--layer</c>).</summary>
    /// <param name="text">The text.</param>
    /// <exception cref="FormatException">Anything else.</exception>
    public static LayerSelection Parse(string? text) => text switch
    {
        null or "" or "final" => Final,
        "all" => AllLayers,
        _ when int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int n) => Layer(n),
        _ => throw NotALayer(text),
    };

    private static FormatException NotALayer(string text)
    {
        var message = new OptionText($"{ApiOption.Layers} must be a layer number, 'all' or 'final'; got '{text}'.");
        return message.Attach(new FormatException(message.ToString()));
    }

    /// <inheritdoc/>
    public override string ToString() => All ? "all" : Index?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "final";
}
