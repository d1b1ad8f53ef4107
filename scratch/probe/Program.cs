using System;
using System.Diagnostics;
using System.Linq;
using DpHubert;
using static TorchSharp.torch;
set_num_threads(int.Parse(args[0]));
using var model = ModelFactory.HubertBase();
model.eval();
KernelCheck.Run(model);
var sites = typeof(KernelCheck);
for (int r = 0; r < 3; r++)
foreach (var (name, m) in model.named_modules().Where(m => m.name is "encoder.transformer.pos_conv_embed" or "feature_extractor.conv_layers.0" or "feature_extractor.conv_layers.1" or "encoder.transformer.layers.0.feed_forward.intermediate_dense"))
{
    var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
    var sw = Stopwatch.StartNew();
    using var s = NewDisposeScope();
    using var mode = inference_mode();
    Tensor x = name.Contains("pos_conv") ? randn(1, 24, 768) : name.EndsWith("layers.0") ? randn(1, 1, 490) : name.EndsWith("layers.1") ? randn(1, 512, 195) : randn(1, 67, 768);
    Tensor y = m switch { DpHubert.Modules.ConvolutionalPositionalEmbedding p => p.forward(x), DpHubert.Modules.ConvLayerBlock b => b.forward(x, null).Output, TorchSharp.Modules.Linear l => l.forward(x), _ => x };
    y.sum().item<float>();
    Console.WriteLine($"{name}: {sw.Elapsed.TotalMilliseconds:F1} ms wall");
}
var c0 = Process.GetCurrentProcess().TotalProcessorTime;
var rep = KernelCheck.Run(model, KernelCheckMode.Force);
Console.WriteLine($"force: {rep.Elapsed.TotalMilliseconds:F0} ms, cpu {(Process.GetCurrentProcess().TotalProcessorTime - c0).TotalMilliseconds:F0}");
