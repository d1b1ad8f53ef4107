using System;
using System.IO;
using System.Linq;
using DpHubert.Config;
using DpHubert.Tests.Support;
using FluentAssertions;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace DpHubert.Tests.Modules;

[CollectionDefinition("MetaDevice", DisableParallelization = true)]
public class MetaDeviceCollection
{
}

/// <summary>
/// Every preset built on the meta device (no weights allocated): its sorted <c>key shape</c> list must equal the
/// checked-in snapshot in Fixtures/snapshots. A mismatch writes <c>*.received.txt</c> beside the build output for diffing.
/// </summary>
[Collection("MetaDevice")]
public class StateDictSnapshotTests
{
    public static TheoryData<string> Presets => new()
    {
        "wav2vec2_base", "wav2vec2_large", "wav2vec2_large_lv60k", "hubert_base", "hubert_large", "hubert_xlarge",
        "wavlm_base", "wavlm_large",
    };

    internal static string Snapshot(string preset)
    {
        var previous = get_default_device();
        set_default_device(new Device(DeviceType.META));
        try
        {
            using var model = ModelFactory.Build(Wav2Vec2Config.Preset(preset));
            var sd = model.state_dict();
            sd.Values.Should().OnlyContain(t => t.device_type == DeviceType.META, "nothing may be allocated for a snapshot");
            return string.Join("\n", sd.OrderBy(kv => kv.Key, StringComparer.Ordinal)
                .Select(kv => $"{kv.Key} {Shapes(kv.Value.shape)}")) + "\n";
        }
        finally
        {
            set_default_device(previous);
        }
    }

    private static string Shapes(long[] shape) => "[" + string.Join(", ", shape) + "]";

    [Theory]
    [MemberData(nameof(Presets))]
    public void Preset_keys_and_shapes_match_the_snapshot(string preset)
    {
        var actual = Snapshot(preset);
        var approved = TestFiles.Fixture("snapshots", preset + ".approved.txt");
        if (!File.Exists(approved) || File.ReadAllText(approved) != actual)
            File.WriteAllText(Path.Combine(AppContext.BaseDirectory, preset + ".received.txt"), actual);
        File.Exists(approved).Should().BeTrue($"the snapshot {approved} must exist (a .received.txt was written)");
        actual.Should().Be(File.ReadAllText(approved));
    }

    [Theory]
    [InlineData("hubert_base", 211, 94_371_456L)]
    [InlineData("wavlm_base", 248, 94_381_680L)]
    public void Key_count_and_size_match_torchaudio(string preset, int keys, long parameters)
    {
        var lines = Snapshot(preset).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        lines.Should().HaveCount(keys);
        long total = lines.Sum(l =>
        {
            var dims = l[(l.IndexOf('[') + 1)..^1].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            return dims.Aggregate(1L, (a, d) => a * long.Parse(d, System.Globalization.CultureInfo.InvariantCulture));
        });
        total.Should().Be(parameters);
    }
}
