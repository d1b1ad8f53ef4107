#!/usr/bin/env python3
"""The PyTorch side of the side-by-side benchmark (DpHubert.Bench compare), with Debian's python3-torch and
python3-torchaudio only (no PyPI):

    /usr/bin/python3 tools/bench/compare/torch_side.py export CHECKPOINT.pth MODEL.onnx
        torchaudio's wav2vec2/HuBERT model with the checkpoint's weights, exported to ONNX with a dynamic time axis
        (input "waveform" [1, samples] float32, output "features" [1, frames, dim]).
    /usr/bin/python3 tools/bench/compare/torch_side.py run CHECKPOINT.pth INPUT.wav OUTPUT.npy [--threads N]
        PyTorch eager: the same model, N intra-op threads (default 2), inference_mode; writes model(wave)[0][0] as a
        float32 .npy of shape (frames, dim), as `dphubert extract` does.

CHECKPOINT is a DPHuBERT .pth of an unpruned wav2vec2/HuBERT layout (what DpHubert.Bench writes); INPUT a 16 kHz
mono 16-bit PCM WAV.
"""
import os
import sys
import wave

import numpy as np
import torch

# One builder of torchaudio's model from our .pth, shared with the full-size parity check.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "reference"))
from full_size_check import torchaudio_model  # noqa: E402


def build(checkpoint):
    model, config = torchaudio_model(checkpoint)
    if config["normalize_waveform"]:
        sys.exit("normalize_waveform checkpoints are not supported here")
    return model


class Features(torch.nn.Module):
    """model(wave)[0]: the features only, so that the exported graph has one output."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, waveform):
        return self.model(waveform)[0]


def export(checkpoint, out):
    model = Features(build(checkpoint))
    example = torch.zeros(1, 16000)
    with torch.no_grad():
        torch.onnx.export(model, (example,), out, input_names=["waveform"], output_names=["features"],
                          dynamic_axes={"waveform": {1: "samples"}, "features": {1: "frames"}}, opset_version=14,
                          do_constant_folding=True)
    print(f"exported {out}")


def read_wav(path):
    with wave.open(path, "rb") as w:
        if w.getnchannels() != 1 or w.getsampwidth() != 2 or w.getframerate() != 16000:
            sys.exit(f"{path}: expected 16 kHz mono 16-bit PCM")
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return torch.from_numpy(data.astype(np.float32) / 32768.0)[None]


def run(checkpoint, wav, out, threads):
    torch.set_num_threads(threads)
    model = build(checkpoint)
    waveform = read_wav(wav)
    with torch.inference_mode():
        features = model(waveform)[0][0]
    np.save(out, features.numpy().astype(np.float32))


def main(argv):
    if len(argv) == 3 and argv[0] == "export":
        export(argv[1], argv[2])
    elif len(argv) in (4, 6) and argv[0] == "run":
        threads = int(argv[5]) if len(argv) == 6 and argv[4] == "--threads" else 2
        run(argv[1], argv[2], argv[3], threads)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
