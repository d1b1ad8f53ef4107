using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text.Json;
using DpHubert.Checkpoints;
using DpHubert.Config;
using DpHubert.Tests.Support;
using FluentAssertions;
using Xunit;

namespace DpHubert.Tests.Checkpoints;

/// <summary>
/// The pruned checkpoint we write is what PyTorch expects: tools/checkpoints/load_dphubert.py torch.load()s it and
/// checks every key and shape against what DPHuBERT's wav2vec2_model(**config) registers (load_state_dict(strict=True)
/// semantics). Needs Debian's python3-torch, which tools/setup.sh installs.
/// </summary>
[Trait("Category", "Python")]
public class PrunedCheckpointInPyTorchTests
{
    [PythonTheory]
    [InlineData("prune_hubert")]
    [InlineData("prune_wavlm")]
    public void PyTorch_loads_our_pruned_checkpoint_strictly(string name)
    {
        string dir = TestFiles.TempDir();
        string path = Path.Combine(dir, "pruned_hubert_base.pth");
        Wav2Vec2Config config;
        using (var source = CheckpointLoader.Read(TestFiles.DpHubertCase(name, "checkpoint.pth")))
        using (var model = CheckpointLoader.BuildModel(source))
        {
            config = model.Prune();
            CheckpointWriter.SaveDpHubert(path, config, model.state_dict(), null);
        }

        string stdout = PythonScript.Run(Path.Combine("tools", "checkpoints", "load_dphubert.py"), path);

        using var summary = JsonDocument.Parse(stdout);
        var pyConfig = Wav2Vec2Config.FromJson(summary.RootElement.GetProperty("config").GetRawText());
        pyConfig.Should().Be(config);
        var info = TestFiles.CaseInfo(name);
        summary.RootElement.GetProperty("parameters").GetInt64().Should().Be(info.GetProperty("pruned_num_parameters_tensor_count").GetInt64());
        Wav2Vec2Config.FromJson(info.GetProperty("pruned_config").GetRawText()).Should().Be(pyConfig);
        summary.RootElement.GetProperty("distill_linear_projs").GetArrayLength().Should().Be(0);
        Directory.Delete(dir, true);
    }
}
