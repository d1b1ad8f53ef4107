#!/usr/bin/env python3
"""Load so-vits-svc unit files the way its training code does and compare them to the .npy of the same features.

    /usr/bin/python3 tools/checkpoints/check_soft_pt.py A.wav.soft.pt A.npy [B.wav.soft.pt B.npy ...]

so-vits-svc reads `<name>.wav.soft.pt` with `torch.load(path)` and expects one float32 tensor of shape [1, dim, frames].
Each pair must hold the same values (the .npy is (frames, dim)). Prints one JSON object per pair; exits 1 on any mismatch.
"""
import json
import sys

import numpy as np
import torch


def check(soft_pt, npy):
    units = torch.load(soft_pt, map_location="cpu")
    if not isinstance(units, torch.Tensor):
        raise SystemExit(f"{soft_pt}: torch.load gave a {type(units).__name__}, not a tensor")
    if units.dtype != torch.float32 or units.dim() != 3 or units.shape[0] != 1:
        raise SystemExit(f"{soft_pt}: expected a float32 [1, dim, frames] tensor, got {units.dtype} {list(units.shape)}")
    reference = np.load(npy)
    frames, dim = reference.shape
    if list(units.shape) != [1, dim, frames]:
        raise SystemExit(f"{soft_pt}: shape {list(units.shape)} but {npy} is ({frames}, {dim})")
    diff = float(np.abs(units[0].numpy().T - reference).max()) if reference.size else 0.0
    return {"file": soft_pt, "shape": list(units.shape), "contiguous": units.is_contiguous(), "max_abs_diff": diff}


def main():
    args = sys.argv[1:]
    if not args or len(args) % 2:
        raise SystemExit(__doc__)
    worst = 0.0
    for soft_pt, npy in zip(args[::2], args[1::2]):
        result = check(soft_pt, npy)
        worst = max(worst, result["max_abs_diff"])
        print(json.dumps(result))
    sys.exit(0 if worst == 0.0 else 1)


if __name__ == "__main__":
    main()
