using System.Collections.Generic;
using System.IO;
using DpHubert.Checkpoints;
using DpHubert.PyTorch;
using FluentAssertions;
using TorchSharp;
using Xunit;
using static DpHubert.Tests.PyTorch.CheckpointTestHelpers;

namespace DpHubert.Tests.PyTorch;

/// <summary>Objects of classes outside the allow-list: inert records when nothing reaches a tensor, refused otherwise.</summary>
public class InertRecordTests
{
    [Theory]
    [InlineData("inert_records.pt")] // protocol 2: NEWOBJ + BUILD / SETITEMS / APPENDS
    [InlineData("inert_records_reconstructor.pt")] // the protocol 0/1 way: copyreg._reconstructor(cls, base, state)
    public void Objects_of_unknown_classes_become_inert_records_with_their_state(string file)
    {
        var root = TorchCheckpointReader.Load(Fixture("checkpoints", file)).Root.Value.As<PyDict>();
        try
        {
            var dictionary = root["task_state"].As<PyDict>()["dictionaries"].As<List<object?>>()[0].As<InertRecord>();
            dictionary.TypeName.Should().Be("fairseq.data.dictionary.Dictionary");
            dictionary.IsTypeReference.Should().BeFalse();
            var state = dictionary.State.As<PyDict>();
            state["symbols"].As<List<object?>>().Should().Equal("<s>", "<pad>", "</s>", "<unk>", "0", "1", "2");
            state["count"].As<List<object?>>().Should().Equal(1L, 1L, 1L, 1L, 30L, 20L, 10L);
            state["indices"].As<PyDict>()["2"].Should().Be(6L);
            state["nspecial"].Should().Be(4L);
            state["unk_word"].Should().Be("<unk>");

            // Lightning's AttributeDict is a plain mapping of hyper-parameters.
            var hparams = root["hyper_parameters"].As<PyDict>();
            hparams.PythonType.Should().Be("pytorch_lightning.utilities.parsing.AttributeDict");
            hparams["lr"].Should().Be(0.0002);
            hparams["layers"].As<List<object?>>().Should().Equal(1L, 2L);

            var meter = root["meters"].As<PyDict>()["loss"].As<InertRecord>();
            meter.TypeName.Should().Be("trainer_pkg.meters.AverageMeter");
            meter.State.As<PyDict>()["inner"].As<InertRecord>().State.As<PyDict>()["val"].Should().Be(1.0);

            var labels = root["labels"].As<InertRecord>();
            labels.Items.As<List<object?>>().Should().Equal("a", "b");

            var type = root["hparams_type"].As<InertRecord>();
            type.IsTypeReference.Should().BeTrue();
            type.TypeName.Should().Be("trainer_pkg.meters.AverageMeter");

            Values(root["model"].As<PyDict>()["encoder.layer.0.bias"].As<torch.Tensor>()).Should().Equal(-1.5, 0, 2.25);
        }
        finally
        {
            DisposeTensors(root);
        }
    }

    [Fact]
    public void An_unknown_object_that_reaches_a_tensor_is_refused_naming_the_class_and_file()
    {
        // The Dictionary's extra attribute is the same tensor as a model weight: weights never hide in unknown objects.
        var path = Fixture("checkpoints", "record_holding_tensor.pt");
        var act = () => TorchCheckpointReader.Load(path);
        var e = act.Should().Throw<UnsafePickleException>().Which;
        e.Global.Should().Be("fairseq.data.dictionary.Dictionary");
        e.Message.Should().Be($"refused global 'fairseq.data.dictionary.Dictionary' (an object of a class outside the allow-list holds a tensor) in {path}");
        e.FilePath.Should().Be(path);
    }

    [Fact]
    public void Calling_an_unknown_class_or_function_is_refused_even_without_tensors()
    {
        // GLOBAL 'trainer_pkg Config', (), REDUCE: a call (the class's constructor would run), not a plain instance.
        var pickle = new List<byte> { 0x80, 2, (byte)'c' };
        pickle.AddRange("trainer_pkg\nConfig\n"u8.ToArray());
        pickle.AddRange(new byte[] { (byte)')', (byte)'R', (byte)'.' });
        var path = Path.Combine(Support.TestFiles.TempDir(), "call.pth");
        TorchCheckpointReaderTests.WriteZip(path, ("call/data.pkl", pickle.ToArray()));
        var act = () => TorchCheckpointReader.Load(path);
        act.Should().Throw<UnsafePickleException>().Which.Message.Should().Be($"refused global 'trainer_pkg.Config' in {path}");
    }
}
