namespace DpHubert.PyTorch;

/// <summary>
/// A typing expression such as <c>typing.Optional[typing.Dict[str, typing.Any]]</c> (omegaconf 2.0 metadata),
/// kept as text only.
/// </summary>
internal sealed record PyTypeExpr(string Text);
