using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Runtime.CompilerServices;

namespace DpHubert;

/// <summary>
/// The message of an error that names options of the library's API, with the options kept as data: the exception's
/// <see cref="Exception.Message"/> prints their C# names, and a front end prints the same message with its own names
/// for them (the console's flags) through <see cref="Render"/>, without rewriting text. Read it from an exception with
/// <see cref="Of"/>.
/// </summary>
/// <example>
/// <code>
/// catch (ArgumentException e) when (OptionText.Of(e) is { } text)
/// {
///     Console.Error.WriteLine(text.Render(o => o == ApiOption.BatchSize ? "--batch-size" : o.Name));
/// }
/// </code>
/// </example>
public sealed class OptionText
{
    private const string DataKey = "DpHubert.OptionText";
    private readonly FormattableString text;

    /// <summary>Creates the text; every <see cref="ApiOption"/> among the interpolated values is an option name.</summary>
    /// <param name="text">The message, e.g. <c>$"{BatchSizeOption} must be >= 1; got {value}."</c>.</param>
    public OptionText(FormattableString text)
    {
        ArgumentNullException.ThrowIfNull(text);
        this.text = text;
        Options = text.GetArguments().OfType<ApiOption>().Distinct().ToList();
    }

    /// <summary>The options the message names, in order of first mention.</summary>
    public IReadOnlyList<ApiOption> Options { get; }

    /// <summary>The message with each option printed as <paramref name="name"/> gives it (its C# name when null).</summary>
    /// <param name="name">A front end's name for an option.</param>
    public string Render(Func<ApiOption, string>? name = null)
    {
        var args = text.GetArguments().Select(a => a is ApiOption o ? name?.Invoke(o) ?? o.Name : a).ToArray();
        return string.Format(CultureInfo.InvariantCulture, text.Format, args);
    }

    /// <summary>This text followed by <paramref name="plain"/>, which names no option.</summary>
    /// <param name="plain">Text to append as it is (braces in it are not format items).</param>
    public OptionText Then(string plain) =>
        new(FormattableStringFactory.Create(text.Format + "{" + text.ArgumentCount.ToString(CultureInfo.InvariantCulture) + "}",
            text.GetArguments().Append(plain).ToArray()));

    /// <summary>The message with the options' C# names.</summary>
    public override string ToString() => Render();

    /// <summary>Attaches this text to <paramref name="exception"/> (whose message should be <see cref="ToString"/>).</summary>
    /// <returns>The exception, to throw.</returns>
    public TException Attach<TException>(TException exception) where TException : Exception
    {
        ArgumentNullException.ThrowIfNull(exception);
        exception.Data[DataKey] = this;
        return exception;
    }

    /// <summary>The option text an exception carries, or null.</summary>
    /// <param name="exception">An exception thrown by the library.</param>
    public static OptionText? Of(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        return exception.Data[DataKey] as OptionText;
    }

    /// <summary>An <see cref="InvalidOptionException"/> for the first option named, carrying this text.</summary>
    public InvalidOptionException Argument(Exception? inner = null) => new(this, inner);

    /// <summary>An <see cref="ArgumentOutOfRangeException"/> for <paramref name="actual"/>, whose
    /// <see cref="ArgumentException.ParamName"/> is the first option named, carrying this text.</summary>
    public ArgumentOutOfRangeException OutOfRange(object? actual) =>
        Attach(new ArgumentOutOfRangeException(Options.FirstOrDefault()?.Name, actual, ToString()));
}
