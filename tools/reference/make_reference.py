#!/usr/bin/python3
"""Generate the small, committed reference fixtures under
tests/DpHubert.Tests/Fixtures/reference/ for the C# (TorchSharp) port.

Run with the system interpreter (it has torch 1.13 / torchaudio 0.13.1 / omegaconf 2.2):

    /usr/bin/python3 tools/reference/make_reference.py

What it produces (see tools/reference/README.md and the generated manifest.json):

* ``ta_hubert_base_like`` / ``ta_large_like``: an *independent* second reference built with
  torchaudio's own ``wav2vec2_model`` (not DPHuBERT's code), saved as a bare torchaudio
  ``state_dict`` plus the outputs torchaudio computes for a fixed input.
* ``fairseq_hubert``, ``fairseq_wav2vec2``, ``contentvec_legacy``, ``fairseq_hubert_ctc``: hand-built
  fairseq-format checkpoints (fairseq is not installed, so the dicts are laid out the way fairseq's
  ``checkpoint_utils`` / ``Trainer.state_dict`` saves them) whose ``model`` keys are the inverse of
  torchaudio's ``utils/import_fairseq.py::_map_key``; each comes with the torchaudio state_dict that
  the mapping must yield and the outputs of the mapped model.

Everything is seeded and computed on CPU in float32 with one thread, so re-running the script gives
the same bytes (checked by ``verify()`` which re-loads every file and re-runs the models).
"""
import argparse
import collections
import io
import json
import os
import platform
import re
import shutil
import sys
import wave

import numpy as np
import omegaconf
import torch
import torch.nn.functional as F
import torchaudio
from omegaconf import OmegaConf
from torchaudio.models import wav2vec2_model
from torchaudio.models.wav2vec2.utils.import_fairseq import _map_key

SEED = 1234
SAMPLE_RATE = 16000
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "tests", "DpHubert.Tests", "Fixtures", "reference")
ALSA = "/usr/share/sounds/alsa"

torch.set_num_threads(1)  # one thread: bit-reproducible float32 reductions
torch.use_deterministic_algorithms(True)


# ----------------------------------------------------------------------------------------------
# Model configurations (torchaudio 0.13.1 ``wav2vec2_model`` keyword arguments)
# ----------------------------------------------------------------------------------------------

# HuBERT/wav2vec2 *Base* layout at toy scale: group-norm extractor (GroupNorm only on conv 0), no conv
# bias, post-LN transformer (encoder_layer_norm_first False), even positional-conv kernel (the
# trailing frame of the "same" padding is removed).
TA_HUBERT_BASE_LIKE = dict(
    extractor_mode="group_norm",
    extractor_conv_layer_config=[[24, 10, 5]] + [[24, 3, 2]] * 4 + [[24, 2, 2]] * 2,
    extractor_conv_bias=False,
    encoder_embed_dim=32,
    encoder_projection_dropout=0.1,
    encoder_pos_conv_kernel=16,
    encoder_pos_conv_groups=4,
    encoder_num_layers=3,
    encoder_num_heads=4,
    encoder_attention_dropout=0.1,
    encoder_ff_interm_features=64,
    encoder_ff_interm_dropout=0.0,
    encoder_dropout=0.1,
    encoder_layer_norm_first=False,
    encoder_layer_drop=0.05,
    aux_num_out=None,
)

# *Large* layout at toy scale: layer-norm extractor (LayerNorm over channels in every conv block),
# conv bias, pre-LN transformer, an aux (CTC) head, and an ODD positional-conv kernel (nothing is
# removed after the convolution) so the port's num_remove==0 branch is covered too.
TA_LARGE_LIKE = dict(
    extractor_mode="layer_norm",
    extractor_conv_layer_config=[[24, 10, 5]] + [[24, 3, 2]] * 4 + [[24, 2, 2]] * 2,
    extractor_conv_bias=True,
    encoder_embed_dim=32,
    encoder_projection_dropout=0.1,
    encoder_pos_conv_kernel=9,
    encoder_pos_conv_groups=4,
    encoder_num_layers=2,
    encoder_num_heads=4,
    encoder_attention_dropout=0.0,
    encoder_ff_interm_features=80,
    encoder_ff_interm_dropout=0.1,
    encoder_dropout=0.0,
    encoder_layer_norm_first=True,
    encoder_layer_drop=0.1,
    aux_num_out=5,
)

# ContentVec (a HuBERT Base) at toy scale, different widths from the other cases: 16 conv channels,
# 2 heads of 16, kernel 8.
CONTENTVEC_LIKE = dict(
    extractor_mode="group_norm",
    extractor_conv_layer_config=[[16, 10, 5]] + [[16, 3, 2]] * 4 + [[16, 2, 2]] * 2,
    extractor_conv_bias=False,
    encoder_embed_dim=32,
    encoder_projection_dropout=0.1,
    encoder_pos_conv_kernel=8,
    encoder_pos_conv_groups=4,
    encoder_num_layers=2,
    encoder_num_heads=2,
    encoder_attention_dropout=0.1,
    encoder_ff_interm_features=64,
    encoder_ff_interm_dropout=0.0,
    encoder_dropout=0.1,
    encoder_layer_norm_first=False,
    encoder_layer_drop=0.05,
    aux_num_out=None,
)


def build_ta_model(ta_config):
    cfg = dict(ta_config)
    cfg["extractor_conv_layer_config"] = [tuple(x) for x in cfg["extractor_conv_layer_config"]]
    return wav2vec2_model(**cfg).eval()


def dphubert_config(ta_config, normalize_waveform=False, aux_num_out="same"):
    """The DPHuBERT ``wav2vec2_model(**config)`` dict equivalent to a torchaudio config:
    per-layer lists, explicit head_dim, prune flags all False."""
    L = ta_config["encoder_num_layers"]
    E = ta_config["encoder_embed_dim"]
    H = ta_config["encoder_num_heads"]
    return {
        "extractor_mode": ta_config["extractor_mode"],
        "extractor_conv_layer_config": [list(x) for x in ta_config["extractor_conv_layer_config"]],
        "extractor_conv_bias": ta_config["extractor_conv_bias"],
        "encoder_embed_dim": E,
        "encoder_projection_dropout": ta_config["encoder_projection_dropout"],
        "encoder_pos_conv_kernel": ta_config["encoder_pos_conv_kernel"],
        "encoder_pos_conv_groups": ta_config["encoder_pos_conv_groups"],
        "encoder_num_layers": L,
        "encoder_use_attention": [True] * L,
        "encoder_use_feed_forward": [True] * L,
        "encoder_num_heads": [H] * L,
        "encoder_head_dim": E // H,
        "encoder_attention_dropout": ta_config["encoder_attention_dropout"],
        "encoder_ff_interm_features": [ta_config["encoder_ff_interm_features"]] * L,
        "encoder_ff_interm_dropout": ta_config["encoder_ff_interm_dropout"],
        "encoder_dropout": ta_config["encoder_dropout"],
        "encoder_layer_norm_first": ta_config["encoder_layer_norm_first"],
        "encoder_layer_drop": ta_config["encoder_layer_drop"],
        "aux_num_out": ta_config["aux_num_out"] if aux_num_out == "same" else aux_num_out,
        "normalize_waveform": normalize_waveform,
        "extractor_prune_conv_channels": False,
        "encoder_prune_attention_heads": False,
        "encoder_prune_attention_layer": False,
        "encoder_prune_feed_forward_intermediate": False,
        "encoder_prune_feed_forward_layer": False,
    }


# ----------------------------------------------------------------------------------------------
# Parameters: every tensor gets non-trivial random values (not the default init), so a wrong key,
# a swapped weight/bias or a skipped norm shows up in the outputs.
# ----------------------------------------------------------------------------------------------

def randomize_(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            shape = p.shape
            if name.endswith("weight_g"):
                # weight-norm magnitude (1, 1, K): positive, varies per kernel tap
                v = torch.rand(shape, generator=g) + 0.5
            elif name.endswith("weight_v"):
                v = torch.randn(shape, generator=g)
            elif "layer_norm" in name or "norm" in (name.split(".") + [""])[-2]:
                # GroupNorm / LayerNorm affine parameters
                if name.endswith("weight"):
                    v = 1.0 + 0.25 * torch.randn(shape, generator=g)
                else:
                    v = 0.15 * torch.randn(shape, generator=g)
            elif name.endswith("bias"):
                v = 0.15 * torch.randn(shape, generator=g)
            else:
                fan_in = int(np.prod(shape[1:]))
                v = torch.randn(shape, generator=g) / np.sqrt(fan_in)
            p.copy_(v)
    return model


def rand_tensor(g, shape, scale):
    return (torch.randn(shape, generator=g) * scale).float()


# ----------------------------------------------------------------------------------------------
# Audio inputs: real speech from alsa-utils' test sounds, resampled 48 kHz -> 16 kHz by torchaudio,
# quantised to 16-bit PCM; the model input is int16 / 32768 (what reading the wav gives).
# ----------------------------------------------------------------------------------------------

_RESAMPLED = {}


def alsa_pcm16(name, start, n):
    if name not in _RESAMPLED:
        w, sr = torchaudio.load(os.path.join(ALSA, name))
        w = torchaudio.functional.resample(w[0], sr, SAMPLE_RATE)
        _RESAMPLED[name] = torch.clamp(torch.round(w * 32768.0), -32768, 32767).to(torch.int16)
    x = _RESAMPLED[name][start:start + n]
    assert x.numel() == n, (name, start, n, _RESAMPLED[name].numel())
    return x


def pcm_to_float(x_int16):
    return x_int16.to(torch.float32) / 32768.0


def write_wav(path, x_int16):
    # Plain 44-byte RIFF header (python's wave module writes no extra chunks).
    with wave.open(path, "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(SAMPLE_RATE)
        f.writeframes(x_int16.numpy().astype("<i2").tobytes())


def read_wav(path):
    with wave.open(path, "rb") as f:
        assert f.getnchannels() == 1 and f.getsampwidth() == 2 and f.getframerate() == SAMPLE_RATE
        data = np.frombuffer(f.readframes(f.getnframes()), dtype="<i2")
    return torch.from_numpy(data.astype(np.float32) / 32768.0)


def make_batch(pieces):
    """pieces: list of int16 tensors -> float32 (B, N) zero-padded, int64 lengths"""
    lengths = torch.tensor([p.numel() for p in pieces], dtype=torch.int64)
    out = torch.zeros(len(pieces), int(lengths.max()), dtype=torch.float32)
    for i, p in enumerate(pieces):
        out[i, : p.numel()] = pcm_to_float(p)
    return out, lengths


# Inputs per torchaudio case: single (name, start, n) and the batch pieces.
INPUTS = {
    # 1.0 s -> 49 frames; batch lengths 16000 / 11000 / 6401 -> 49 / 34 / 19 frames (longest first)
    "ta_hubert_base_like": dict(
        single=("Front_Center.wav", 0, 16000),
        batch=[("Front_Center.wav", 0, 16000), ("Front_Left.wav", 2000, 11000), ("Rear_Center.wav", 1000, 6401)],
    ),
    # 1.2 s -> 59 frames; batch lengths 12000 / 19200 / 8000 (longest in the middle)
    "ta_large_like": dict(
        single=("Front_Center.wav", 0, 19200),
        batch=[("Front_Right.wav", 3000, 12000), ("Front_Center.wav", 0, 19200), ("Front_Left.wav", 500, 8000)],
    ),
}


# ----------------------------------------------------------------------------------------------
# Running the models
# ----------------------------------------------------------------------------------------------

def normalize_waveform(waves, lengths=None):
    """DPHuBERT's ``normalize_waveform`` (== fairseq task ``normalize: true``): F.layer_norm over the
    samples (eps 1e-5, no affine); with lengths each row over its valid samples, re-padded with zeros
    to max(lengths)."""
    if lengths is None:
        return F.layer_norm(waves, waves.shape[-1:])
    rows = [F.layer_norm(waves[i, : int(l)], (int(l),)) for i, l in enumerate(lengths)]
    return torch.nn.utils.rnn.pad_sequence(rows, batch_first=True)


@torch.no_grad()
def run_model(model, single_wave, batch_waves, batch_lengths, normalize=False):
    w1 = single_wave[None]
    wb = batch_waves
    if normalize:
        w1 = normalize_waveform(w1)
        wb = normalize_waveform(wb, batch_lengths)
    out, _ = model(w1)
    layers, _ = model.extract_features(w1)
    bout, blen = model(wb, batch_lengths)
    return {
        "single_output": out[0].numpy().astype(np.float32),
        "single_layers": torch.stack([x[0] for x in layers]).numpy().astype(np.float32),
        "batch_output": bout.numpy().astype(np.float32),
        "batch_output_lengths": blen.numpy().astype(np.int64),
    }


def save_npys(case_dir, results):
    for k, v in results.items():
        np.save(os.path.join(case_dir, k + ".npy"), v)


def clean_state_dict(sd):
    """Own, contiguous storage per tensor (torch.save writes whole storages, so views would bloat
    the file) in an OrderedDict."""
    return collections.OrderedDict((k, v.detach().clone().contiguous()) for k, v in sd.items())


# ----------------------------------------------------------------------------------------------
# torchaudio <-> fairseq key mapping (the inverse of torchaudio's _map_key)
# ----------------------------------------------------------------------------------------------

_INVERSE_RULES = [
    # (torchaudio regex, fairseq template); group-norm extractor's conv-0 norm is handled separately
    (r"feature_extractor\.conv_layers\.(\d+)\.conv\.(weight|bias)$", r"feature_extractor.conv_layers.\1.0.\2"),
    (r"encoder\.feature_projection\.projection\.(weight|bias)$", r"post_extract_proj.\1"),
    (r"encoder\.feature_projection\.layer_norm\.(weight|bias)$", r"layer_norm.\1"),
    (r"encoder\.transformer\.pos_conv_embed\.conv\.(bias|weight_g|weight_v)$", r"encoder.pos_conv.0.\1"),
    (r"encoder\.transformer\.layer_norm\.(weight|bias)$", r"encoder.layer_norm.\1"),
    (r"encoder\.transformer\.layers\.(\d+)\.attention\.((k|v|q|out)_proj\.(weight|bias))$", r"encoder.layers.\1.self_attn.\2"),
    (r"encoder\.transformer\.layers\.(\d+)\.layer_norm\.(weight|bias)$", r"encoder.layers.\1.self_attn_layer_norm.\2"),
    (r"encoder\.transformer\.layers\.(\d+)\.feed_forward\.intermediate_dense\.(weight|bias)$", r"encoder.layers.\1.fc1.\2"),
    (r"encoder\.transformer\.layers\.(\d+)\.feed_forward\.output_dense\.(weight|bias)$", r"encoder.layers.\1.fc2.\2"),
    (r"encoder\.transformer\.layers\.(\d+)\.final_layer_norm\.(weight|bias)$", r"encoder.layers.\1.final_layer_norm.\2"),
    (r"aux\.(weight|bias)$", r"proj.\1"),
]


def ta_key_to_fairseq(key, extractor_mode):
    m = re.match(r"feature_extractor\.conv_layers\.(\d+)\.layer_norm\.(weight|bias)$", key)
    if m:
        if extractor_mode == "group_norm":
            # Fp32GroupNorm is element 2 of conv block 0's nn.Sequential(conv, dropout, norm, GELU)
            assert m.group(1) == "0"
            return f"feature_extractor.conv_layers.0.2.{m.group(2)}"
        # layer_norm mode: nn.Sequential(TransposeLast, Fp32LayerNorm, TransposeLast) at index 2
        return f"feature_extractor.conv_layers.{m.group(1)}.2.1.{m.group(2)}"
    for pat, repl in _INVERSE_RULES:
        if re.match(pat, key):
            return re.sub(pat, repl, key)
    raise ValueError(key)


def _fairseq_order(fkey):
    """Sort key reproducing fairseq's module registration order:
    feature_extractor, post_extract_proj, [quantizer, project_q], encoder, layer_norm, final_proj, proj.
    Within the feature extractor: conv weight/bias (.0.) before the norm (.2.)."""
    top = ["feature_extractor", "post_extract_proj", "quantizer", "project_q", "encoder", "layer_norm",
           "final_proj", "proj"]
    head = fkey.split(".")[0]
    return top.index(head)


def fairseq_model_dict(ta_sd, extractor_mode, own_params=(), extra_modules=()):
    """Build a fairseq state_dict (OrderedDict) from a torchaudio one.

    own_params: [(key, tensor)] direct parameters of the fairseq model (mask_emb, label_embs_concat);
        torch's Module.state_dict() lists a module's own parameters BEFORE its children's.
    extra_modules: [(key, tensor)] extra child-module parameters (quantizer.*, project_q.*, final_proj.*).
    """
    mapped = [(ta_key_to_fairseq(k, extractor_mode), v) for k, v in ta_sd.items()]
    for fk, (tk, _) in zip([m[0] for m in mapped], ta_sd.items()):
        # the inverse must round-trip through torchaudio's own _map_key
        assert _map_key(fk) == tk, (fk, _map_key(fk), tk)
    # stable sort: groups by top-level module, keeps torchaudio's order inside a group, except the
    # extractor where fairseq lists conv (index 0) before norm (index 2) within each block.
    def fe_key(item):
        k = item[0]
        m = re.match(r"feature_extractor\.conv_layers\.(\d+)\.(\d)", k)
        if m:
            return (_fairseq_order(k), int(m.group(1)), int(m.group(2)))
        # fairseq's TransformerEncoder registers pos_conv, layers, then layer_norm (torchaudio has
        # layer_norm before layers)
        m = re.match(r"encoder\.layers\.(\d+)\.", k)
        if m:
            return (_fairseq_order(k), 1, int(m.group(1)))
        if k.startswith("encoder.layer_norm."):
            return (_fairseq_order(k), 2, 0)
        return (_fairseq_order(k), 0, 0)

    items = sorted(list(mapped) + list(extra_modules), key=fe_key)
    out = collections.OrderedDict()
    for k, v in own_params:
        out[k] = v
    for k, v in items:
        out[k] = v
    return clean_state_dict(out)


def conv_layers_string(conv, style):
    """fairseq's ``conv_feature_layers`` is a python expression (fairseq eval()s it)."""
    runs = []
    for c in conv:
        c = tuple(c)
        if runs and runs[-1][0] == c:
            runs[-1][1] += 1
        else:
            runs.append([c, 1])
    parts = []
    for (o, k, s), n in runs:
        if style == "hubert":  # HubertConfig default style: "[(512,10,5)] + [(512,3,2)] * 4 + [(512,2,2)] * 2"
            parts.append(f"[({o},{k},{s})]" + (f" * {n}" if n > 1 else ""))
        else:  # Wav2Vec2Config default style: "[(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512,2,2)] + [(512,2,2)]"
            if n > 2 or k != 2:
                parts.append(f"[({o}, {k}, {s})]" + (f" * {n}" if n > 1 else ""))
            else:
                parts.extend([f"[({o},{k},{s})]"] * n)
    return " + ".join(parts)


def fairseq_model_fields(ta, conv_style, final_dim):
    """The fairseq model-config fields that describe the architecture (HubertConfig/Wav2Vec2Config
    names) for a torchaudio config."""
    return {
        "extractor_mode": "default" if ta["extractor_mode"] == "group_norm" else "layer_norm",
        "encoder_layers": ta["encoder_num_layers"],
        "encoder_embed_dim": ta["encoder_embed_dim"],
        "encoder_ffn_embed_dim": ta["encoder_ff_interm_features"],
        "encoder_attention_heads": ta["encoder_num_heads"],
        "activation_fn": "gelu",
        "layer_type": "transformer",
        "dropout": ta["encoder_dropout"],
        "attention_dropout": ta["encoder_attention_dropout"],
        "activation_dropout": ta["encoder_ff_interm_dropout"],
        "encoder_layerdrop": ta["encoder_layer_drop"],
        "dropout_input": ta["encoder_projection_dropout"],
        "dropout_features": 0.1,
        "final_dim": final_dim,
        "layer_norm_first": ta["encoder_layer_norm_first"],
        "conv_feature_layers": conv_layers_string(ta["extractor_conv_layer_config"], conv_style),
        "conv_bias": ta["extractor_conv_bias"],
        "logit_temp": 0.1,
        "target_glu": False,
        "feature_grad_mult": 0.1,
        "mask_length": 10,
        "mask_prob": 0.8,
        "mask_selection": "static",
        "mask_other": 0.0,
        "no_mask_overlap": False,
        "mask_min_space": 1,
        "mask_channel_length": 10,
        "mask_channel_prob": 0.0,
        "mask_channel_selection": "static",
        "mask_channel_other": 0.0,
        "no_mask_channel_overlap": False,
        "mask_channel_min_space": 1,
        "conv_pos": ta["encoder_pos_conv_kernel"],
        "conv_pos_groups": ta["encoder_pos_conv_groups"],
        "latent_temp": [2.0, 0.5, 0.999995],
        "checkpoint_activations": False,
        "required_seq_len_multiple": 2,
    }


def hubert_pretraining_cfg(ta, final_dim, normalize, labels=("km",)):
    """cfg of a HuBERT pretraining run, as a plain container (wrapped in OmegaConf by the caller)."""
    model = {"_name": "hubert", "label_rate": 50.0}
    model.update(fairseq_model_fields(ta, "hubert", final_dim))
    model.update({"untie_final_proj": False, "skip_masked": False, "skip_nomask": False})
    return {
        "_name": None,
        "common": {"_name": None, "fp16": True, "log_interval": 200, "seed": 1337, "cpu": False},
        "dataset": {"_name": None, "max_tokens": 1400000, "num_workers": 6},
        "optimization": {"_name": None, "max_update": 400000, "lr": [0.0005], "update_freq": [1]},
        "checkpoint": {"_name": None, "save_dir": "checkpoints", "save_interval_updates": 25000},
        "model": model,
        "task": {
            "_name": "hubert_pretraining",
            "data": "/data/manifest",
            "fine_tuning": False,
            "labels": list(labels),
            "label_dir": "/data/labels",
            "label_rate": 50.0,
            "sample_rate": SAMPLE_RATE,
            "normalize": normalize,
            "enable_padding": False,
            "max_keep_size": None,
            "max_sample_size": 250000,
            "min_sample_size": 32000,
            "single_target": False,
            "random_crop": True,
            "pad_audio": False,
        },
        "criterion": {"_name": "hubert", "pred_masked_weight": 1.0, "pred_nomask_weight": 0.0,
                      "loss_weights": [10.0]},
        "optimizer": {"_name": "adam", "adam_betas": "(0.9,0.98)", "adam_eps": 1e-06, "weight_decay": 0.01},
        "lr_scheduler": {"_name": "polynomial_decay", "warmup_updates": 32000},
    }


def fairseq_checkpoint(cfg, model_sd, args=None, criterion="HubertCriterion", num_updates=400000):
    """The top-level dict fairseq writes (checkpoint_utils.save_state / Trainer.state_dict)."""
    ckpt = collections.OrderedDict()
    ckpt["args"] = args
    if cfg is not None:
        ckpt["cfg"] = cfg
    ckpt["model"] = model_sd
    ckpt["optimizer_history"] = [
        {"criterion_name": criterion, "optimizer_name": "FairseqAdam",
         "lr_scheduler_state": {"best": None}, "num_updates": num_updates}
    ]
    ckpt["extra_state"] = {
        "epoch": 1,
        "train_iterator": {"epoch": 1, "iterations_in_epoch": 0, "shuffle": True},
        "previous_training_time": 12.5,
        "val_loss": None,
    }
    return ckpt


def map_fairseq_state_dict(fsd):
    """What a loader does: strip the fine-tuned ``w2v_encoder.`` prefix (the file stores the
    HubertCtc/Wav2Vec2Ctc model, torchaudio's importer is handed its .w2v_encoder), then torchaudio's
    _map_key (drops mask_emb/quantizer/project_q/final_proj, keeps label_embs_concat)."""
    out = collections.OrderedDict()
    for k, v in fsd.items():
        if k.startswith("w2v_encoder."):
            k = k[len("w2v_encoder."):]
        nk = _map_key(k)
        if nk is not None:
            out[nk] = v
    return clean_state_dict(out)


# ----------------------------------------------------------------------------------------------
# Cases
# ----------------------------------------------------------------------------------------------

MANIFEST_CASES = []


def rel(*parts):
    return "/".join(parts)


def case_dir(name):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    return d


def shapes_of(results):
    return {k: list(v.shape) for k, v in results.items()}


def scale_of(results):
    return {k: float(np.abs(v).max()) for k, v in results.items() if v.dtype == np.float32}


def copy_outputs_meta(src):
    """Shapes/lengths of the case whose outputs a fairseq case shares."""
    c = next(c for c in MANIFEST_CASES if c["name"] == src)
    return {k: c[k] for k in ("batch_lengths", "batch_output_lengths", "shapes", "max_abs")}


def make_ta_case(name, ta_config, seed, description):
    d = case_dir(name)
    model = randomize_(build_ta_model(ta_config), seed)
    spec = INPUTS[name]

    single = alsa_pcm16(*spec["single"])
    write_wav(os.path.join(d, "input.wav"), single)
    wave1 = read_wav(os.path.join(d, "input.wav"))  # exactly what the C# side reads
    assert torch.equal(wave1, pcm_to_float(single))
    bwaves, blens = make_batch([alsa_pcm16(*p) for p in spec["batch"]])
    np.save(os.path.join(d, "batch_inputs.npy"), bwaves.numpy())
    np.save(os.path.join(d, "batch_lengths.npy"), blens.numpy())

    sd = clean_state_dict(model.state_dict())
    torch.save(sd, os.path.join(d, "state_dict.pth"))
    with open(os.path.join(d, "torchaudio_config.json"), "w") as f:
        json.dump(ta_config, f, indent=1)
    cfg = dphubert_config(ta_config)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)

    results = run_model(model, wave1, bwaves, blens)
    save_npys(d, results)

    MANIFEST_CASES.append({
        "name": name,
        "kind": "torchaudio_state_dict",
        "checks": description,
        "files": {
            "state_dict": rel(name, "state_dict.pth"),
            "config": rel(name, "config.json"),
            "torchaudio_config": rel(name, "torchaudio_config.json"),
            "input_wav": rel(name, "input.wav"),
            "single_output": rel(name, "single_output.npy"),
            "single_layers": rel(name, "single_layers.npy"),
            "batch_inputs": rel(name, "batch_inputs.npy"),
            "batch_lengths": rel(name, "batch_lengths.npy"),
            "batch_output": rel(name, "batch_output.npy"),
            "batch_output_lengths": rel(name, "batch_output_lengths.npy"),
        },
        "config": cfg,
        "torchaudio_config": ta_config,
        "normalize_waveform_applied": False,
        "state_dict_keys": [[k, list(v.shape)] for k, v in sd.items()],
        "state_dict_missing_vs_dphubert": ["feature_extractor.dummy_weight"],
        "num_parameters": int(sum(v.numel() for v in sd.values())),
        "single_input": {"source": f"{spec['single'][0]} resampled 48k->16k, samples [{spec['single'][1]}, "
                                   f"{spec['single'][1] + spec['single'][2]})",
                         "samples": spec["single"][2]},
        "batch_input_sources": [f"{p[0]}[{p[1]}:{p[1] + p[2]}]" for p in spec["batch"]],
        "batch_lengths": blens.tolist(),
        "batch_output_lengths": results["batch_output_lengths"].tolist(),
        "shapes": shapes_of(results),
        "max_abs": scale_of(results),
        "single_output_is": "aux logits (batch 0)" if ta_config["aux_num_out"] else "encoder output (batch 0)",
    })
    return model, sd, wave1, bwaves, blens, results


def make_fairseq_hubert(ta_model, ta_sd, seed):
    """HuBERT pretraining checkpoint (new-style fairseq: args None, cfg an omegaconf DictConfig) with
    the weights of ta_hubert_base_like, plus the pretraining-only mask_emb, label_embs_concat and
    final_proj. Mapped with _map_key it must give ta_hubert_base_like's state_dict (+ label_embs_concat),
    so the expected outputs are ta_hubert_base_like's."""
    name = "fairseq_hubert"
    d = case_dir(name)
    ta = TA_HUBERT_BASE_LIKE
    g = torch.Generator().manual_seed(seed)
    E, final_dim, n_classes = ta["encoder_embed_dim"], 16, 24  # 20 clusters + 4 fairseq specials
    own = [("mask_emb", torch.rand(E, generator=g)),
           ("label_embs_concat", rand_tensor(g, (n_classes, final_dim), 1.0))]
    extra = [("final_proj.weight", rand_tensor(g, (final_dim, E), E ** -0.5)),
             ("final_proj.bias", rand_tensor(g, (final_dim,), 0.1))]
    fsd = fairseq_model_dict(ta_sd, ta["extractor_mode"], own, extra)
    cfg = OmegaConf.create(hubert_pretraining_cfg(ta, final_dim, normalize=False))
    torch.save(fairseq_checkpoint(cfg, fsd), os.path.join(d, "checkpoint.pt"))
    mapped = map_fairseq_state_dict(fsd)
    torch.save(mapped, os.path.join(d, "torchaudio_state_dict.pth"))
    dcfg = dphubert_config(ta, normalize_waveform=False)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(dcfg, f, indent=1)
    src = "ta_hubert_base_like"
    MANIFEST_CASES.append({
        "name": name,
        "kind": "fairseq_checkpoint",
        "checks": "fairseq HuBERT pretraining layout (cfg = omegaconf DictConfig, args None): key mapping "
                  "incl. group-norm conv-0 (.0.2.*), dropping mask_emb/final_proj, label_embs_concat kept "
                  "then ignored; config derived from cfg.model; outputs equal ta_hubert_base_like's",
        "files": {
            "checkpoint": rel(name, "checkpoint.pt"),
            "torchaudio_state_dict": rel(name, "torchaudio_state_dict.pth"),
            "config": rel(name, "config.json"),
            "input_wav": rel(src, "input.wav"),
            "single_output": rel(src, "single_output.npy"),
            "single_layers": rel(src, "single_layers.npy"),
            "batch_inputs": rel(src, "batch_inputs.npy"),
            "batch_lengths": rel(src, "batch_lengths.npy"),
            "batch_output": rel(src, "batch_output.npy"),
            "batch_output_lengths": rel(src, "batch_output_lengths.npy"),
        },
        "same_weights_as": src,
        **copy_outputs_meta(src),
        "single_output_is": "encoder output (batch 0)",
        "config": dcfg,
        "checkpoint_top_level_keys": ["args", "cfg", "model", "optimizer_history", "extra_state"],
        "cfg_type": "omegaconf.DictConfig (pickled by omegaconf %s)" % omegaconf.__version__,
        "cfg_model": OmegaConf.to_container(cfg.model),
        "cfg_task": OmegaConf.to_container(cfg.task),
        "fairseq_model_keys": [[k, list(v.shape)] for k, v in fsd.items()],
        "dropped_by_map_key": ["mask_emb", "final_proj.weight", "final_proj.bias"],
        "mapped_keys_not_in_model": ["label_embs_concat"],
        "normalize_waveform_applied": False,
    })


def make_fairseq_wav2vec2(ta_model, ta_sd, wave1, bwaves, blens, seed):
    """Old-style wav2vec 2.0 pretraining checkpoint: ``args`` is an argparse.Namespace and there is no
    ``cfg`` key at all (as in the 2020 checkpoints such as wav2vec_small.pt / libri960_big.pt;
    fairseq's load_checkpoint_to_cpu converts args to cfg). Weights = ta_large_like minus the aux head
    (a pretraining checkpoint has no ``proj``), plus quantizer.*, project_q.*, final_proj.*, mask_emb
    which _map_key drops. task normalize=True as in wav2vec2 Large-LV60, so the reference outputs are
    computed on the layer-normed waveform (DPHuBERT normalize_waveform=True)."""
    name = "fairseq_wav2vec2"
    d = case_dir(name)
    ta = dict(TA_LARGE_LIKE, aux_num_out=None)
    g = torch.Generator().manual_seed(seed)
    E = ta["encoder_embed_dim"]
    C = ta["extractor_conv_layer_config"][-1][0]
    final_dim, latent_vars, latent_groups = 16, 8, 2
    vq_dim = final_dim  # latent_dim == 0 -> vq_dim = final_dim
    ta_sd_noaux = collections.OrderedDict((k, v) for k, v in ta_sd.items() if not k.startswith("aux."))
    own = [("mask_emb", torch.rand(E, generator=g))]
    extra = [
        ("quantizer.vars", rand_tensor(g, (1, latent_groups * latent_vars, vq_dim // latent_groups), 1.0)),
        ("quantizer.weight_proj.weight", rand_tensor(g, (latent_groups * latent_vars, C), C ** -0.5)),
        ("quantizer.weight_proj.bias", rand_tensor(g, (latent_groups * latent_vars,), 0.1)),
        ("project_q.weight", rand_tensor(g, (final_dim, vq_dim), vq_dim ** -0.5)),
        ("project_q.bias", rand_tensor(g, (final_dim,), 0.1)),
        ("final_proj.weight", rand_tensor(g, (final_dim, E), E ** -0.5)),
        ("final_proj.bias", rand_tensor(g, (final_dim,), 0.1)),
    ]
    fsd = fairseq_model_dict(ta_sd_noaux, ta["extractor_mode"], own, extra)
    fields = fairseq_model_fields(ta, "wav2vec2", final_dim)
    fields["latent_temp"] = "(2,0.5,0.999995)"  # old argparse stored it as a string
    for newer_field in ("layer_type", "checkpoint_activations", "required_seq_len_multiple"):
        del fields[newer_field]  # not in the 2020 argparse options
    args = argparse.Namespace(
        arch="wav2vec2", task="audio_pretraining", criterion="wav2vec", optimizer="adam",
        lr_scheduler="polynomial_decay", data="/data/manifest", sample_rate=SAMPLE_RATE, normalize=True,
        max_sample_size=320000, min_sample_size=32000, quantize_targets=True, quantize_input=False,
        same_quantizer=False, latent_vars=latent_vars, latent_groups=latent_groups, latent_dim=0,
        num_negatives=100, negatives_from_everywhere=False, cross_sample_negatives=0,
        codebook_negatives=0, seed=1, fp16=True, max_update=600000, lr=[0.005], update_freq=[1],
        **fields,
    )
    torch.save(fairseq_checkpoint(None, fsd, args=args, criterion="Wav2vecCriterion"),
               os.path.join(d, "checkpoint.pt"))
    mapped = map_fairseq_state_dict(fsd)
    torch.save(mapped, os.path.join(d, "torchaudio_state_dict.pth"))
    dcfg = dphubert_config(ta, normalize_waveform=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(dcfg, f, indent=1)

    model = build_ta_model(ta)
    model.load_state_dict(mapped, strict=True)
    results = run_model(model, wave1, bwaves, blens, normalize=True)
    save_npys(d, results)
    with torch.no_grad():
        raw = model(wave1[None])[0][0].numpy().astype(np.float32)
    np.save(os.path.join(d, "single_output_unnormalized.npy"), raw)
    src = "ta_large_like"
    MANIFEST_CASES.append({
        "name": name,
        "kind": "fairseq_checkpoint",
        "checks": "old fairseq wav2vec 2.0 pretraining layout (args = argparse.Namespace, NO 'cfg' key): "
                  "layer-norm extractor keys (.X.2.1.*), conv biases, dropping quantizer/project_q/"
                  "final_proj/mask_emb, config from args, task normalize=True -> normalize_waveform",
        "files": {
            "checkpoint": rel(name, "checkpoint.pt"),
            "torchaudio_state_dict": rel(name, "torchaudio_state_dict.pth"),
            "config": rel(name, "config.json"),
            "input_wav": rel(src, "input.wav"),
            "single_output": rel(name, "single_output.npy"),
            "single_output_unnormalized": rel(name, "single_output_unnormalized.npy"),
            "single_layers": rel(name, "single_layers.npy"),
            "batch_inputs": rel(src, "batch_inputs.npy"),
            "batch_lengths": rel(src, "batch_lengths.npy"),
            "batch_output": rel(name, "batch_output.npy"),
            "batch_output_lengths": rel(name, "batch_output_lengths.npy"),
        },
        "same_weights_as": src + " (without aux.*)",
        "config": dcfg,
        "checkpoint_top_level_keys": ["args", "model", "optimizer_history", "extra_state"],
        "args_type": "argparse.Namespace",
        "args": {k: v for k, v in sorted(vars(args).items())},
        "fairseq_model_keys": [[k, list(v.shape)] for k, v in fsd.items()],
        "dropped_by_map_key": ["mask_emb", "quantizer.vars", "quantizer.weight_proj.weight",
                               "quantizer.weight_proj.bias", "project_q.weight", "project_q.bias",
                               "final_proj.weight", "final_proj.bias"],
        "mapped_keys_not_in_model": [],
        "normalize_waveform_applied": True,
        "shapes": dict(shapes_of(results), single_output_unnormalized=list(raw.shape)),
        "batch_lengths": blens.tolist(),
        "batch_output_lengths": results["batch_output_lengths"].tolist(),
        "max_abs": scale_of(results),
        "single_output_is": "encoder output (final LayerNorm applied; no aux) of the NORMALIZED waveform; "
                            "single_output_unnormalized.npy is the same model on the raw waveform",
    })


def make_contentvec_legacy(wave1, bwaves, blens, seed):
    """ContentVec 'legacy' checkpoint (checkpoint_best_legacy_500.pt style): a plain fairseq HuBERT
    pretraining checkpoint (model _name 'hubert', task 'hubert_pretraining') with label_embs_concat
    and final_proj (Linear(E, final_dim)); so-vits-svc applies final_proj to the features. Its own
    small model (16 conv channels, 2 heads). cfg is a PLAIN dict here (what fairseq's
    Trainer.state_dict writes: OmegaConf.to_container(cfg)), the other variant to the DictConfig of
    fairseq_hubert."""
    name = "contentvec_legacy"
    d = case_dir(name)
    ta = CONTENTVEC_LIKE
    model = randomize_(build_ta_model(ta), seed)
    ta_sd = clean_state_dict(model.state_dict())
    g = torch.Generator().manual_seed(seed + 1)
    E, final_dim, n_classes = ta["encoder_embed_dim"], 16, 24
    own = [("mask_emb", torch.rand(E, generator=g)),
           ("label_embs_concat", rand_tensor(g, (n_classes, final_dim), 1.0))]
    fp_w = rand_tensor(g, (final_dim, E), E ** -0.5)
    fp_b = rand_tensor(g, (final_dim,), 0.1)
    extra = [("final_proj.weight", fp_w), ("final_proj.bias", fp_b)]
    fsd = fairseq_model_dict(ta_sd, ta["extractor_mode"], own, extra)
    cfg = hubert_pretraining_cfg(ta, final_dim, normalize=False)
    torch.save(fairseq_checkpoint(cfg, fsd), os.path.join(d, "checkpoint_best_legacy.pt"))
    mapped = map_fairseq_state_dict(fsd)
    torch.save(mapped, os.path.join(d, "torchaudio_state_dict.pth"))
    dcfg = dphubert_config(ta, normalize_waveform=False)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(dcfg, f, indent=1)

    results = run_model(model, wave1, bwaves, blens)
    # final_proj on the final encoder output (post-LN model: == last transformer layer output)
    results["final_proj_output"] = F.linear(torch.from_numpy(results["single_output"]), fp_w, fp_b).numpy()
    save_npys(d, results)
    src = "ta_hubert_base_like"
    MANIFEST_CASES.append({
        "name": name,
        "kind": "fairseq_checkpoint",
        "checks": "ContentVec legacy HuBERT checkpoint (cfg = plain dict): a second HuBERT-Base-like "
                  "model (16 conv channels, 2 heads of 16, pos-conv kernel 8) and the optional final_proj "
                  "projection; final_proj_output = final_proj(single_output)",
        "files": {
            "checkpoint": rel(name, "checkpoint_best_legacy.pt"),
            "torchaudio_state_dict": rel(name, "torchaudio_state_dict.pth"),
            "config": rel(name, "config.json"),
            "input_wav": rel(src, "input.wav"),
            "single_output": rel(name, "single_output.npy"),
            "single_layers": rel(name, "single_layers.npy"),
            "final_proj_output": rel(name, "final_proj_output.npy"),
            "batch_inputs": rel(src, "batch_inputs.npy"),
            "batch_lengths": rel(src, "batch_lengths.npy"),
            "batch_output": rel(name, "batch_output.npy"),
            "batch_output_lengths": rel(name, "batch_output_lengths.npy"),
        },
        "config": dcfg,
        "torchaudio_config": ta,
        "checkpoint_top_level_keys": ["args", "cfg", "model", "optimizer_history", "extra_state"],
        "cfg_type": "dict (plain python containers)",
        "cfg_model": cfg["model"],
        "cfg_task": cfg["task"],
        "final_proj": {"in": E, "out": final_dim, "keys": ["final_proj.weight", "final_proj.bias"]},
        "fairseq_model_keys": [[k, list(v.shape)] for k, v in fsd.items()],
        "dropped_by_map_key": ["mask_emb", "final_proj.weight", "final_proj.bias"],
        "mapped_keys_not_in_model": ["label_embs_concat"],
        "normalize_waveform_applied": False,
        "shapes": shapes_of(results),
        "batch_lengths": blens.tolist(),
        "batch_output_lengths": results["batch_output_lengths"].tolist(),
        "max_abs": scale_of(results),
        "single_output_is": "encoder output (batch 0)",
    })


def make_fairseq_hubert_ctc(ta_sd, seed):
    """Fine-tuned HuBERT CTC checkpoint (HubertCtc): keys under w2v_encoder.w2v_model.* plus
    w2v_encoder.proj.* (-> aux), cfg.model._name 'hubert_ctc' with the pretraining cfg nested as
    cfg.model.w2v_args. Weights = ta_large_like including its aux head, so the expected outputs are
    ta_large_like's (aux logits). As fairseq's HubertEncoder does, final_proj is absent (removed by
    remove_pretraining_modules) but mask_emb and label_embs_concat remain."""
    name = "fairseq_hubert_ctc"
    d = case_dir(name)
    ta = TA_LARGE_LIKE
    g = torch.Generator().manual_seed(seed)
    E, final_dim, n_classes = ta["encoder_embed_dim"], 16, 24
    body = collections.OrderedDict((k, v) for k, v in ta_sd.items() if not k.startswith("aux."))
    aux = [(ta_key_to_fairseq(k, ta["extractor_mode"]), v) for k, v in ta_sd.items() if k.startswith("aux.")]
    own = [("mask_emb", torch.rand(E, generator=g)),
           ("label_embs_concat", rand_tensor(g, (n_classes, final_dim), 1.0))]
    inner = fairseq_model_dict(body, ta["extractor_mode"], own)
    fsd = collections.OrderedDict()
    for k, v in inner.items():
        fsd["w2v_encoder.w2v_model." + k] = v
    for k, v in aux:
        fsd["w2v_encoder." + k] = v.clone()
    w2v_args = hubert_pretraining_cfg(ta, final_dim, normalize=False)
    cfg = OmegaConf.create({
        "_name": None,
        "common": {"_name": None, "fp16": True, "log_interval": 200, "seed": 1337},
        "model": {
            "_name": "hubert_ctc",
            "w2v_path": "/checkpoints/hubert_large_ll60k.pt",
            "no_pretrained_weights": False,
            # HubertEncoder overrides w2v_args.model's dropouts with these; kept equal to the inner
            # values so either source gives config.json
            "dropout_input": ta["encoder_projection_dropout"],
            "final_dropout": 0.0,
            "dropout": ta["encoder_dropout"],
            "attention_dropout": ta["encoder_attention_dropout"],
            "activation_dropout": ta["encoder_ff_interm_dropout"],
            "apply_mask": True,
            "mask_length": 10,
            "mask_prob": 0.5,
            "mask_selection": "static",
            "mask_other": 0.0,
            "no_mask_overlap": False,
            "mask_channel_length": 64,
            "mask_channel_prob": 0.25,
            "mask_channel_selection": "static",
            "mask_channel_other": 0.0,
            "no_mask_channel_overlap": False,
            "freeze_finetune_updates": 10000,
            "feature_grad_mult": 0.0,
            "layerdrop": ta["encoder_layer_drop"],
            "normalize": False,
            "data": "/data/manifest",
            "w2v_args": w2v_args,
        },
        "task": {
            "_name": "hubert_pretraining",
            "data": "/data/manifest",
            "fine_tuning": True,
            "labels": ["ltr"],
            "label_dir": None,
            "label_rate": -1.0,
            "sample_rate": SAMPLE_RATE,
            "normalize": False,
            "enable_padding": False,
            "max_keep_size": None,
            "max_sample_size": None,
            "min_sample_size": None,
            "single_target": True,
            "random_crop": True,
            "pad_audio": False,
        },
        "criterion": {"_name": "ctc", "zero_infinity": True},
    })
    torch.save(fairseq_checkpoint(cfg, fsd, criterion="CtcCriterion", num_updates=200000),
               os.path.join(d, "checkpoint.pt"))
    mapped = map_fairseq_state_dict(fsd)
    torch.save(mapped, os.path.join(d, "torchaudio_state_dict.pth"))
    dcfg = dphubert_config(ta, normalize_waveform=False)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(dcfg, f, indent=1)
    src = "ta_large_like"
    MANIFEST_CASES.append({
        "name": name,
        "kind": "fairseq_checkpoint",
        "checks": "fine-tuned HuBERT CTC layout: strip 'w2v_encoder.' then _map_key strips 'w2v_model.'; "
                  "w2v_encoder.proj.* -> aux.* (aux_num_out from proj.weight rows); architecture from "
                  "cfg.model.w2v_args.model; outputs (aux logits) equal ta_large_like's",
        "files": {
            "checkpoint": rel(name, "checkpoint.pt"),
            "torchaudio_state_dict": rel(name, "torchaudio_state_dict.pth"),
            "config": rel(name, "config.json"),
            "input_wav": rel(src, "input.wav"),
            "single_output": rel(src, "single_output.npy"),
            "single_layers": rel(src, "single_layers.npy"),
            "batch_inputs": rel(src, "batch_inputs.npy"),
            "batch_lengths": rel(src, "batch_lengths.npy"),
            "batch_output": rel(src, "batch_output.npy"),
            "batch_output_lengths": rel(src, "batch_output_lengths.npy"),
        },
        "same_weights_as": src,
        **copy_outputs_meta(src),
        "config": dcfg,
        "checkpoint_top_level_keys": ["args", "cfg", "model", "optimizer_history", "extra_state"],
        "cfg_type": "omegaconf.DictConfig (pickled by omegaconf %s); cfg.model.w2v_args is a nested "
                    "DictConfig with common/task/model" % omegaconf.__version__,
        "cfg_model_name": "hubert_ctc",
        "w2v_args_model": w2v_args["model"],
        "fairseq_model_keys": [[k, list(v.shape)] for k, v in fsd.items()],
        "dropped_by_map_key": ["w2v_encoder.w2v_model.mask_emb"],
        "mapped_keys_not_in_model": ["label_embs_concat"],
        "normalize_waveform_applied": False,
        "single_output_is": "aux logits (batch 0)",
    })


# ----------------------------------------------------------------------------------------------
# Verification: reload every file from disk and reproduce the saved outputs bit-exactly.
# ----------------------------------------------------------------------------------------------

def _ta_config_from_fairseq(m, aux_num_out):
    """Config from fairseq model fields (what a loader must derive)."""
    conv = eval(m["conv_feature_layers"])  # fairseq itself eval()s this string
    return dict(
        extractor_mode="group_norm" if m["extractor_mode"] == "default" else "layer_norm",
        extractor_conv_layer_config=[list(c) for c in conv],
        extractor_conv_bias=bool(m["conv_bias"]),
        encoder_embed_dim=m["encoder_embed_dim"],
        encoder_projection_dropout=m["dropout_input"],
        encoder_pos_conv_kernel=m["conv_pos"],
        encoder_pos_conv_groups=m["conv_pos_groups"],
        encoder_num_layers=m["encoder_layers"],
        encoder_num_heads=m["encoder_attention_heads"],
        encoder_attention_dropout=m["attention_dropout"],
        encoder_ff_interm_features=m["encoder_ffn_embed_dim"],
        encoder_ff_interm_dropout=m["activation_dropout"],
        encoder_dropout=m["dropout"],
        encoder_layer_norm_first=m["layer_norm_first"],
        encoder_layer_drop=m["encoder_layerdrop"],
        aux_num_out=aux_num_out,
    )


def _assert_same(a, b, what):
    assert a.shape == b.shape and a.dtype == b.dtype, (what, a.shape, b.shape, a.dtype, b.dtype)
    assert np.array_equal(a, b), (what, float(np.abs(a.astype(np.float64) - b).max()))


def verify():
    manifest = json.load(open(os.path.join(OUT, "manifest.json")))
    for case in manifest["cases"]:
        files = {k: os.path.join(OUT, v) for k, v in case["files"].items()}
        normalize = case["normalize_waveform_applied"]
        if case["kind"] == "torchaudio_state_dict":
            ta_cfg = json.load(open(files["torchaudio_config"]))
            sd = torch.load(files["state_dict"])
            assert type(sd) is collections.OrderedDict
        else:
            ckpt = torch.load(files["checkpoint"])
            fsd = ckpt["model"]
            if "cfg" in ckpt and ckpt["cfg"] is not None:
                cfg = ckpt["cfg"]
                cfg = OmegaConf.to_container(cfg) if OmegaConf.is_config(cfg) else cfg
                m = cfg["model"]
                if m["_name"] == "hubert_ctc":
                    assert cfg["task"]["normalize"] == normalize
                    m = m["w2v_args"]["model"]
                else:
                    assert cfg["task"]["normalize"] == normalize
            else:
                assert "cfg" not in ckpt
                m = vars(ckpt["args"])
                assert m["normalize"] == normalize
            proj = fsd.get("w2v_encoder.proj.weight")
            ta_cfg = _ta_config_from_fairseq(m, None if proj is None else proj.shape[0])
            sd = map_fairseq_state_dict(fsd)
            # the stored torchaudio-side dict must equal the mapping, key by key, in order
            expected = torch.load(files["torchaudio_state_dict"])
            assert list(expected.keys()) == list(sd.keys()), case["name"]
            for k in sd:
                assert torch.equal(expected[k], sd[k]), (case["name"], k)
            for k in case["mapped_keys_not_in_model"]:
                sd.pop(k)
            if "same_weights_as" in case:
                src = case["same_weights_as"].split(" ")[0]
                src_sd = torch.load(os.path.join(OUT, src, "state_dict.pth"))
                src_sd = {k: v for k, v in src_sd.items() if ta_cfg["aux_num_out"] or not k.startswith("aux.")}
                # same tensors; the order differs (the mapped dict follows the fairseq file's order,
                # where each conv block lists its conv before its norm)
                assert set(src_sd.keys()) == set(sd.keys())
                assert all(torch.equal(src_sd[k], sd[k]) for k in sd)
        # the DPHuBERT config in config.json must describe the same model
        dcfg = json.load(open(files["config"]))
        assert dcfg == dphubert_config(ta_cfg, normalize_waveform=normalize), case["name"]
        model = build_ta_model(ta_cfg)
        model.load_state_dict(sd, strict=True)
        wave1 = read_wav(files["input_wav"])
        bwaves = torch.from_numpy(np.load(files["batch_inputs"]))
        blens = torch.from_numpy(np.load(files["batch_lengths"]))
        res = run_model(model, wave1, bwaves, blens, normalize=normalize)
        for k, v in res.items():
            _assert_same(np.load(files[k]), v, (case["name"], k))
        if "final_proj_output" in files:
            ckpt_model = torch.load(files["checkpoint"])["model"]
            fp = F.linear(torch.from_numpy(res["single_output"]), ckpt_model["final_proj.weight"],
                          ckpt_model["final_proj.bias"]).numpy()
            _assert_same(np.load(files["final_proj_output"]), fp, (case["name"], "final_proj_output"))
        # sanity: torchaudio's L-item list vs the encoder output
        L = ta_cfg["encoder_num_layers"]
        assert res["single_layers"].shape[0] == L
        print(f"verified {case['name']}: outputs reproduced bit-exactly "
              f"(single {list(res['single_output'].shape)}, layers {list(res['single_layers'].shape)})")


# ----------------------------------------------------------------------------------------------

def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    torch.manual_seed(SEED)

    _, hub_sd, hub_wave, hub_bw, hub_bl, _ = make_ta_case(
        "ta_hubert_base_like", TA_HUBERT_BASE_LIKE, SEED + 1,
        "torchaudio's own Wav2Vec2Model, HuBERT/wav2vec2 Base layout: group-norm extractor (conv 0 only), "
        "no conv bias, post-LN (LayerNorm before the layers, after attention and after FFN), even pos-conv "
        "kernel 16 / groups 4 (last frame removed), 3 layers, 4 heads of 8")
    large_model, large_sd, large_wave, large_bw, large_bl, _ = make_ta_case(
        "ta_large_like", TA_LARGE_LIKE, SEED + 2,
        "torchaudio's own Wav2Vec2Model, Large layout: layer-norm extractor (every conv block, over "
        "channels), conv bias, pre-LN (final encoder LayerNorm after the layers), odd pos-conv kernel 9 / "
        "groups 4 (nothing removed), 2 layers, 4 heads of 8, FFN 80, aux head of 5")
    make_fairseq_hubert(None, hub_sd, SEED + 3)
    make_fairseq_wav2vec2(large_model, large_sd, large_wave, large_bw, large_bl, SEED + 4)
    make_contentvec_legacy(hub_wave, hub_bw, hub_bl, SEED + 5)
    make_fairseq_hubert_ctc(large_sd, SEED + 6)

    manifest = {
        "generator": "tools/reference/make_reference.py (torchaudio's own wav2vec2 models; fairseq layouts "
                     "built by hand, fairseq not installed)",
        "regenerate": "/usr/bin/python3 tools/reference/make_reference.py",
        "seed": SEED,
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "torchaudio": torchaudio.__version__,
            "numpy": np.__version__,
            "omegaconf": omegaconf.__version__,
        },
        "device": "cpu, float32, torch.set_num_threads(1)",
        "paths": "every path in 'files' is relative to this directory (Fixtures/reference)",
        "conventions": {
            "input": "16 kHz mono 16-bit PCM wav; model input = int16 / 32768 as float32, shape (1, N)",
            "single_output": "model(wave[None])[0][0], float32 (frames, dim); dim = aux_num_out when the "
                             "model has an aux head",
            "single_layers": "torch.stack(model.extract_features(wave[None])[0])[:, 0], float32 (L, frames, E). "
                             "torchaudio returns L items = the outputs of layers 1..L. DPHuBERT's "
                             "extract_features returns L+1 items (index 0 = the feature-projection output, "
                             "before the positional conv); compare DPHuBERT[1:] with these. Like DPHuBERT, "
                             "the intermediate outputs get no LayerDrop and no final LayerNorm. For pre-LN models "
                             "(encoder_layer_norm_first true) the last item is BEFORE the final encoder "
                             "LayerNorm, so it differs from single_output; for post-LN models the last item "
                             "equals the encoder output.",
            "batch": "model(batch_inputs, batch_lengths): batch_output float32 (B, T_max, dim), "
                     "batch_output_lengths int64. Rows are zero-padded; compare only frames < length. Valid "
                     "frames of shorter rows are NOT equal to running that row alone (the group-norm extractor "
                     "normalises over the padded time axis, the padding also feeds the convolutions); match "
                     "the batched computation.",
            "state_dict.pth": "torch.save of the bare torchaudio state_dict (OrderedDict name -> tensor). "
                              "DPHuBERT's keys are the same plus 'feature_extractor.dummy_weight' (ones(C_last)); "
                              "a loader must default it to ones.",
            "config.json": "the DPHuBERT wav2vec2_model(**config) dict equivalent to the model (per-layer "
                           "lists, encoder_head_dim, prune flags false). For fairseq cases: what a loader should "
                           "derive from the checkpoint (normalize_waveform from task.normalize / args.normalize).",
            "fairseq_checkpoint": "torch.save of a dict {args, cfg?, model, optimizer_history, extra_state}; "
                                  "weights under 'model'. Mapping = strip a leading 'w2v_encoder.' (fine-tuned "
                                  "files) then torchaudio utils/import_fairseq.py _map_key; drop None; "
                                  "'label_embs_concat' survives the mapping and must be ignored by the model "
                                  "(torchaudio loads with strict=False). torchaudio_state_dict.pth is the exact "
                                  "mapped OrderedDict (same key order, label_embs_concat included).",
            "weight_norm": "positional conv is weight-normed with dim=2: weight_g (1,1,K), weight_v (E,E/G,K), "
                           "weight = weight_g * weight_v / ||weight_v|| (norm over dims 0,1 per kernel tap)",
        },
        "tolerance": "The Python side reproduces every output bit-exactly (verify() in the script). For the "
                     "C# port on CPU float32 expect max |diff| around 1e-6..1e-5 of the output scale "
                     "(max_abs per case); treat > 1e-4 absolute on these O(1) outputs as a bug. Aux logits "
                     "and final_proj outputs have larger scale: use a relative 1e-5 bound there.",
        "cases": MANIFEST_CASES,
    }
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)

    verify()
    total = 0
    for dp, _, fs in os.walk(OUT):
        total += sum(os.path.getsize(os.path.join(dp, f)) for f in fs)
    print(f"total size {total / 1e6:.2f} MB in {OUT}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--verify-only":
        verify()
    else:
        main()
