#!/usr/bin/env python3
"""Load a DPHuBERT .pth the way prune.py / so-vits-svc do, with load_state_dict(strict=True) semantics.

    /usr/bin/python3 tools/checkpoints/load_dphubert.py CHECKPOINT.pth

torch.load()s the file, checks the layout ({"state_dict": OrderedDict, "config": dict[, "distill_linear_projs"]}),
derives from config every key and shape that DPHuBERT's `wav2vec2_model(**config)` registers (the rules of its
components.py / model.py builders), and fails, naming every missing, unexpected and mis-shaped key, unless the
state_dict matches exactly -- which is what load_state_dict(strict=True) on the original model requires. Prints a JSON
summary on success. DPHuBERT's own package is not installable here, so the builder's naming rules are restated below.
"""
import collections
import json
import sys

import torch


def expected_keys(c):
    keys = collections.OrderedDict()
    conv = c["extractor_conv_layer_config"] or [(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512, 2, 2)] * 2
    keys["feature_extractor.dummy_weight"] = (conv[-1][0],)
    in_c = 1
    for i, (out, k, _s) in enumerate(conv):
        p = f"feature_extractor.conv_layers.{i}"
        if c["extractor_mode"] == "layer_norm" or (c["extractor_mode"] == "group_norm" and i == 0):
            keys[f"{p}.layer_norm.weight"] = (out,)
            keys[f"{p}.layer_norm.bias"] = (out,)
        keys[f"{p}.conv.weight"] = (out, in_c, k)
        if c["extractor_conv_bias"]:
            keys[f"{p}.conv.bias"] = (out,)
        if c.get("extractor_prune_conv_channels"):
            keys[f"{p}.hard_concrete.log_alpha"] = (out,)
        in_c = out
    e = c["encoder_embed_dim"]
    keys["encoder.feature_projection.layer_norm.weight"] = (in_c,)
    keys["encoder.feature_projection.layer_norm.bias"] = (in_c,)
    keys["encoder.feature_projection.projection.weight"] = (e, in_c)
    keys["encoder.feature_projection.projection.bias"] = (e,)
    kk, g = c["encoder_pos_conv_kernel"], c["encoder_pos_conv_groups"]
    keys["encoder.transformer.pos_conv_embed.conv.bias"] = (e,)
    keys["encoder.transformer.pos_conv_embed.conv.weight_g"] = (1, 1, kk)
    keys["encoder.transformer.pos_conv_embed.conv.weight_v"] = (e, e // g, kk)
    keys["encoder.transformer.layer_norm.weight"] = (e,)
    keys["encoder.transformer.layer_norm.bias"] = (e,)
    wavlm = "encoder_remaining_heads" in c
    for i in range(c["encoder_num_layers"]):
        p = f"encoder.transformer.layers.{i}"
        if c["encoder_use_attention"][i]:
            a = f"{p}.attention"
            if wavlm:
                total = c["encoder_total_num_heads"][i]
                hd = e // total
                width = len(c["encoder_remaining_heads"][i]) * hd
                keys[f"{a}.gru_rel_pos_const"] = (1, total, 1, 1)
            else:
                hd = c["encoder_head_dim"]
                width = c["encoder_num_heads"][i] * hd
            for proj in ("k_proj", "v_proj", "q_proj"):
                keys[f"{a}.{proj}.weight"] = (width, e)
                keys[f"{a}.{proj}.bias"] = (width,)
            keys[f"{a}.out_proj.weight"] = (e, width)
            keys[f"{a}.out_proj.bias"] = (e,)
            if wavlm:
                if i == 0:
                    keys[f"{a}.rel_attn_embed.weight"] = (c["encoder_num_buckets"], total)
                keys[f"{a}.gru_rel_pos_linear.weight"] = (8, hd)
                keys[f"{a}.gru_rel_pos_linear.bias"] = (8,)
            if c.get("encoder_prune_attention_heads"):
                keys[f"{a}.hard_concrete_for_heads.log_alpha"] = (width // hd,)
            if c.get("encoder_prune_attention_layer"):
                keys[f"{a}.hard_concrete_for_layer.log_alpha"] = (1,)
        keys[f"{p}.layer_norm.weight"] = (e,)
        keys[f"{p}.layer_norm.bias"] = (e,)
        if c["encoder_use_feed_forward"][i]:
            f = c["encoder_ff_interm_features"][i]
            ff = f"{p}.feed_forward"
            keys[f"{ff}.intermediate_dense.weight"] = (f, e)
            keys[f"{ff}.intermediate_dense.bias"] = (f,)
            keys[f"{ff}.output_dense.weight"] = (e, f)
            keys[f"{ff}.output_dense.bias"] = (e,)
            if c.get("encoder_prune_feed_forward_intermediate"):
                keys[f"{ff}.hard_concrete_for_intermediate.log_alpha"] = (f,)
            if c.get("encoder_prune_feed_forward_layer"):
                keys[f"{ff}.hard_concrete_for_layer.log_alpha"] = (1,)
        keys[f"{p}.final_layer_norm.weight"] = (e,)
        keys[f"{p}.final_layer_norm.bias"] = (e,)
    if c["aux_num_out"] is not None:
        keys["aux.weight"] = (c["aux_num_out"], e)
        keys["aux.bias"] = (c["aux_num_out"],)
    return keys


def main(path):
    ckpt = torch.load(path, map_location="cpu")
    problems = []
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt or "config" not in ckpt:
        sys.exit(f"{path}: not a DPHuBERT checkpoint (keys: {list(ckpt) if isinstance(ckpt, dict) else type(ckpt)})")
    sd, config = ckpt["state_dict"], ckpt["config"]
    if not isinstance(sd, collections.OrderedDict):
        problems.append(f"state_dict is a {type(sd).__name__}, not an OrderedDict")
    if type(config) is not dict:
        problems.append(f"config is a {type(config).__name__}, not a dict")
    conv = config.get("extractor_conv_layer_config")
    if conv is not None and not all(isinstance(t, tuple) and len(t) == 3 for t in conv):
        problems.append("extractor_conv_layer_config is not a list of 3-tuples")
    expected = expected_keys(config)
    missing = [k for k in expected if k not in sd]
    unexpected = [k for k in sd if k not in expected]
    mismatched = [f"{k}: expected {list(expected[k])}, found {list(sd[k].shape)}" for k in expected
                  if k in sd and tuple(sd[k].shape) != expected[k]]
    if missing:
        problems.append("missing keys: " + ", ".join(missing))
    if unexpected:
        problems.append("unexpected keys: " + ", ".join(unexpected))
    problems += ["shape mismatch " + m for m in mismatched]
    not_float = [k for k, v in sd.items() if v.dtype != torch.float32]
    if not_float:
        problems.append("not float32: " + ", ".join(not_float))
    if problems:
        sys.exit(f"{path}: strict load would fail:\n  " + "\n  ".join(problems))
    print(json.dumps({
        "keys": len(sd),
        "parameters": int(sum(v.numel() for v in sd.values())),
        "config": {k: (list(map(list, v)) if k == "extractor_conv_layer_config" and v else v) for k, v in config.items()},
        "distill_linear_projs": sorted(ckpt.get("distill_linear_projs", {}) or {}),
    }))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
