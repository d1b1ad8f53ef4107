using System;
using System.Collections.Generic;
using System.CommandLine;
using System.Globalization;
using System.Linq;
using System.Text.Json;
using DpHubert.Checkpoints;
using DpHubert.Config;
using DpHubert.Extraction;

namespace DpHubert.FeatureExtraction;

/// <summary><c>dphubert info --checkpoint X</c>: architecture, per-layer heads and sizes, parameter counts.</summary>
internal static class InfoCommand
{
    public static Command Create()
    {
        var source = CheckpointSource.Create("Checkpoint file or model folder.");
        var hints = CheckpointHintOptions.Create();
        var json = new Option<bool>("--json") { Description = "Print JSON instead of text." };
        var verbose = new Option<bool>("--verbose") { Description = "Also print the checkpoint load report." };
        var command = new Command("info", "Describe a checkpoint: architecture, per-layer heads and sizes, parameter counts.")
        {
            source.Checkpoint, source.Model, hints.Arch, hints.Config, json, verbose,
        };
        command.SetAction(parse =>
        {
            var options = hints.Read(parse);
            var (path, named, _) = source.Resolve(parse, parse.GetValue(json));
            var (model, report) = CheckpointLoader.LoadModel(path, null, options);
            using var _ = model;
            if (parse.GetValue(verbose)) Console.Error.WriteLine(report);
            var c = model.Config;
            long parameters = model.NumParameters();
            double getNumParams = model.GetNumParams();
            // Whether this machine's native kernels compute this model's operations right (CPU, float32).
            var check = KernelCheck.Run(model);
            var layers = c.EncoderLayers.Select((l, i) => new
            {
                index = i,
                attention = l.UseAttention,
                heads = c.HeadsOfLayer(i),
                remaining_heads = c.AttentionKind == AttentionKind.WavLM && l.UseAttention ? (IReadOnlyList<int>?)l.RemainingHeads : null,
                head_dim = l.UseAttention ? c.HeadDimOfLayer(i) : (int?)null,
                feed_forward = l.UseFeedForward,
                ff_interm_features = l.UseFeedForward ? l.FfIntermFeatures : (int?)null,
            }).ToArray();
            // The family the checkpoint declares (for a config dictionary, which declares none, the one its fields imply).
            string kind = c.Kind switch { ModelKind.WavLM => "wavlm", ModelKind.Hubert => "hubert", _ => "wav2vec2" };
            if (parse.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(new
                {
                    checkpoint = named,
                    format = report.Format.ToString(),
                    architecture = kind,
                    parameters,
                    get_num_params = getNumParams,
                    config = JsonDocument.Parse(c.ToJson()).RootElement,
                    layers,
                    kernel_check = new
                    {
                        summary = check.Summary,
                        skipped = check.Skipped,
                        elapsed_ms = check.Elapsed.TotalMilliseconds,
                        onednn_enabled = check.OneDnnEnabled,
                        onednn_turned_off = check.OneDnnTurnedOff,
                        entries = check.Entries.Select(e => new
                        {
                            operation = e.Operation,
                            dtype = e.DType.ToString().ToLowerInvariant(),
                            path = e.Path,
                            sites = e.Sites,
                            error = e.Error,
                            tolerance = e.Tolerance,
                            cached = e.Cached,
                            wrong_error = e.WrongError,
                            routed_to = e.RoutedTo,
                        }).ToArray(),
                        gemm_backend = check.Gemm is { } g ? new
                        {
                            backend = g.Backend.ToString().ToLowerInvariant(),
                            requested = g.Requested.ToString().ToLowerInvariant(),
                            reason = g.Reason,
                            blas_ms_per_audio_second = g.BlasMilliseconds,
                            onednn_ms_per_audio_second = g.OneDnnMilliseconds,
                            onednn_over_blas = g.Ratio,
                            onednn_needs_at_most = LinearKernels.AutoMaxTimeRatio,
                            timed = g.Shapes,
                            measurement_ms = g.Elapsed?.TotalMilliseconds,
                        } : null,
                    },
                }, new JsonSerializerOptions { WriteIndented = true }));
                return Cli.Ok;
            }
            var inv = CultureInfo.InvariantCulture;
            Console.WriteLine($"checkpoint: {named}");
            Console.WriteLine($"format: {report.Format}");
            Console.WriteLine($"architecture: {kind}");
            Console.WriteLine($"extractor: {c.ExtractorMode.ToConfigName()}, conv bias {c.ExtractorConvBias.ToString().ToLowerInvariant()}, conv layers " +
                string.Join(" ", c.ExtractorConvLayerConfig.Select(l => $"({l.OutChannels},{l.KernelSize},{l.Stride})")));
            Console.WriteLine($"encoder: embed {c.EncoderEmbedDim}, {c.EncoderNumLayers} layers, {(c.EncoderLayerNormFirst ? "pre-norm" : "post-norm")}, pos conv kernel {c.EncoderPosConvKernel} groups {c.EncoderPosConvGroups}" +
                (c.AttentionKind == AttentionKind.WavLM ? $", buckets {c.EncoderNumBuckets} max distance {c.EncoderMaxDistance}" : ""));
            Console.WriteLine($"normalize_waveform: {c.NormalizeWaveform.ToString().ToLowerInvariant()}; aux head: {(c.AuxNumOut is { } a ? a.ToString(inv) : "none")}; pruning masks: {(c.HasPruningMasks ? "yes" : "no")}");
            foreach (var l in layers)
            {
                string att = l.attention ? $"{l.heads} heads x {l.head_dim}" + (l.remaining_heads is { } r ? $" [{string.Join(",", r)}]" : "") : "no attention";
                string ff = l.feed_forward ? $"ffn {l.ff_interm_features}" : "no feed-forward";
                Console.WriteLine($"layer {l.index}: {att}, {ff}");
            }
            Console.WriteLine($"parameters: {parameters.ToString(inv)}");
            Console.WriteLine($"get_num_params: {getNumParams.ToString("R", inv)}");
            Console.WriteLine(check);
            return Cli.Ok;
        });
        return command;
    }
}
