
namespace DpHubert;

/// <summary>Formats shapes for error messages: <c>[3, 16000]</c>, never <c>System.Int64[]</c>.</summary>
internal static class Shapes
{
    public static string Format(long[] shape) => "[" + string.Join(", ", shape) + "]";

    public static string Format(Tensor t) => Format(t.shape);
}
