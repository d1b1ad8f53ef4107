using FluentAssertions;
using Xunit;

namespace DpHubert.Tests.Support;

/// <summary>The probe behind [PythonFact]: a missing module gives a reason (the test is skipped), not an exception.</summary>
public sealed class PythonProbeTests
{
    [Fact]
    public void A_missing_module_or_python_gives_a_skip_reason_that_names_it()
    {
        var reason = PythonProbe.Probe("import no_such_module_for_dphubert_tests");
        reason.Should().NotBeNull("the module does not exist, so the tests that need it must be skipped");
        reason.Should().Contain(PythonScript.Python);
    }
}
