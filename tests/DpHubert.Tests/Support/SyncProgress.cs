using System;

namespace DpHubert.Tests.Support;

/// <summary>Reports on the reporting thread, in order (Progress&lt;T&gt; would post to the thread pool).</summary>
internal sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
