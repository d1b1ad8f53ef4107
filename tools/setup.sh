#!/usr/bin/env bash
# Installs what building, running and testing DpHubert needs on Debian 12, then restores NuGet packages.
#   - python3-torch / python3-torchaudio / python3-omegaconf / python3-numpy: the tests that check files we write
#     load them with PyTorch (tools/checkpoints/*.py); the fixture generators in tools/ use them too.
#   - alsa-utils: real 48 kHz speech (/usr/share/sounds/alsa/*.wav) for the audio and CLI tests.
#   - sox: the reference resampler (rate -v) the resampling accuracy tests compare against.
#   - binutils: readelf, with which tools/nuget/consume.sh checks the libLibTorchSharp fix in a consumer's output.
#   - time: /usr/bin/time, the peak RSS of whole processes in the side-by-side benchmark (tools/bench compare).
#   - flac, lame, vorbis-tools, ffmpeg: the reference encoders and decoders the audio format tests check our FLAC, MP3
#     and Ogg Vorbis decoders against, and the ffmpeg that M4A/AAC, Opus and WebM are decoded with.
#   - espeak-ng: spoken sentences for the streaming fidelity benchmark (tools/bench fidelity).
# Idempotent: installs only what is missing. Needs root (or sudo) only when something is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(python3-torch python3-torchaudio python3-omegaconf python3-numpy libopenblas0-pthread alsa-utils sox binutils time flac lame vorbis-tools ffmpeg espeak-ng)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v dotnet >/dev/null 2>&1; then
  echo "setup: the .NET SDK 10 is required (https://dotnet.microsoft.com/download)" >&2
  exit 1
fi
dotnet restore DpHubert.sln
echo "setup: done"
