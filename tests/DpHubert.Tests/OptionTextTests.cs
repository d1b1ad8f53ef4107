using System;
using System.IO;
using DpHubert.Extraction;
using FluentAssertions;
using Xunit;

namespace DpHubert.Tests;

/// <summary>Errors that name library options carry them as data, so that a front end names them its own way.</summary>
public sealed class OptionTextTests
{
    [Fact]
    public void A_text_renders_with_the_CSharp_names_or_a_front_ends_names_and_keeps_other_values_as_they_are()
    {
        string path = "/data/{odd} name.wav";
        var text = new OptionText($"{ApiOption.Input} '{path}' is a folder, so {ApiOption.Output} must be one; {ApiOption.Input} again");
        text.Options.Should().Equal(ApiOption.Input, ApiOption.Output);
        text.ToString().Should().Be("CorpusRunOptions.Input '/data/{odd} name.wav' is a folder, so CorpusRunOptions.Output must be one; CorpusRunOptions.Input again");
        text.Render(o => o == ApiOption.Input ? "--input" : "--output")
            .Should().Be("--input '/data/{odd} name.wav' is a folder, so --output must be one; --input again");
        text.Then(" in {x}.pth").Render(o => "-o").Should().EndWith("must be one; -o again in {x}.pth");
    }

    [Fact]
    public void Library_errors_carry_the_option_they_name()
    {
        var batch = FluentActions.Invoking(() => new ExtractionOptions { BatchSize = 0 }.Validate()).Should().Throw<ArgumentOutOfRangeException>().Which;
        batch.ParamName.Should().Be("ExtractionOptions.BatchSize");
        OptionText.Of(batch)!.Render(_ => "--batch-size").Should().Be("--batch-size must be >= 1.");

        var layer = FluentActions.Invoking(() => LayerSelection.Parse("x")).Should().Throw<FormatException>().Which;
        layer.Message.Should().Be("LayerSelection must be a layer number, 'all' or 'final'; got 'x'.");
        OptionText.Of(layer)!.Options.Should().Equal(ApiOption.Layers);

        var units = FluentActions.Invoking(() => SpeechUnits.Parse("nope")).Should().Throw<ArgumentException>().Which;
        OptionText.Of(units)!.Options.Should().Equal(ApiOption.Units);

        var memory = ForwardMemory.TooLong(DpHubert.Config.Wav2Vec2Config.HubertBase, 2, 16000 * 600, 4, 40_000_000_000, 1_000_000_000);
        OptionText.Of(memory)!.Options.Should().Equal(ApiOption.ChunkSeconds, ApiOption.BatchSize);
        memory.Message.Should().Contain("(ExtractionOptions.ChunkSeconds)");

        OptionText.Of(new IOException("plain")).Should().BeNull();
    }
}
