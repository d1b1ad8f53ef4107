#!/usr/bin/env bash
# Seeded mutation fuzzing of the audio readers (WAV, FLAC, MP3, Ogg Vorbis) and the checkpoint readers (.pth zip + pickle, legacy .pt, safetensors),
# as many inputs as asked: every input must read or throw the reader's typed exception within 5 s.
#   bash tools/fuzz/run.sh --iterations 100000 [--seed 42]
# A failing input is saved under /tmp/dphubert-tests/ and named in the test output. CI runs the same tests with
# a few thousand inputs (tests/DpHubert.Tests/Fuzz).
set -euo pipefail
cd "$(dirname "$0")/../.."
iterations=20000
seed=20261202
while [ $# -gt 0 ]; do
  case "$1" in
    --iterations) iterations="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    *) echo "usage: $0 [--iterations N] [--seed S]" >&2; exit 2 ;;
  esac
done
dotnet build tests/DpHubert.Tests >/dev/null
DPHUBERT_FUZZ_ITERATIONS="$iterations" DPHUBERT_FUZZ_SEED="$seed" \
  dotnet test tests/DpHubert.Tests --no-build --filter "FullyQualifiedName~DpHubert.Tests.Fuzz" --logger "console;verbosity=detailed"
