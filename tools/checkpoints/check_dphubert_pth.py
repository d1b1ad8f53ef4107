#!/usr/bin/env python3
"""Checks that a .pth written by CheckpointWriter.SaveDpHubert has DPHuBERT's layout, as torch.load sees it.

Usage: check_dphubert_pth.py FILE.pth [EXPECTED_STATE_DICT_KEYS.txt]
Prints one JSON line with what it found; exits 1 with a message on any mismatch. Needs python3-torch.
"""
import collections
import json
import sys

try:
    import torch
except ImportError:  # pragma: no cover
    print("python3-torch is not installed (apt-get install python3-torch)", file=sys.stderr)
    sys.exit(3)


def fail(msg):
    print(msg, file=sys.stderr)
    sys.exit(1)


def main():
    path = sys.argv[1]
    ckpt = torch.load(path, map_location="cpu")
    if not isinstance(ckpt, dict) or type(ckpt) is not dict:
        fail(f"top level is {type(ckpt)}, expected dict")
    for key in ("state_dict", "config", "distill_linear_projs"):
        if key not in ckpt:
            fail(f"missing top-level key {key!r}")
    sd = ckpt["state_dict"]
    if type(sd) is not collections.OrderedDict:
        fail(f"state_dict is {type(sd)}, expected collections.OrderedDict")
    for k, v in sd.items():
        if not isinstance(k, str) or not isinstance(v, torch.Tensor):
            fail(f"state_dict entry {k!r} is {type(v)}")
        if v.dtype != torch.float32:
            fail(f"state_dict[{k!r}] is {v.dtype}")
    cfg = ckpt["config"]
    if type(cfg) is not dict:
        fail(f"config is {type(cfg)}")
    conv = cfg.get("extractor_conv_layer_config")
    if not isinstance(conv, list) or not all(isinstance(t, tuple) and len(t) == 3 and all(type(x) is int for x in t) for t in conv):
        fail(f"extractor_conv_layer_config is not a list of int 3-tuples: {conv!r}")
    for key in ("encoder_embed_dim", "encoder_num_layers", "encoder_pos_conv_kernel"):
        if type(cfg.get(key)) is not int:
            fail(f"config[{key!r}] is {type(cfg.get(key))}")
    for key in ("encoder_use_attention", "encoder_ff_interm_features"):
        if not isinstance(cfg.get(key), list):
            fail(f"config[{key!r}] is {type(cfg.get(key))}")
    if type(cfg.get("normalize_waveform")) is not bool:
        fail("config['normalize_waveform'] is not a bool")
    if type(ckpt["distill_linear_projs"]) is not dict:
        fail(f"distill_linear_projs is {type(ckpt['distill_linear_projs'])}")
    if len(sys.argv) > 2:
        expected = [line.strip() for line in open(sys.argv[2]) if line.strip()]
        if list(sd.keys()) != expected:
            fail(f"state_dict keys differ: got {list(sd.keys())[:5]}..., expected {expected[:5]}...")
    # The dummy weight is what DPHuBERT multiplies in; it must be there (ones for non-DPHuBERT sources).
    if "feature_extractor.dummy_weight" not in sd:
        fail("no feature_extractor.dummy_weight")
    print(json.dumps({
        "keys": len(sd),
        "config_keys": sorted(cfg.keys()),
        "conv": [list(t) for t in conv],
        "extra_top_level": sorted(k for k in ckpt if k not in ("state_dict", "config", "distill_linear_projs")),
        "sum": float(sum(v.double().sum() for v in sd.values())),
    }))


if __name__ == "__main__":
    main()
