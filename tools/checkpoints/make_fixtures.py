"""Generates the small checkpoint fixtures under tests/DpHubert.Tests/Fixtures/checkpoints/.

Run with a Python that has torch 1.13 and omegaconf 2.x:
    /usr/bin/python3 tools/checkpoints/make_fixtures.py
The C# tests read these files without Python; expected numbers are hard-coded there
(or derivable from torch.arange, as noted per file).
"""
import argparse
import collections
import io
import os
import pickle
import struct
import sys
import zipfile

import torch
from omegaconf import DictConfig, OmegaConf
from omegaconf.nodes import BooleanNode, FloatNode, IntegerNode, StringNode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pickle_stubs import AttributeDict, Dictionary, register  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "DpHubert.Tests", "Fixtures", "checkpoints")


def small_state_dict():
    sd = collections.OrderedDict()
    sd["encoder.layer.0.weight"] = torch.arange(12, dtype=torch.float32).reshape(3, 4) / 8
    sd["encoder.layer.0.bias"] = torch.tensor([-1.5, 0.0, 2.25], dtype=torch.float32)
    sd["step"] = torch.tensor(7, dtype=torch.int64)  # 0-d tensor
    return sd


def fairseq_omegaconf():
    # The shape fairseq (>= 0.10.2 with hydra) pickles: cfg is a DictConfig made from plain containers,
    # holding AnyNodes; typed nodes appear when a structured config was merged in.
    cfg = OmegaConf.create({
        "_name": None,
        "common": {"fp16": True, "log_interval": 200, "seed": 1337, "user_dir": None},
        "model": {
            "_name": "hubert",
            "label_rate": 50.0,
            "extractor_mode": "default",
            "encoder_layers": 12,
            "conv_feature_layers": "[(512,10,5)] + [(512,3,2)] * 4 + [(512,2,2)] * 2",
            "layer_norm_first": False,
            "dropout": 0.1,
            "feature_grad_mult": 0.1,
        },
        "task": {"_name": "hubert_pretraining", "labels": ["km"], "sample_rate": 16000, "max_sample_size": 250000},
        "optimization": {"lr": [0.0005], "update_freq": [1], "max_update": 400000},
        "checkpoint": {"interp": "${common.seed}"},
    })
    typed = DictConfig({"i": IntegerNode(5), "f": FloatNode(2.5), "b": BooleanNode(False), "s": StringNode("str")})
    cfg.typed = typed
    # omegaconf 2.0 (which fairseq pinned) records typing generics in container metadata; they pickle as
    # _operator.getitem(typing.X, args), enum.Enum and builtins.type(None). Simulate that here.
    import enum
    from typing import Any, Dict, Optional, Union
    cfg.model._metadata.ref_type = Optional[Dict[Union[str, enum.Enum], Any]]
    cfg.model._metadata.key_type = Union[str, enum.Enum]
    return {
        "cfg": cfg,
        "model": small_state_dict(),
        "optimizer_history": [{"criterion_name": "HubertCriterion", "num_updates": 400000}],
        "extra_state": {"epoch": 3, "val_loss": None},
        "last_optimizer_state": None,
    }


def fairseq_namespace():
    args = argparse.Namespace(
        arch="wav2vec2", encoder_layers=2, encoder_embed_dim=48, dropout=0.1, layer_norm_first=True,
        conv_feature_layers="[(32, 10, 5)] * 2", labels=["ltr"], update_freq=[1], tuple_value=(1, 2.0, "x"),
        quantize_targets=False, normalize=None,
    )
    return {"args": args, "model": small_state_dict()}


def dtypes():
    # Values are torch.arange(n) - 2 converted to each dtype (bool: arange % 2 == 1), shape (2, 3).
    d = collections.OrderedDict()
    base = torch.arange(6, dtype=torch.float64) - 2
    for name, dt in [("f32", torch.float32), ("f16", torch.float16), ("bf16", torch.bfloat16),
                     ("f64", torch.float64), ("i64", torch.int64), ("i32", torch.int32), ("i16", torch.int16),
                     ("i8", torch.int8)]:
        d[name] = (base / 4 if dt.is_floating_point else base).to(dt).reshape(2, 3)
    d["u8"] = torch.arange(6, dtype=torch.uint8).reshape(2, 3) * 50
    d["bool"] = (torch.arange(6) % 2 == 1).reshape(2, 3)
    d["f16_special"] = torch.tensor([65504.0, -0.0, float("inf"), 6.1035e-05], dtype=torch.float16)
    d["bf16_special"] = torch.tensor([3.3895e38, 1e-20, -float("inf"), 1.0 / 3.0], dtype=torch.bfloat16)
    return d


def views():
    # All tensors share one storage: offsets, transposed and stepped strides.
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    return {
        "base": base,
        "t": base.t(),              # strides (1, 6)
        "block": base[1:3, 2:5],    # offset 8, strides (6, 1)
        "col": base[:, 1],          # offset 1, stride (6,)
        "stepped": base[::2, ::3],  # strides (12, 3)
        "param": torch.nn.Parameter(torch.tensor([[1.0, 2.0], [3.0, 4.0]]).t()),
    }


def misc():
    # Values a fairseq/torch checkpoint may hold besides tensors and plain containers.
    import numpy as np
    dd = collections.defaultdict(list)
    dd["a"].append(1)
    return {
        "np_f64": np.float64(0.125), "np_i64": np.int64(-3), "np_f32": np.float32(1.5), "np_bool": np.bool_(True),
        "defaultdict": dd, "set": {7}, "bytes": b"\x00\xffab", "size": torch.Size([2, 3]),
        "device": torch.device("cpu"), "dtype": torch.float16, "big": 2 ** 70, "neg": -(2 ** 40),
        "unicode": "h\u00e9llo \u2713", "float_key": {1.5: "x", 2: "y", None: "z", (1, "t"): "w"},
        "empty_list": [], "empty_tuple": (), "nested": [[(1,)], {"k": [None]}],
    }


class Meter:
    """A plain object of a package that is not installed (a training meter)."""

    def __init__(self, val):
        self.val, self.history = val, [val, val / 2]


class Labels(list):
    """A list subclass of a package that is not installed."""


class Protocol1Pickled:
    """Pickles itself the protocol 0/1 way, copyreg._reconstructor(cls, base, state), as old pickles do."""

    def __reduce_ex__(self, protocol):
        import copyreg
        return copyreg._reduce_ex(self, 1)


class Protocol1Meter(Protocol1Pickled, Meter):
    pass


class Protocol1Hparams(Protocol1Pickled, AttributeDict):
    pass


register(Meter, "trainer_pkg.meters", "AverageMeter")
register(Labels, "trainer_pkg.labels", "Labels")


def inert_records(protocol1=False):
    # Objects that are not part of the model: fairseq's label dictionary (NEWOBJ + BUILD), Lightning's
    # AttributeDict (NEWOBJ + SETITEMS), a plain object inside a plain object, a list subclass (APPENDS) and a
    # class used as a value. Expected values are hard-coded in InertRecordTests.
    d = Dictionary()
    for i, c in enumerate([30, 20, 10]):
        d.add_symbol(str(i), n=c)
    meter_cls, hparams_cls = (Protocol1Meter, Protocol1Hparams) if protocol1 else (Meter, AttributeDict)
    # The globals a pickle names are looked up by module path: point them at the classes used here.
    register(meter_cls, "trainer_pkg.meters", "AverageMeter")
    register(hparams_cls, "pytorch_lightning.utilities.parsing", "AttributeDict")
    meter = meter_cls(2.5)
    meter.inner = meter_cls(1.0)
    return {
        "model": small_state_dict(),
        "task_state": {"dictionaries": [d]},
        "hyper_parameters": hparams_cls(lr=0.0002, layers=[1, 2], name="distill"),
        "meters": {"loss": meter},
        "labels": Labels(["a", "b"]),
        "hparams_type": meter_cls,
    }


def record_holding_tensor():
    # A tensor reachable from an object of an unknown class (shared with the model dict): must be refused.
    sd = small_state_dict()
    d = Dictionary()
    d.weights = sd["encoder.layer.0.bias"]
    return {"model": sd, "task_state": {"dictionaries": [d]}}


class Evil:
    def __init__(self, fn, arg):
        self.fn, self.arg = fn, arg

    def __reduce__(self):
        return (self.fn, (self.arg,))


def save_zip(obj, name):
    torch.save(obj, os.path.join(OUT, name))


def save_legacy(obj, name):
    torch.save(obj, os.path.join(OUT, name), _use_new_zipfile_serialization=False)


def truncated_copy(src, dst, record_suffix, keep):
    # Re-zips src with one record cut to `keep` bytes.
    with zipfile.ZipFile(os.path.join(OUT, src)) as zin, zipfile.ZipFile(os.path.join(OUT, dst), "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename.endswith(record_suffix):
                data = data[:keep]
            zout.writestr(info.filename, data)


def main():
    os.makedirs(OUT, exist_ok=True)
    save_zip(fairseq_omegaconf(), "fairseq_omegaconf.pt")
    save_zip(fairseq_namespace(), "fairseq_namespace.pt")
    save_legacy(fairseq_namespace(), "fairseq_namespace_legacy.pt")
    save_zip(dtypes(), "dtypes.pt")
    save_legacy(dtypes(), "dtypes_legacy.pt")
    save_zip(views(), "views.pt")
    save_legacy(views(), "views_legacy.pt")
    save_zip(misc(), "misc.pt")
    save_zip({"model": torch.nn.Linear(2, 2)}, "whole_module.pt")
    save_zip(inert_records(), "inert_records.pt")
    save_zip(inert_records(protocol1=True), "inert_records_reconstructor.pt")
    inert_records()  # restores the default stubs
    save_zip(record_holding_tensor(), "record_holding_tensor.pt")
    save_zip({"payload": Evil(os.system, "echo pwned")}, "evil_os_system.pt")
    save_legacy({"payload": Evil(eval, "1+1")}, "evil_eval_legacy.pt")
    # Storage "0" of dtypes.pt is f32 (6 x 4 bytes); keep 10.
    truncated_copy("dtypes.pt", "truncated_storage.pt", "/data/0", 10)
    legacy = open(os.path.join(OUT, "dtypes_legacy.pt"), "rb").read()
    open(os.path.join(OUT, "truncated_legacy.pt"), "wb").write(legacy[:-5])
    with zipfile.ZipFile(os.path.join(OUT, "missing_record.pt"), "w") as zout, \
            zipfile.ZipFile(os.path.join(OUT, "dtypes.pt")) as zin:
        for info in zin.infolist():
            if not info.filename.endswith("/data/1"):
                zout.writestr(info.filename, zin.read(info.filename))
    # Print reference numbers for the tests.
    print(torch.load(os.path.join(OUT, "dtypes.pt")))
    print(torch.load(os.path.join(OUT, "views.pt")))


if __name__ == "__main__":
    main()
