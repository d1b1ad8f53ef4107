#!/usr/bin/python3
"""Generates the audio reference fixtures in tests/DpHubert.Tests/Fixtures/audio/.

Run with the system Python that has torch 1.13 / torchaudio 0.13.1:

    /usr/bin/python3 tools/audio/make_audio_fixtures.py

Needs sox (for the speech inputs and the encoding cross-check files) and
/usr/share/sounds/alsa/Front_Center.wav (alsa-utils). Output is deterministic.

Files written:
  resample/<signal>_<rate>.in.npy          int16 input (the waveform is value / 32768 as float32)
  resample/<signal>_<rate>.out.npy         float32 torchaudio.functional.resample(x, rate, 16000)
  resample/noise_44100.f64.out.npy         the same for a float64 waveform (kernel built in float64)
  speech_stereo_48k.wav                    0.5 s of Front_Center.wav, stereo 16-bit 48 kHz
  speech_stereo_48k.mono16k.npy            torchaudio.load -> mean over channels -> resample to 16 kHz
  encodings/<enc>.wav                      3-channel 8 kHz files written by sox in each encoding
  encodings/<enc>.npy                      torchaudio.load(normalize=True) of each, (channels, frames) float32
"""
import math
import os
import subprocess
import tempfile
import wave

import numpy as np
import torch
import torchaudio
import torchaudio.functional as AF

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
OUT = os.path.join(ROOT, "tests", "DpHubert.Tests", "Fixtures", "audio")
SPEECH = "/usr/share/sounds/alsa/Front_Center.wav"
RATES = [44100, 48000, 22050, 8000, 32000, 11025, 16000]
DURATION = 0.08  # seconds per synthetic case: keeps the committed fixtures small
TARGET = 16000


def save_npy(path, array):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.save(path, np.ascontiguousarray(array))


def to_int16(x):
    return np.clip(np.round(x * 32768.0), -32768, 32767).astype("<i2")


def chirp_mix(rate, n):
    """A linear chirp 50 Hz -> 0.45 * rate plus two steady sines (below Nyquist)."""
    t = np.arange(n, dtype=np.float64) / rate
    f0, f1 = 50.0, 0.45 * rate
    phase = 2 * math.pi * (f0 * t + (f1 - f0) * t * t / (2 * DURATION))
    x = 0.4 * np.sin(phase) + 0.25 * np.sin(2 * math.pi * 440.0 * t)
    x += 0.15 * np.sin(2 * math.pi * min(3000.0, 0.3 * rate) * t + 0.3)
    return x


def noise(rate, n):
    return np.random.default_rng(1234 + rate).uniform(-0.6, 0.6, n)


def sox_speech(rate, start, seconds, channels_expr=None):
    """Front_Center.wav from `start`, resampled by sox (independent of torchaudio) to `rate`."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "s.wav")
        subprocess.run(["sox", SPEECH, "-r", str(rate), "-b", "16", path, "trim", str(start), str(seconds)],
                       check=True)
        with wave.open(path) as w:
            return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float64) / 32768.0


def make_resample_cases():
    for rate in RATES:
        n = int(round(DURATION * rate))
        signals = {
            "chirp": chirp_mix(rate, n),
            "noise": noise(rate, n),
            "speech": sox_speech(rate, 0.1, DURATION)[:n],
        }
        for name, x in signals.items():
            q = to_int16(x)
            save_npy(os.path.join(OUT, "resample", f"{name}_{rate}.in.npy"), q)
            wav = torch.from_numpy(q.astype(np.float32) / 32768.0)
            y = AF.resample(wav, rate, TARGET)
            if rate == TARGET:
                assert y is wav  # torchaudio returns the input itself
            else:
                save_npy(os.path.join(OUT, "resample", f"{name}_{rate}.out.npy"), y.numpy().astype("<f4"))
            if name == "noise" and rate == 44100:
                y64 = AF.resample(wav.double(), rate, TARGET)
                save_npy(os.path.join(OUT, "resample", f"{name}_{rate}.f64.out.npy"), y64.numpy().astype("<f8"))


def make_speech_file():
    """A stereo 48 kHz file: speech on the left, speech * -0.5 plus a 1 kHz tone on the right."""
    left = to_int16(sox_speech(48000, 0.75, 0.5))
    n = len(left)
    t = np.arange(n) / 48000.0
    right = to_int16(-0.5 * left / 32768.0 + 0.05 * np.sin(2 * math.pi * 1000.0 * t))
    path = os.path.join(OUT, "speech_stereo_48k.wav")
    with wave.open(path, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(48000)
        w.writeframes(np.stack([left, right], axis=1).astype("<i2").tobytes())
    wav, sr = torchaudio.load(path)
    assert sr == 48000 and wav.shape == (2, n)
    assert torch.equal(wav, torch.from_numpy(np.stack([left, right]).astype(np.float32) / 32768.0))
    mono = wav.mean(dim=0)
    y = AF.resample(mono, sr, TARGET)
    save_npy(os.path.join(OUT, "speech_stereo_48k.mono16k.npy"), y.numpy().astype("<f4"))


def make_encoding_files():
    """The same 3-channel audio written by sox in every encoding, with torchaudio's decoding of each."""
    rate, n = 8000, 200
    t = np.arange(n) / rate
    x = np.stack([0.9 * np.sin(2 * math.pi * 300 * t), 0.5 * np.sin(2 * math.pi * 1234 * t + 1),
                  np.linspace(-1.0, 0.999, n)], axis=1)
    encodings = {
        "u8": ["-e", "unsigned-integer", "-b", "8"],
        "s16": ["-e", "signed-integer", "-b", "16"],
        "s24": ["-e", "signed-integer", "-b", "24"],
        "s32": ["-e", "signed-integer", "-b", "32"],
        "f32": ["-e", "floating-point", "-b", "32"],
        "f64": ["-e", "floating-point", "-b", "64"],
    }
    os.makedirs(os.path.join(OUT, "encodings"), exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        raw = os.path.join(tmp, "x.f64")
        x.astype("<f8").tofile(raw)
        for name, args in encodings.items():
            path = os.path.join(OUT, "encodings", f"{name}.wav")
            subprocess.run(["sox", "-D", "-t", "raw", "-r", str(rate), "-c", "3", "-e", "floating-point", "-b", "64",
                            raw, *args, path], check=True)
            wav, sr = torchaudio.load(path)
            assert sr == rate and wav.shape == (3, n)
            save_npy(os.path.join(OUT, "encodings", f"{name}.npy"), wav.numpy().astype("<f4"))


if __name__ == "__main__":
    torch.set_num_threads(1)
    make_resample_cases()
    make_speech_file()
    make_encoding_files()
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(OUT) for f in fs)
    print(f"wrote fixtures to {os.path.normpath(OUT)}: {total / 1024:.0f} KiB")
