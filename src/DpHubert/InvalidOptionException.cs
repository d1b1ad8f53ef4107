using System;

namespace DpHubert;

/// <summary>An option value, or a combination of options, that the library refuses. <see cref="Option"/> is the
/// option at fault (also <see cref="ArgumentException.ParamName"/>, by its C# name); the message names it and every
/// other option it mentions, which <see cref="OptionText.Of"/> gives as data.</summary>
public sealed class InvalidOptionException : ArgumentException
{
    private readonly OptionText text;

    /// <summary>Creates the exception; the first option <paramref name="text"/> names is the one at fault.</summary>
    /// <param name="text">The message.</param>
    /// <param name="inner">The underlying error, if any.</param>
    public InvalidOptionException(OptionText text, Exception? inner = null)
        : base((text ?? throw new ArgumentNullException(nameof(text))).ToString(), FirstOption(text).Name, inner)
    {
        this.text = text;
        Option = FirstOption(text);
        text.Attach(this);
    }

    /// <summary>The option at fault.</summary>
    public ApiOption Option { get; }

    /// <summary>The message as the library words it (without .NET's "(Parameter ...)" suffix: it names the option
    /// itself).</summary>
    public override string Message => text.ToString();

    private static ApiOption FirstOption(OptionText text) => text.Options.Count > 0 ? text.Options[0]
        : throw new ArgumentException("an InvalidOptionException names its option", nameof(text));
}
