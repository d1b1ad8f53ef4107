#!/usr/bin/python3
"""Checkpoints laid out exactly as the published files users download, with tiny random weights, plus the
outputs the original implementation computes for them: tests/DpHubert.Tests/Fixtures/published/.

    /usr/bin/python3 tools/reference/make_published_layouts.py            # rebuild, then verify
    /usr/bin/python3 tools/reference/make_published_layouts.py --verify-only

Reuses the weights and helpers of make_reference.py (its fixtures must exist). Objects of classes that are not
installed here (fairseq's Dictionary) are pickled from stub classes registered under the same module path,
with the same attributes, so the pickle bytes name the same global and carry the same state as the real file.
Seeded, CPU, one thread: a rerun gives the same bytes. See tools/reference/README.md.
"""
import collections
import copy
import json
import os
import shutil
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_reference as mr  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "checkpoints"))
from pickle_stubs import Dictionary  # noqa: E402

OUT = os.path.join(mr.ROOT, "tests", "DpHubert.Tests", "Fixtures", "published")
REF = mr.OUT
CASES = []


def km_dictionary(n_clusters, seed):
    """The label dictionary HuBERT's task loads from dict.km.txt: one symbol per cluster with its count."""
    g = torch.Generator().manual_seed(seed)
    d = Dictionary()
    counts = torch.randint(1000, 90000, (n_clusters,), generator=g).tolist()
    for i, c in enumerate(counts):
        d.add_symbol(str(i), n=c)
    return d


def fairseq_published(cfg, model_sd, dictionaries, num_updates):
    """The dict fairseq's Trainer.state_dict + checkpoint_utils.save_checkpoint write, as in the released
    HuBERT / ContentVec files: no optimizer state, the task's label dictionaries in task_state."""
    ckpt = collections.OrderedDict()
    ckpt["args"] = None
    ckpt["cfg"] = cfg
    ckpt["model"] = model_sd
    ckpt["criterion"] = None
    ckpt["optimizer_history"] = [
        {"criterion_name": "HubertCriterion", "optimizer_name": "FairseqAdam",
         "lr_scheduler_state": {"best": None}, "num_updates": num_updates}]
    ckpt["task_state"] = {"dictionaries": dictionaries}
    ckpt["extra_state"] = {
        "metrics": {
            "train": [(0, "loss", "AverageMeter", {"val": 2.5, "sum": 250.0, "count": 100, "round": 3}),
                      (10, "wps", "TimeMeter", {"init": 0, "n": 1200.0, "round": 1})],
            "default": [],
        },
        "previous_training_time": 83214.5,
        "train_iterator": {"version": 2, "epoch": 90, "iterations_in_epoch": 0, "shuffle": True},
        "val_loss": None,
    }
    return ckpt


def rel(*parts):
    return "/".join(parts)


def half_state_dict(sd):
    return collections.OrderedDict((k, v.half()) for k, v in sd.items())


def outputs_of(ta_config, sd, wave):
    """torchaudio's model on float32 copies of the (possibly float16) weights, as fairseq runs fp16 files on CPU."""
    model = mr.build_ta_model(ta_config)
    model.load_state_dict({k: v.float() for k, v in sd.items()}, strict=True)
    model.eval()
    with torch.no_grad():
        out, _ = model(wave[None])
        layers, _ = model.extract_features(wave[None])
    return out[0].numpy(), torch.stack([x[0] for x in layers]).numpy()


def save(case, name, array):
    np.save(os.path.join(OUT, case, name), array.astype(np.float32))
    return rel(case, name)


# ------------------------------------------------------------------------------------------------
# Cases
# ------------------------------------------------------------------------------------------------

def make_fairseq_hubert_released(name, file_name, source_case, weights_half, n_clusters, seed, what):
    """A fairseq HuBERT pretraining checkpoint as released (hubert_base_ls960.pt, ContentVec's
    checkpoint_best_legacy_500.pt, RVC's hubert_base.pt): cfg a plain dict, task_state with a real Dictionary."""
    os.makedirs(os.path.join(OUT, name), exist_ok=True)
    src = next(c for c in json.load(open(os.path.join(REF, "manifest.json")))["cases"] if c["name"] == source_case)
    ta = src.get("torchaudio_config") or json.load(open(os.path.join(REF, src["files"]["torchaudio_config"])))
    fsrc = torch.load(os.path.join(REF, src["files"]["checkpoint"]))["model"] if "checkpoint" in src["files"] else None
    if fsrc is None:
        ta_sd = torch.load(os.path.join(REF, src["files"]["state_dict"]))
        g = torch.Generator().manual_seed(seed)
        E, final_dim = ta["encoder_embed_dim"], 16
        own = [("mask_emb", torch.rand(E, generator=g)),
               ("label_embs_concat", mr.rand_tensor(g, (n_clusters + 4, final_dim), 1.0))]
        extra = [("final_proj.weight", mr.rand_tensor(g, (final_dim, E), E ** -0.5)),
                 ("final_proj.bias", mr.rand_tensor(g, (final_dim,), 0.1))]
        fsd = mr.fairseq_model_dict(ta_sd, ta["extractor_mode"], own, extra)
    else:
        fsd = collections.OrderedDict((k, v.clone()) for k, v in fsrc.items())
    final_dim = fsd["final_proj.weight"].shape[0]
    if weights_half:
        fsd = half_state_dict(fsd)
    cfg = mr.hubert_pretraining_cfg(ta, final_dim, normalize=False)
    cfg["common"]["fp16"] = True
    dictionaries = [km_dictionary(n_clusters, seed + 1)]
    ckpt = fairseq_published(cfg, fsd, dictionaries, num_updates=400000)
    torch.save(ckpt, os.path.join(OUT, name, file_name))

    mapped = mr.map_fairseq_state_dict(fsd)
    mapped.pop("label_embs_concat")
    wave = mr.read_wav(os.path.join(REF, src["files"]["input_wav"]))
    out, layers = outputs_of(ta, mapped, wave)
    fp = F.linear(torch.from_numpy(out), fsd["final_proj.weight"].float(), fsd["final_proj.bias"].float()).numpy()
    files = {
        "checkpoint": rel(name, file_name),
        "input_wav": "../reference/" + src["files"]["input_wav"],
        "single_output": save(name, "single_output.npy", out),
        "single_layers": save(name, "single_layers.npy", layers),
        "final_proj_output": save(name, "final_proj_output.npy", fp),
    }
    with open(os.path.join(OUT, name, "config.json"), "w") as f:
        json.dump(mr.dphubert_config(ta, normalize_waveform=False), f, indent=1)
    files["config"] = rel(name, "config.json")
    CASES.append({
        "name": name,
        "layout_of": what,
        "files": files,
        "top_level_keys": list(ckpt.keys()),
        "task_state": "{'dictionaries': [fairseq.data.dictionary.Dictionary with %d symbols]}"
                      % len(dictionaries[0].symbols),
        "weights_dtype": "float16" if weights_half else "float32",
        "same_weights_as": "../reference/" + source_case + (" (rounded to float16)" if weights_half else ""),
        "torchaudio_config": ta,
        "final_proj": list(fsd["final_proj.weight"].shape),
        "reference": "torchaudio 0.13.1 wav2vec2_model on the float32 copy of the mapped weights (import_fairseq "
                     "_map_key); final_proj_output = final_proj(single_output)",
    })


# ------------------------------------------------------------------------------------------------

def verify():
    manifest = json.load(open(os.path.join(OUT, "manifest.json")))
    for case in manifest["cases"]:
        f = {k: os.path.normpath(os.path.join(OUT, v)) for k, v in case["files"].items()}
        ckpt = torch.load(f["checkpoint"])
        assert list(ckpt.keys()) == case["top_level_keys"], case["name"]
        d = ckpt["task_state"]["dictionaries"][0]
        assert type(d).__module__ == "fairseq.data.dictionary" and type(d).__name__ == "Dictionary"
        assert d.symbols[:4] == ["<s>", "<pad>", "</s>", "<unk>"] and d.nspecial == 4
        fsd = ckpt["model"]
        want = torch.float16 if case["weights_dtype"] == "float16" else torch.float32
        assert all(v.dtype == want for v in fsd.values()), case["name"]
        mapped = mr.map_fairseq_state_dict(fsd)
        mapped.pop("label_embs_concat")
        wave = mr.read_wav(f["input_wav"])
        out, layers = outputs_of(case["torchaudio_config"], mapped, wave)
        mr._assert_same(np.load(f["single_output"]), out, (case["name"], "single_output"))
        mr._assert_same(np.load(f["single_layers"]), layers, (case["name"], "single_layers"))
        print(f"verified {case['name']}")
    total = sum(os.path.getsize(os.path.join(dp, x)) for dp, _, fs in os.walk(OUT) for x in fs)
    print(f"total size {total / 1e6:.2f} MB in {OUT}")


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    torch.manual_seed(mr.SEED)
    make_fairseq_hubert_released(
        "hubert_base_ls960", "hubert_base_ls960.pt", "ta_hubert_base_like", False, 20, mr.SEED + 101,
        "fairseq's released hubert_base_ls960.pt / hubert_large_ll60k.pt: {args: None, cfg: dict, model, "
        "criterion: None, optimizer_history, task_state: {dictionaries: [Dictionary]}, extra_state}, float32")
    make_fairseq_hubert_released(
        "contentvec_500", "checkpoint_best_legacy_500.pt", "contentvec_legacy", True, 20, mr.SEED + 102,
        "ContentVec's checkpoint_best_legacy_500.pt (so-vits-svc's default encoder) and RVC's hubert_base.pt: "
        "the same fairseq layout with float16 weights and final_proj")
    manifest = {
        "generator": "tools/reference/make_published_layouts.py",
        "regenerate": "/usr/bin/python3 tools/reference/make_published_layouts.py",
        "versions": {"torch": torch.__version__},
        "paths": "relative to this directory (Fixtures/published)",
        "tolerance": "float32 CPU: 1e-5 of max_abs; the Python side reproduces itself bit-exactly",
        "cases": CASES,
    }
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    verify()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--verify-only":
        verify()
    else:
        main()
