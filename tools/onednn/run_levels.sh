#!/usr/bin/env bash
# Runs the parity subset of the tests once per oneDNN instruction-set level this CPU supports (ONEDNN_MAX_CPU_ISA,
# read by oneDNN at process start) and once with oneDNN off (DPHUBERT_ONEDNN=off, applied by the library before the
# first model runs): libtorch's oneDNN picks different kernels per level, and one of them being wrong on some CPU is
# what the kernel self-check exists for. One line per level, then "onednn-levels: N passed, M failed"; exits 1 if any
# level fails.
#
#   bash tools/onednn/run_levels.sh             # builds the tests once, then runs every level
#   bash tools/onednn/run_levels.sh --no-build  # uses the existing Debug build (as .ci/run does after dotnet test)
#   LEVELS="AVX2 off" bash tools/onednn/run_levels.sh --no-build   # just these
set -uo pipefail
cd "$(dirname "$0")/../.."

# Fixture and component parity (the pruned uneven fixture included: convolutions with channel counts that are not a
# multiple of 16), torchaudio parity, one encoder shared by 8 threads, the kernel-check tests, and every fixture and
# GEMM convolution with the float32 products forced onto each library (oneDNN's matrix product differs per level too).
FILTER='FullyQualifiedName~FixtureParityTests|FullyQualifiedName~ComponentParityTests|FullyQualifiedName~TorchaudioReferenceTests|FullyQualifiedName~ConcurrencyTests.Eight_threads|FullyQualifiedName~ConcurrencyTests.Threads_mixing|FullyQualifiedName~DpHubert.Tests.KernelCheck|FullyQualifiedName~LinearKernelsTests.Every_fixture|FullyQualifiedName~LinearKernelsTests.A_gemm_convolution'
TESTS=tests/DpHubert.Tests
TINY=samples/DpHubert.FeatureExtraction/Defaults/dphubert-tiny.pth

build=1
for arg in "$@"; do
  case "$arg" in
    --no-build) build=0 ;;
    *) echo "usage: $0 [--no-build]" >&2; exit 2 ;;
  esac
done

# The levels, lowest first, each with the /proc/cpuinfo flags it needs (oneDNN's names; a level above what the CPU
# has would only repeat the highest one it has).
supported_levels() {
  local flags
  flags=" $(grep -m1 -E '^flags' /proc/cpuinfo 2>/dev/null | cut -d: -f2) "
  has() { local f; for f in "$@"; do [[ "$flags" == *" $f "* ]] || return 1; done; }
  has sse4_1 && echo SSE41
  has avx && echo AVX
  has avx2 fma && echo AVX2
  has avx2 fma avx_vnni && echo AVX2_VNNI
  has avx2 fma avx_vnni avx_vnni_int8 avx_ne_convert && echo AVX2_VNNI_2
  local core="avx512f avx512bw avx512vl avx512dq"
  has $core && echo AVX512_CORE
  has $core avx512_vnni && echo AVX512_CORE_VNNI
  has $core avx512_vnni avx512_bf16 && echo AVX512_CORE_BF16
  has $core avx512_vnni avx512_bf16 avx512_fp16 && echo AVX512_CORE_FP16
  has $core avx512_vnni avx512_bf16 avx512_fp16 amx_tile amx_int8 amx_bf16 && echo AVX512_CORE_AMX
  has $core avx512_vnni avx512_bf16 avx512_fp16 amx_tile amx_int8 amx_bf16 amx_fp16 && echo AVX512_CORE_AMX_FP16
  return 0
}

levels=${LEVELS:-"$(supported_levels | tr '\n' ' ')off"}

if [ "$build" -eq 1 ]; then
  dotnet build "$TESTS" -v q -nologo >/dev/null || { echo "onednn-levels: 0 passed, 1 failed"; echo "build failed" >&2; exit 1; }
fi
console=$(ls -t samples/DpHubert.FeatureExtraction/bin/*/net*/dphubert.dll 2>/dev/null | head -1)

total_passed=0
total_failed=0
status=0
for level in $levels; do
  if [ "$level" = off ]; then env_args=(DPHUBERT_ONEDNN=off); else env_args=(ONEDNN_MAX_CPU_ISA="$level"); fi
  # What oneDNN says it runs at this level, and the kernel check of the tiny model, from one small process.
  isa="?"
  check="?"
  if [ -n "$console" ]; then
    probe=$(env "${env_args[@]}" ONEDNN_VERBOSE=1 dotnet "$console" info --checkpoint "$TINY" 2>&1)
    isa=$(echo "$probe" | grep -m1 -oE 'isa:[^,]*' | sed 's/^isa://')
    [ -n "$isa" ] || isa="oneDNN not used"
    check=$(echo "$probe" | grep -m1 -E '^kernel check:' | sed -E 's/ in [0-9]+ ms//; s/^kernel check: //')
  fi
  log=$(mktemp)
  start=$(date +%s)
  env "${env_args[@]}" dotnet test "$TESTS" --no-build --filter "$FILTER" >"$log" 2>&1
  rc=$?
  seconds=$(( $(date +%s) - start ))
  counts=$(grep -E "(Passed|Failed)!  - Failed: +[0-9]+, Passed: +[0-9]+" "$log" | tail -1 \
    | sed -E 's/.*Failed: +([0-9]+), Passed: +([0-9]+).*/\1 \2/')
  failed=${counts% *}
  passed=${counts#* }
  if [ -z "$counts" ]; then failed=1; passed=0; fi
  if [ "$rc" -ne 0 ] || [ "$failed" -ne 0 ] || [ "$passed" -eq 0 ]; then
    verdict=FAILED
    status=1
    [ "$failed" -eq 0 ] && failed=1
    grep -E "^\s+Failed |Error Message" -A2 "$log" | head -40 >&2
  else
    verdict=passed
  fi
  rm -f "$log"
  total_passed=$((total_passed + passed))
  total_failed=$((total_failed + failed))
  printf 'onednn %-22s %-6s %3d passed, %d failed, %4d s; isa: %s; kernel check (tiny): %s\n' \
    "$([ "$level" = off ] && echo 'off' || echo "$level")" "$verdict" "$passed" "$failed" "$seconds" "$isa" "$check"
done
echo "onednn-levels: ${total_passed} passed, ${total_failed} failed"
exit "$status"
