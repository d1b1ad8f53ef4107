#!/usr/bin/env bash
# Packs the DpHubert library into a local folder feed and proves an application outside the solution
# (samples/NuGetConsumer) restores it by PackageReference, next to TorchSharp-cpu from the machine's usual sources,
# and runs: with `dotnet run`, from `dotnet build` output and from `dotnet publish` output.
#
#   bash tools/nuget/consume.sh [--keep]     (--keep leaves the temporary folder with the feed and outputs)
#
# Every run packs a version no cache can hold (0.1.0-local.<time>.<pid>), so a stale DpHubert is never used; that
# version is removed from the NuGet packages folder again at the end. Prints one PASS/FAIL line per check and
# "consume: N passed, N failed"; exits 1 if any check failed.
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

keep=0
[ "${1:-}" = "--keep" ] && keep=1

work=$(mktemp -d "${TMPDIR:-/tmp}/dphubert-nuget.XXXXXX")
feed="$work/feed"
consumer="$root/samples/NuGetConsumer"
prefix=$(sed -n 's:.*<VersionPrefix>\(.*\)</VersionPrefix>.*:\1:p' src/DpHubert/DpHubert.csproj)
version="$prefix-local.$(date -u +%Y%m%d%H%M%S).$$"
packages="${NUGET_PACKAGES:-$HOME/.nuget/packages}"
passed=0
failed=0
started=$(date +%s)

cleanup() {
  rm -rf "$packages/dphubert/$version" "$consumer/bin" "$consumer/obj"
  if [ "$keep" -eq 1 ]; then echo "consume: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

pass() { echo "PASS: $1"; passed=$((passed + 1)); }
fail() { echo "FAIL: $1" >&2; failed=$((failed + 1)); }
# check NAME COMMAND...: runs the command quietly (output kept in the log) and records the result.
check() {
  local name=$1; shift
  if "$@" >"$work/last.log" 2>&1; then pass "$name"; else fail "$name"; sed 's/^/    /' "$work/last.log" | tail -40 >&2; fi
}

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

echo "consume: packing DpHubert $version into $feed"
if ! dotnet pack src/DpHubert -c Release -o "$feed" -p:VersionSuffix="${version#"$prefix"-}" -warnaserror >"$work/pack.log" 2>&1; then
  fail "dotnet pack (warnings as errors)"
  sed 's/^/    /' "$work/pack.log" | tail -40 >&2
  echo "consume: $passed passed, $failed failed"
  exit 1
fi
pass "dotnet pack (warnings as errors)"

check "package contents and metadata" python3 tools/nuget/check_package.py "$feed/DpHubert.$version.nupkg" "$feed/DpHubert.$version.snupkg" "$version"

# The consumer takes the version just packed, from the feed added on top of the machine's sources (MSBuild reads
# environment variables as properties, so every dotnet command below sees them).
export DpHubertVersion="$version"
export RestoreAdditionalProjectSources="$feed"

# The library in an output folder is patched only where the host libstdc++ lacks the version it needs.
host_lacks_version=1
for lib in /usr/lib/x86_64-linux-gnu/libstdc++.so.6 /lib/x86_64-linux-gnu/libstdc++.so.6 /usr/lib64/libstdc++.so.6; do
  if [ -e "$lib" ]; then
    if grep -qa "GLIBCXX_3.4.32" "$lib"; then host_lacks_version=0; fi
    break
  fi
done
# weak_need DIR: DIR's libLibTorchSharp.so marks GLIBCXX_3.4.32 weak exactly when the host needs it.
weak_need() {
  python3 tools/nuget/check_package.py --weak "$1" "$host_lacks_version"
}
# output_ok LOG: the consumer printed the sample's shapes (49 frames x 48 dims, 3 layers + projection output).
output_ok() {
  grep -qx "DpHubert $version\(+[0-9a-f]\+\)\? (DpHubert.Core.dll)" "$1" &&
    grep -qx "features: \[49, 48\]" "$1" && grep -qx "all layers: \[4, 49, 48\]" "$1"
}
run_logged() {  # run_logged LOG COMMAND...: runs, keeps its output in LOG and shows it.
  local log=$1; shift
  "$@" >"$log" 2>&1
  local rc=$?
  sed 's/^/    /' "$log"
  return $rc
}

# The sample, the README and the package page name the versions a user copies: they must match the repository's.
versions_agree() {
  local torch
  torch=$(sed -n 's:.*<TorchSharpVersion>\(.*\)</TorchSharpVersion>.*:\1:p' Directory.Packages.props)
  grep -q "<PackageReference Include=\"TorchSharp-cpu\" Version=\"$torch\" />" "$consumer/NuGetConsumer.csproj" &&
    grep -q "<DpHubertVersion Condition=\"'\$(DpHubertVersion)' == ''\">$prefix</DpHubertVersion>" "$consumer/NuGetConsumer.csproj" &&
    grep -q "TorchSharp-cpu --version $torch" README.md && grep -q "DpHubert.$prefix.nupkg" README.md &&
    grep -q "($torch)" src/DpHubert/PACKAGE.md
}
check "sample, README and package page name TorchSharp and DpHubert versions the repository uses" versions_agree

rm -rf "$consumer/bin" "$consumer/obj"
check "restore from the local feed plus the default sources" dotnet restore "$consumer"
check "restored DpHubert $version from the feed" grep -q "\"DpHubert/$version\"" "$consumer/obj/project.assets.json"
check "the fix comes from the package's buildTransitive" grep -q "dphubert/$version/buildTransitive/DpHubert.targets" "$consumer/obj/NuGetConsumer.csproj.nuget.g.targets"

# 1. dotnet run (Debug build into bin/)
if run_logged "$work/run.log" dotnet run --project "$consumer" && output_ok "$work/run.log"; then
  pass "dotnet run prints the feature shapes"
else
  fail "dotnet run prints the feature shapes"
fi
check "dotnet run output: libLibTorchSharp patched as the host needs" weak_need "$consumer/bin/Debug/net10.0"

# 2. dotnet build, then the built program on its own
rm -rf "$consumer/bin"
check "dotnet build -c Release" dotnet build "$consumer" -c Release -warnaserror
check "dotnet build output: libLibTorchSharp patched as the host needs" weak_need "$consumer/bin/Release/net10.0"
if run_logged "$work/build.log" "$consumer/bin/Release/net10.0/NuGetConsumer" && output_ok "$work/build.log"; then
  pass "built program prints the feature shapes"
else
  fail "built program prints the feature shapes"
fi

# 3. dotnet publish, portable (natives under runtimes/) and for linux-x64 (natives beside the program), then run each
for rid in portable linux-x64; do
  args=(); [ "$rid" = portable ] || args=(-r "$rid" --self-contained false)
  check "dotnet publish -c Release ($rid)" dotnet publish "$consumer" -c Release "${args[@]}" -o "$work/publish-$rid" -warnaserror
  check "publish output ($rid): libLibTorchSharp patched as the host needs" weak_need "$work/publish-$rid"
  if run_logged "$work/publish-$rid.log" "$work/publish-$rid/NuGetConsumer" && output_ok "$work/publish-$rid.log"; then
    pass "published program ($rid) prints the feature shapes"
  else
    fail "published program ($rid) prints the feature shapes"
  fi
done

# 4. The opt-out: the library is left as shipped (and, on a host that needs the fix, fails to load).
check "dotnet build -p:DpHubertPatchLibTorchSharp=false" dotnet build "$consumer" -c Release -o "$work/optout" -p:DpHubertPatchLibTorchSharp=false -warnaserror
check "opt-out output: libLibTorchSharp left as shipped" python3 tools/nuget/check_package.py --weak "$work/optout" 0
if [ "$host_lacks_version" -eq 1 ]; then
  check "opt-out output: the loader refuses the library for GLIBCXX_3.4.32" python3 tools/nuget/check_package.py --loads "$work/optout" 0
  # (in a shell of its own, so the abort is reported into the log rather than by this script)
  if bash -c '"$1"; exit $?' _ "$work/optout/NuGetConsumer" >"$work/optout.log" 2>&1; then
    fail "opt-out program fails without the fix"
  elif grep -q "The type initializer for 'TorchSharp.torch' threw" "$work/optout.log"; then
    pass "opt-out program fails without the fix"
  else
    fail "opt-out program fails without the fix (but for another reason)"
    sed 's/^/    /' "$work/optout.log" | tail -20 >&2
  fi
fi

echo "consume: took $(( $(date +%s) - started )) s"
echo "consume: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
