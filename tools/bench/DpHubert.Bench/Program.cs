using System;
using System.Globalization;
using System.IO;
using System.Linq;
using DpHubert.Bench;
using static TorchSharp.torch;

// DpHubert benchmarks: speed, dtype, batch, memory, large, load, all (and layers, shards, compare, soak on their own). Exit
// code 0 when every target is met, 1 when one is missed, 2 on a usage error. Targets and results: tools/bench/README.md.
const string Usage = """
usage: dotnet run -c Release --project tools/bench/DpHubert.Bench -- <speed|dtype|batch|memory|large|load|layers|shards|compare|soak|kernelcheck|decode|stream|fidelity|all> [options]
  --model NAME     preset with random weights (default hubert_base): wav2vec2_base, hubert_base, hubert_large, wavlm_base, ...
  --seconds S      audio length for speed (default 10)
  --dtype-seconds S  audio length for dtype (default 4)
  --threads N      libtorch CPU threads (default 2)
  --runs N         timed runs per measurement, median reported (default 3; batch uses --batch-runs, default 1)
  --warmup N       untimed warm-up runs (default 1)
  --iterations N   memory: runs per path on the tiny model, and on --model when run alone (default 200)
  --model-iterations N  memory: runs per path on --model (default: --iterations; 20 under 'all')
  --soak-clips N   soak: clips through one encoder (default 1000; peak RSS per 100 clips after 100 of warm-up)
  --soak-minutes M stream: instead of the grid, push M minutes of audio through one sp0.75-shaped stream (block 0.25 s,
                   context 1 s) as fast as it goes, printing resident memory every --soak-every minutes of audio (default 5)
  --large NAME     preset for the large benchmark (default hubert_large; hubert_xlarge needs ~10 GB)
  --no-encoder     speed: skip the SpeechEncoder path
  --filter TEXT    memory: run only the paths whose name contains TEXT
  --work-dir DIR   load, compare: keep the generated checkpoints, ONNX model and WAVs in DIR and reuse them
                   (default: a temporary folder)
  --lengths A,B    compare: recording lengths in seconds (default 10,20,60; peers run up to 60 s, ours alone beyond)
  --no-build       compare: use the existing Release builds of the console and tools/bench/OrtRunner
  load: writes --model as .pth (fp32, fp16) and safetensors, loads each --runs times in a fresh process
  --shards N       shards: N processes x 1 thread vs 1 process x 1 and x N threads (default 2; not part of 'all')
  --clips N        shards: clips of 2-10 s in the corpus (default 12)   --shard-rounds N  alternating rounds (default 3)
  --console DLL    shards: the dphubert.dll to run (default: the built samples/DpHubert.FeatureExtraction)
  decode: AudioReader speed per format (60 s files) and a folder of 1,000 FLAC vs WAV files (needs flac, lame, oggenc)
  stream: real-time grid (HuBERT Base, sp0.75-shaped; fp32, bf16; blocks 0.1/0.25/0.5 s x contexts 0.5/1/2.5 s) and front-end reuse
  fidelity: streamed vs whole-file features per layer over contexts 0.5-4 s and lookahead 0-10 frames, on real speech
  --checkpoint F   fidelity: a real checkpoint instead of --model with random weights
Targets are checked only where they were set (hubert_base, 10 s, 2 threads for speed); see tools/bench/README.md.
""";

if (args.Length >= 2 && args[0] == LoadBench.ChildCommand)
{
    // One checkpoint load in a fresh process, run by the load benchmark.
    int childThreads = args.Length >= 4 && args[2] == "--threads" ? int.Parse(args[3], CultureInfo.InvariantCulture) : 2;
    set_num_threads(childThreads);
    return LoadBench.Child(args[1]);
}
if (args.Length >= 4 && args[0] == SoakBench.ForwardChildCommand)
{
    // The soak benchmark's raw forward, in a process that never made an encoder.
    set_num_threads(args.Length >= 6 && args[4] == "--threads" ? int.Parse(args[5], CultureInfo.InvariantCulture) : 2);
    return SoakBench.ChildMain(args[1], double.Parse(args[2], CultureInfo.InvariantCulture), int.Parse(args[3], CultureInfo.InvariantCulture));
}
if (args.Length >= 3 && args[0] == KernelCheckBench.ChildCommand)
{
    // One first extraction in a fresh process, with the kernel check on or off, run by the kernelcheck benchmark.
    set_num_threads(args.Length >= 5 && args[3] == "--threads" ? int.Parse(args[4], CultureInfo.InvariantCulture) : 2);
    return KernelCheckBench.ChildMain(args[1]);
}
if (args.Length == 0 || args[0] is "-h" or "--help")
{
    Console.WriteLine(Usage);
    return args.Length == 0 ? 2 : 0;
}
string command = args[0];
var o = new BenchOptions();
try
{
    for (int i = 1; i < args.Length; i++)
    {
        string Next() => i + 1 < args.Length ? args[++i] : throw new FormatException($"{args[i]} needs a value");
        int Int() => int.Parse(Next(), NumberStyles.None, CultureInfo.InvariantCulture);
        o = args[i] switch
        {
            "--model" => o with { Model = Next() },
            "--seconds" => o with { Seconds = double.Parse(Next(), NumberStyles.Float, CultureInfo.InvariantCulture) },
            "--threads" => o with { Threads = Int() },
            "--runs" => o with { Runs = Int() },
            "--soak-minutes" => o with { StreamSoakMinutes = double.Parse(Next(), NumberStyles.Float, CultureInfo.InvariantCulture) },
            "--soak-every" => o with { StreamSoakEvery = double.Parse(Next(), NumberStyles.Float, CultureInfo.InvariantCulture) },
            "--batch-runs" => o with { BatchRuns = Int() },
            "--dtype-seconds" => o with { DTypeSeconds = double.Parse(Next(), NumberStyles.Float, CultureInfo.InvariantCulture) },
            "--warmup" => o with { Warmup = Int() },
            "--iterations" => o with { Iterations = Int() },
            "--model-iterations" => o with { ModelIterations = Int() },
            "--no-encoder" => o with { SkipEncoder = true },
            "--filter" => o with { Filter = Next() },
            "--large" => o with { Large = Next() },
            "--work-dir" => o with { WorkDir = Path.GetFullPath(Next()) },
            "--lengths" => o with { CompareSeconds = Next().Split(',').Select(v => double.Parse(v, NumberStyles.Float, CultureInfo.InvariantCulture)).ToArray() },
            "--no-build" => o with { SkipBuild = true },
            "--shards" => o with { Shards = Int() },
            "--clips" => o with { Clips = Int() },
            "--soak-clips" => o with { SoakClips = Int() },
            "--shard-rounds" => o with { ShardRounds = Int() },
            "--console" => o with { Console = Next() },
            "--checkpoint" => o with { Checkpoint = Next() },
            _ => throw new FormatException($"unknown option {args[i]}"),
        };
    }
    if (o.Shards < 1 || o.Clips < 1 || o.ShardRounds < 1 || o.SoakClips < 1)
        throw new FormatException("--shards, --clips, --shard-rounds and --soak-clips must be >= 1");
    if (o.Threads < 1 || o.Runs < 1 || o.BatchRuns < 1 || o.Iterations < 2 || o.ModelIterations is < 2 || !(o.Seconds > 0.05)
        || o.CompareSeconds.Length == 0 || o.CompareSeconds.Any(l => !(l >= 1 && l <= 3600)))
        throw new FormatException("--threads, --runs, --batch-runs must be >= 1, --iterations >= 2, --seconds > 0.05, --lengths 1..3600 s");
    if ((o.Model is not ("tiny" or "sp075") && !DpHubert.Config.Wav2Vec2Config.Presets.ContainsKey(o.Model)) || !DpHubert.Config.Wav2Vec2Config.Presets.ContainsKey(o.Large))
        throw new FormatException($"unknown preset; available: {string.Join(", ", DpHubert.Config.Wav2Vec2Config.Presets.Keys)}");
}
catch (FormatException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    Console.Error.WriteLine(Usage);
    return 2;
}
string[] all = { "speed", "dtype", "batch", "memory", "large", "load" };
// "layers" (per-layer memory trace on --model / --seconds) is run on its own only: it is a diagnosis, not a target;
// "shards" (many console processes over a generated corpus) and "compare" (other programs side by side) too, as they
// take minutes.
var selected = command == "all" ? all : all.Contains(command) || command is "layers" or "shards" or "compare" or "soak" or "kernelcheck" or "decode" or "stream" or "fidelity" ? new[] { command } : null;
if (selected is null)
{
    Console.Error.WriteLine($"error: unknown benchmark '{command}'");
    Console.Error.WriteLine(Usage);
    return 2;
}

#if DEBUG
Console.WriteLine("WARNING: Debug build; timings are not comparable with the targets. Use -c Release.");
#endif
set_num_threads(o.Threads);
MemoryBench.Filter = o.Filter;
Console.WriteLine($"DpHubert.Bench: {string.Join(", ", selected)}; {Environment.ProcessorCount} logical CPUs, libtorch threads {get_num_threads()}, " +
                  $"{RuntimeInfo()}");
var verdicts = new Verdicts();
var total = System.Diagnostics.Stopwatch.StartNew();
try
{
    foreach (var b in selected)
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        switch (b)
        {
            case "speed": SpeedBench.Run(o, verdicts); break;
            case "dtype": DTypeBench.Run(o, verdicts); break;
            case "batch": BatchBench.Run(o, verdicts, equalSeconds: 1, minSeconds: 0.5, maxSeconds: 2); break;
            case "memory": MemoryBench.Run(o, verdicts, o.ModelIterations ?? (command == "all" ? 20 : o.Iterations)); break;
            case "large": LargeBench.Run(o.Large, o, verdicts); break;
            case "shards": ShardsBench.Run(o, verdicts); break;
            case "load": LoadBench.Run(o, verdicts); break;
            case "layers": LayerTraceBench.Run(o, verdicts); break;
            case "compare": CompareBench.Run(o, verdicts); break;
            case "soak": SoakBench.Run(o, verdicts); break;
            case "kernelcheck": KernelCheckBench.Run(o, verdicts); break;
            case "decode": DecodeBench.Run(o, verdicts); break;
            case "stream": StreamBench.Run(o, verdicts); break;
            case "fidelity": FidelityBench.Run(o, verdicts); break;
        }
        Console.WriteLine($"  ({b}: {sw.Elapsed.TotalSeconds:0} s)");
        Console.WriteLine();
    }
}
finally
{
    Bench.CleanTemp();
}
verdicts.PrintSummary();
Console.WriteLine($"Total {total.Elapsed.TotalSeconds:0} s.");
return verdicts.AllPassed ? 0 : 1;

static string RuntimeInfo() => $".NET {Environment.Version}, TorchSharp {typeof(TorchSharp.torch).Assembly.GetName().Version}";
