#!/usr/bin/env bash
# Runs N `dphubert extract --shard K/N` processes on this machine at once, as a Kubernetes Indexed Job or a Slurm array
# would on N nodes, then checks the result and merges the per-shard manifests (tools/corpus/verify_manifests.py).
#
#   tools/corpus/run_local_shards.sh -n N -i INPUT_DIR -o OUTPUT_DIR -c CHECKPOINT [-t THREADS] [-- extract options]
#
# Each shard writes OUTPUT_DIR/manifest-K.jsonl and logs to OUTPUT_DIR/logs/shard-K.log; the merged manifest is
# OUTPUT_DIR/manifest.jsonl. Shards run with --skip-existing, so running the script again resumes a killed run.
# Options after -- go to every `dphubert extract` (e.g. -- --format soft-pt --batch-size 4).
# DPHUBERT names the console (default: `dphubert` on PATH, else the build under samples/DpHubert.FeatureExtraction/bin).
# Exit: 0 all shards succeeded and verified; 1 a shard failed or the check found a problem; 2 usage.
set -uo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"

usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
n="" input="" output="" checkpoint="" threads=1
while getopts "n:i:o:c:t:h" opt; do
  case "$opt" in
    n) n="$OPTARG" ;; i) input="$OPTARG" ;; o) output="$OPTARG" ;; c) checkpoint="$OPTARG" ;; t) threads="$OPTARG" ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
[ "${1:-}" = "--" ] && shift
[[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "run_local_shards: -n must be a whole number >= 1, got '$n'" >&2; usage; }
[ -d "$input" ] || { echo "run_local_shards: -i '$input' is not a folder" >&2; usage; }
[ -n "$output" ] && [ -n "$checkpoint" ] || usage

format=npy
for ((i = 1; i <= $#; i++)); do
  if [ "${!i}" = "--format" ]; then j=$((i + 1)); format="${!j}"; fi
done

if [ -n "${DPHUBERT:-}" ]; then
  read -r -a console <<<"$DPHUBERT"
elif command -v dphubert >/dev/null 2>&1; then
  console=(dphubert)
else
  dll=$(ls -t "$repo"/samples/DpHubert.FeatureExtraction/bin/*/net*/dphubert.dll 2>/dev/null | head -n 1)
  [ -n "$dll" ] || { echo "run_local_shards: no dphubert console; build it (dotnet build samples/DpHubert.FeatureExtraction -c Release) or set DPHUBERT" >&2; exit 2; }
  console=(dotnet "$dll")
fi

mkdir -p "$output/logs"
pids=()
start=$(date +%s.%N)
for ((k = 0; k < n; k++)); do
  "${console[@]}" extract --checkpoint "$checkpoint" --input "$input" --output "$output" --threads "$threads" \
    --shard "$k/$n" --manifest "$output/manifest-$k.jsonl" --skip-existing "$@" >"$output/logs/shard-$k.log" 2>&1 &
  pids+=($!)
done
status=0
for ((k = 0; k < n; k++)); do
  wait "${pids[$k]}"; rc=$?
  echo "shard $k/$n: exit $rc: $(grep -E ' written, ' "$output/logs/shard-$k.log" | tail -n 1)"
  if [ "$rc" -ne 0 ]; then status=1; sed 's/^/  /' "$output/logs/shard-$k.log" >&2; fi
done
awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "all shards: %.1f s wall clock\n", e - s }'
[ "$status" -eq 0 ] || { echo "run_local_shards: a shard failed; run the script again to resume" >&2; exit 1; }

manifests=()
for ((k = 0; k < n; k++)); do manifests+=("$output/manifest-$k.jsonl"); done
python3 "$repo/tools/corpus/verify_manifests.py" --input "$input" --output "$output" --shards "$n" --format "$format" \
  --merge "$output/manifest.jsonl" "${manifests[@]}" || exit 1
