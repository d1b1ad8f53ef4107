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
import json
import os
import re
import shutil
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_reference as mr  # noqa: E402
import original_models as om  # noqa: E402

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

def make_fairseq_hubert_released(name, file_name, source_case, weights_half, n_clusters, seed, what, layers=None):
    """A fairseq HuBERT pretraining checkpoint as released (hubert_base_ls960.pt, ContentVec's
    checkpoint_best_legacy_500.pt, RVC's hubert_base.pt): cfg a plain dict, task_state with a real Dictionary."""
    os.makedirs(os.path.join(OUT, name), exist_ok=True)
    src = next(c for c in json.load(open(os.path.join(REF, "manifest.json")))["cases"] if c["name"] == source_case)
    ta = src.get("torchaudio_config") or json.load(open(os.path.join(REF, src["files"]["torchaudio_config"])))
    if layers is None:  # the weights of the torchaudio case
        ta_sd = torch.load(os.path.join(REF, src["files"]["state_dict"]))
    else:  # a fresh model of that shape with more layers
        ta = dict(ta, encoder_num_layers=layers)
        ta_sd = mr.clean_state_dict(mr.randomize_(mr.build_ta_model(ta), seed).state_dict())
    g = torch.Generator().manual_seed(seed)
    E, final_dim = ta["encoder_embed_dim"], 16
    own = [("mask_emb", torch.rand(E, generator=g)),
           ("label_embs_concat", mr.rand_tensor(g, (n_clusters + 4, final_dim), 1.0))]
    extra = [("final_proj.weight", mr.rand_tensor(g, (final_dim, E), E ** -0.5)),
             ("final_proj.bias", mr.rand_tensor(g, (final_dim,), 0.1))]
    fsd = mr.fairseq_model_dict(ta_sd, ta["extractor_mode"], own, extra)
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
    out, per_layer = outputs_of(ta, mapped, wave)
    fp = F.linear(torch.from_numpy(out), fsd["final_proj.weight"].float(), fsd["final_proj.bias"].float()).numpy()
    files = {
        "checkpoint": rel(name, file_name),
        "input_wav": "../reference/" + src["files"]["input_wav"],
        "single_output": save(name, "single_output.npy", out),
        "single_layers": save(name, "single_layers.npy", per_layer),
        "final_proj_output": save(name, "final_proj_output.npy", fp),
    }
    if per_layer.shape[0] >= 12:
        # so-vits-svc's vencoder/ContentVec256L9 (final_proj of extract_features(output_layer=9)) and
        # ContentVec768L12 (extract_features(output_layer=12)); fairseq's layer i output is torchaudio's item i-1.
        w, b = fsd["final_proj.weight"].float(), fsd["final_proj.bias"].float()
        files["units_vec256l9"] = save(name, "units_vec256l9.npy", F.linear(torch.from_numpy(per_layer[8]), w, b).numpy())
        files["units_vec768l12"] = save(name, "units_vec768l12.npy", per_layer[11])
    with open(os.path.join(OUT, name, "config.json"), "w") as f:
        json.dump(mr.dphubert_config(ta, normalize_waveform=False), f, indent=1)
    files["config"] = rel(name, "config.json")
    CASES.append({
        "name": name,
        "kind": "fairseq_hubert",
        "layout_of": what,
        "files": files,
        "top_level_keys": list(ckpt.keys()),
        "task_state": "{'dictionaries': [fairseq.data.dictionary.Dictionary with %d symbols]}"
                      % len(dictionaries[0].symbols),
        "weights_dtype": "float16" if weights_half else "float32",
        "same_weights_as": ("../reference/" + source_case if layers is None
                            else f"a fresh {layers}-layer model shaped like ../reference/{source_case}")
                           + (" (rounded to float16)" if weights_half else ""),
        "torchaudio_config": ta,
        "final_proj": list(fsd["final_proj.weight"].shape),
        "reference": "torchaudio 0.13.1 wav2vec2_model on the float32 copy of the mapped weights (import_fairseq "
                     "_map_key); final_proj_output = final_proj(single_output)",
    })


# unilm's WavLM Base+ config (the cfg dict of WavLM-Base+.pt) at toy widths; 12 layers as Base+ has.
UNILM_WAVLM_CFG = {
    "extractor_mode": "default", "encoder_layers": 12, "encoder_embed_dim": 32, "encoder_ffn_embed_dim": 64,
    "encoder_attention_heads": 4, "activation_fn": "gelu", "layer_norm_first": False,
    "conv_feature_layers": "[(24,10,5)] + [(24,3,2)] * 4 + [(24,2,2)] * 2", "conv_bias": False,
    "feature_grad_mult": 0.1, "normalize": False, "dropout": 0.1, "attention_dropout": 0.1,
    "activation_dropout": 0.0, "encoder_layerdrop": 0.05, "dropout_input": 0.1, "dropout_features": 0.1,
    "mask_length": 10, "mask_prob": 0.8, "mask_selection": "static", "mask_other": 0.0, "no_mask_overlap": False,
    "mask_min_space": 1, "mask_channel_length": 10, "mask_channel_prob": 0.0, "mask_channel_selection": "static",
    "mask_channel_other": 0.0, "no_mask_channel_overlap": False, "mask_channel_min_space": 1, "conv_pos": 16,
    "conv_pos_groups": 4, "relative_position_embedding": True, "num_buckets": 32, "max_distance": 100,
    "gru_rel_pos": True,
}


def wavlm_outputs(model, wave):
    with torch.no_grad():
        out, layers = model.extract_features(wave[None])
    return out[0].numpy(), torch.stack([x[0] for x in layers]).numpy()


def dphubert_wavlm_config(cfg):
    """The DPHuBERT wavlm_model config equivalent to a unilm cfg (what a loader should derive)."""
    L, H = cfg["encoder_layers"], cfg["encoder_attention_heads"]
    return {
        "extractor_mode": "group_norm" if cfg["extractor_mode"] == "default" else "layer_norm",
        "extractor_conv_layer_config": [list(c) for c in eval(cfg["conv_feature_layers"])],
        "extractor_conv_bias": cfg["conv_bias"], "encoder_embed_dim": cfg["encoder_embed_dim"],
        "encoder_projection_dropout": cfg["dropout_input"], "encoder_pos_conv_kernel": cfg["conv_pos"],
        "encoder_pos_conv_groups": cfg["conv_pos_groups"], "encoder_num_layers": L,
        "encoder_use_attention": [True] * L, "encoder_use_feed_forward": [True] * L,
        "encoder_total_num_heads": [H] * L, "encoder_remaining_heads": [list(range(H))] * L,
        "encoder_num_buckets": cfg["num_buckets"], "encoder_max_distance": cfg["max_distance"],
        "encoder_attention_dropout": cfg["attention_dropout"],
        "encoder_ff_interm_features": [cfg["encoder_ffn_embed_dim"]] * L,
        "encoder_ff_interm_dropout": cfg["activation_dropout"], "encoder_dropout": cfg["dropout"],
        "encoder_layer_norm_first": cfg["layer_norm_first"], "encoder_layer_drop": cfg["encoder_layerdrop"],
        "aux_num_out": None, "normalize_waveform": cfg["normalize"],
        "extractor_prune_conv_channels": False, "encoder_prune_attention_heads": False,
        "encoder_prune_attention_layer": False, "encoder_prune_feed_forward_intermediate": False,
        "encoder_prune_feed_forward_layer": False,
    }


def unilm_to_torchaudio(sd):
    """unilm WavLM names -> torchaudio 0.13 / DPHuBERT names, written out here independently of the C# key map."""
    out = collections.OrderedDict()
    for k, v in sd.items():
        if k == "mask_emb":
            continue
        k = re.sub(r"^feature_extractor\.conv_layers\.(\d+)\.0\.", r"feature_extractor.conv_layers.\1.conv.", k)
        k = re.sub(r"^feature_extractor\.conv_layers\.(\d+)\.2\.1\.", r"feature_extractor.conv_layers.\1.layer_norm.", k)
        k = re.sub(r"^feature_extractor\.conv_layers\.0\.2\.", "feature_extractor.conv_layers.0.layer_norm.", k)
        k = re.sub(r"^post_extract_proj\.", "encoder.feature_projection.projection.", k)
        k = re.sub(r"^layer_norm\.", "encoder.feature_projection.layer_norm.", k)
        k = re.sub(r"^encoder\.pos_conv\.0\.", "encoder.transformer.pos_conv_embed.conv.", k)
        k = re.sub(r"^encoder\.layer_norm\.", "encoder.transformer.layer_norm.", k)
        k = re.sub(r"^encoder\.layers\.(\d+)\.self_attn\.relative_attention_bias\.", r"encoder.transformer.layers.\1.attention.rel_attn_embed.", k)
        k = re.sub(r"^encoder\.layers\.(\d+)\.self_attn\.grep_linear\.", r"encoder.transformer.layers.\1.attention.gru_rel_pos_linear.", k)
        k = re.sub(r"^encoder\.layers\.(\d+)\.self_attn\.grep_a$", r"encoder.transformer.layers.\1.attention.gru_rel_pos_const", k)
        k = re.sub(r"^encoder\.layers\.(\d+)\.self_attn\.", r"encoder.transformer.layers.\1.attention.", k)
        k = re.sub(r"^encoder\.layers\.(\d+)\.self_attn_layer_norm\.", r"encoder.transformer.layers.\1.layer_norm.", k)
        k = re.sub(r"^encoder\.layers\.(\d+)\.fc1\.", r"encoder.transformer.layers.\1.feed_forward.intermediate_dense.", k)
        k = re.sub(r"^encoder\.layers\.(\d+)\.fc2\.", r"encoder.transformer.layers.\1.feed_forward.output_dense.", k)
        k = re.sub(r"^encoder\.layers\.(\d+)\.final_layer_norm\.", r"encoder.transformer.layers.\1.final_layer_norm.", k)
        out[k] = v
    return out


def make_unilm_wavlm(seed):
    """microsoft/unilm's WavLM-Base+.pt (so-vits-svc's WavLMBasePlus encoder): {"cfg": dict, "model": state_dict}."""
    name = "wavlm_base_plus"
    os.makedirs(os.path.join(OUT, name), exist_ok=True)
    torch.manual_seed(seed)
    model = mr.randomize_(om.UnilmWavLM(UNILM_WAVLM_CFG), seed).eval()
    sd = mr.clean_state_dict(model.state_dict())
    torch.save({"cfg": dict(UNILM_WAVLM_CFG), "model": sd}, os.path.join(OUT, name, "WavLM-Base+.pt"))
    wave = mr.read_wav(os.path.join(REF, "ta_hubert_base_like", "input.wav"))
    out, per_layer = wavlm_outputs(model, wave)
    with open(os.path.join(OUT, name, "config.json"), "w") as f:
        json.dump(dphubert_wavlm_config(UNILM_WAVLM_CFG), f, indent=1)
    CASES.append({
        "name": name, "kind": "unilm_wavlm",
        "layout_of": "microsoft/unilm's WavLM-Base+.pt: {cfg: WavLMConfig fields as a dict, model: WavLM.state_dict()}",
        "files": {"checkpoint": rel(name, "WavLM-Base+.pt"), "config": rel(name, "config.json"),
                  "input_wav": "../reference/ta_hubert_base_like/input.wav",
                  "single_output": save(name, "single_output.npy", out),
                  "single_layers": save(name, "single_layers.npy", per_layer)},
        "cfg": UNILM_WAVLM_CFG,
        "model_keys": [[k, list(v.shape)] for k, v in sd.items()],
        "reference": "tools/reference/original_models.py UnilmWavLM.extract_features (unilm's eval-mode forward); "
                     "single_output = so-vits-svc's WavLMBasePlus units (the last layer, 12 here); single_layers[i] = "
                     "extract_features(output_layer=i+1)",
    })
    return model, sd


def make_torchaudio2_wavlm(seed):
    """A torchaudio >= 2.0 WavLM state_dict (nn.MultiheadAttention's in_proj_*), bare, with its config JSON."""
    name = "torchaudio2_wavlm"
    os.makedirs(os.path.join(OUT, name), exist_ok=True)
    cfg = dict(UNILM_WAVLM_CFG, encoder_layers=2, layer_norm_first=True, extractor_mode="layer_norm", conv_bias=True)
    torch.manual_seed(seed)
    model = mr.randomize_(om.UnilmWavLM(cfg), seed).eval()
    ours = unilm_to_torchaudio(model.state_dict())
    ta2 = mr.clean_state_dict(om.torchaudio2_wavlm_state_dict(ours))
    torch.save(ta2, os.path.join(OUT, name, "wavlm_state_dict.pth"))
    with open(os.path.join(OUT, name, "config.json"), "w") as f:
        json.dump(dphubert_wavlm_config(cfg), f, indent=1)
    wave = mr.read_wav(os.path.join(REF, "ta_hubert_base_like", "input.wav"))
    out, per_layer = wavlm_outputs(model, wave)
    CASES.append({
        "name": name, "kind": "torchaudio2_wavlm",
        "layout_of": "torchaudio >= 2.0 wavlm_model().state_dict(): attention.attention.in_proj_weight/bias "
                     "(q, k, v stacked) and attention.attention.out_proj.*",
        "files": {"state_dict": rel(name, "wavlm_state_dict.pth"), "config": rel(name, "config.json"),
                  "input_wav": "../reference/ta_hubert_base_like/input.wav",
                  "single_output": save(name, "single_output.npy", out),
                  "single_layers": save(name, "single_layers.npy", per_layer)},
        "cfg": cfg,
        "state_dict_keys": [[k, list(v.shape)] for k, v in ta2.items()],
        "reference": "the same weights in unilm's layout through UnilmWavLM (a pre-LN, layer-norm-extractor WavLM)",
    })


HUBERT_SOFT_DIMS = dict(C=32, E=64, heads=1, ffn=128, layers=2, units=256, labels=100)


def make_hubert_soft(seed):
    """bshall/hubert v0.1's hubert-soft-0d54a1f4.pt (so-vits-svc 3.x): a bare state_dict of the DDP-wrapped model,
    every key prefixed "module.", weight norm as weight_g / weight_v."""
    name = "hubert_soft"
    os.makedirs(os.path.join(OUT, name), exist_ok=True)
    torch.manual_seed(seed)
    model = mr.randomize_(om.HubertSoft(**HUBERT_SOFT_DIMS), seed).eval()
    sd = collections.OrderedDict(("module." + k, v) for k, v in mr.clean_state_dict(model.state_dict()).items())
    torch.save(sd, os.path.join(OUT, name, "hubert-soft-0d54a1f4.pt"))
    wave = mr.read_wav(os.path.join(REF, "ta_hubert_base_like", "input.wav"))
    with torch.inference_mode():
        units = model.units(wave[None, None])[0].numpy()
        encoded = model.encode(wave[None, None])[0].numpy()
        per_layer = np.stack([model.encode(wave[None, None], layer=i + 1)[0].numpy() for i in range(HUBERT_SOFT_DIMS["layers"])])
        projected = model.proj(torch.from_numpy(encoded)).numpy()
    CASES.append({
        "name": name, "kind": "hubert_soft",
        "layout_of": "bshall/hubert v0.1 hubert-soft-0d54a1f4.pt: bare state_dict, 'module.' prefixes",
        "files": {"checkpoint": rel(name, "hubert-soft-0d54a1f4.pt"),
                  "input_wav": "../reference/ta_hubert_base_like/input.wav",
                  "single_output": save(name, "single_output.npy", encoded),
                  "single_layers": save(name, "single_layers.npy", per_layer),
                  "final_proj_output": save(name, "final_proj_output.npy", projected),
                  "units_hubertsoft": save(name, "units_hubertsoft.npy", units)},
        "dims": HUBERT_SOFT_DIMS,
        "model_keys": [[k, list(v.shape)] for k, v in sd.items()],
        "reference": "tools/reference/original_models.py HubertSoft: single_output = encode(wave) (all layers), "
                     "single_layers[i] = encode(wave, layer=i+1), final_proj_output = proj(single_output), "
                     "units_hubertsoft = units(wave) as so-vits-svc's HubertSoft encoder (40 zero samples each side)",
    })


class LinearDecayLRScheduler(torch.optim.lr_scheduler._LRScheduler):
    """DPHuBERT lightning.py's scheduler (warm-up then linear decay); its state_dict is what the .ckpt holds."""

    def __init__(self, optimizer, warmup_updates, max_updates):
        self.warmup_updates, self.max_updates = warmup_updates, max_updates
        super().__init__(optimizer)

    def get_lr(self):
        if self._step_count <= self.warmup_updates:
            return [self._step_count / self.warmup_updates * base_lr for base_lr in self.base_lrs]
        return [base_lr * (self.max_updates - self._step_count) / (self.max_updates - self.warmup_updates)
                for base_lr in self.base_lrs]


def make_dphubert_lightning(seed):
    """What DPHuBERT's distill.py (pytorch_lightning 1.x Trainer + ModelCheckpoint) writes: the DistillModule's
    state_dict (student_model., teacher_model., distill_linear_projs., the Lagrangian multipliers lambda1/2), AdamW
    with the three param groups of configure_optimizers, the scheduler, loop and callback state; no config."""
    name = "dphubert_distill"
    os.makedirs(os.path.join(OUT, name), exist_ok=True)
    dp = os.path.join(mr.ROOT, "tests", "DpHubert.Tests", "Fixtures", "dphubert")
    student = torch.load(os.path.join(dp, "prune_hubert", "checkpoint.pth"))
    teacher = torch.load(os.path.join(dp, "hubert_post_ln", "checkpoint.pth"))
    E_s = student["config"]["encoder_embed_dim"]
    E_t = teacher["config"]["encoder_embed_dim"]
    g = torch.Generator().manual_seed(seed)
    # distill_layers "0.2,3" (layer2layer): groups [[0], [2, 3]]; layers of a group share one Linear
    shared = [(mr.rand_tensor(g, (E_t, E_s), E_s ** -0.5), mr.rand_tensor(g, (E_t,), 0.1)) for _ in range(2)]
    projs = [shared[0], shared[1], shared[1]]
    sd = collections.OrderedDict()
    for k, v in teacher["state_dict"].items():
        sd["teacher_model." + k] = v
    for k, v in student["state_dict"].items():
        sd["student_model." + k] = v
    for i, (w, b) in enumerate(projs):
        sd[f"distill_linear_projs.{i}.weight"] = w
        sd[f"distill_linear_projs.{i}.bias"] = b
    sd["lambda1"] = torch.tensor(0.3125)
    sd["lambda2"] = torch.tensor(-0.0625)
    params = lambda ts: [torch.nn.Parameter(t.clone()) for t in ts]  # noqa: E731
    main_names = [k for k in student["state_dict"] if "log_alpha" not in k]
    main = params([student["state_dict"][k] for k in main_names]
                  + [shared[0][0], shared[0][1], shared[1][0], shared[1][1]])
    frozen = main[main_names.index("feature_extractor.dummy_weight")]  # requires_grad=False: no grad, no state
    log_alpha = params([v for k, v in student["state_dict"].items() if "log_alpha" in k])
    lambdas = params([sd["lambda1"], sd["lambda2"]])
    opt = torch.optim.AdamW([
        {"params": main, "lr": 0.0002, "weight_decay": 0.0, "name": "main_params"},
        {"params": log_alpha, "lr": 0.02, "weight_decay": 0.0, "name": "log_alpha"},
        {"params": lambdas, "lr": -0.02, "weight_decay": 0.0, "name": "lambda"},
    ])
    sched = LinearDecayLRScheduler(opt, warmup_updates=15000, max_updates=50000)
    for _ in range(2):
        for p in main + log_alpha + lambdas:
            p.grad = None if p is frozen else torch.randn(p.shape, generator=g) * 0.01
        opt.step()
        sched.step()
    progress = lambda n: {"total": {"ready": n, "started": n, "processed": n, "completed": n},  # noqa: E731
                          "current": {"ready": n, "started": n, "processed": n, "completed": n}}
    ckpt = {
        "epoch": 3,
        "global_step": 2,
        "pytorch-lightning_version": "1.8.6",
        "state_dict": sd,
        "loops": {
            "fit_loop": {
                "state_dict": {},
                "epoch_loop.state_dict": {"_batches_that_stepped": 2},
                "epoch_loop.batch_progress": dict(progress(2), is_last_batch=False),
                "epoch_loop.scheduler_progress": progress(2),
                "epoch_loop.batch_loop.state_dict": {},
                "epoch_loop.batch_loop.optimizer_loop.state_dict": {},
                "epoch_loop.batch_loop.optimizer_loop.optim_progress": {
                    "optimizer": {"step": progress(2), "zero_grad": progress(2)}, "optimizer_position": 1},
                "epoch_loop.val_loop.state_dict": {},
                "epoch_progress": progress(3),
            },
            "validate_loop": {"state_dict": {}, "dataloader_progress": progress(0)},
            "test_loop": {"state_dict": {}},
            "predict_loop": {"state_dict": {}},
        },
        "callbacks": {
            "LearningRateMonitor": {},
            "ModelCheckpoint{'monitor': None, 'mode': 'min', 'every_n_train_steps': 0, 'every_n_epochs': 1, "
            "'train_time_interval': None}": {
                "monitor": None, "best_model_score": None, "best_model_path": "exp/ckpts/epoch=2-step=2.ckpt",
                "current_score": None, "dirpath": "exp/ckpts", "best_k_models": {},
                "kth_best_model_path": "", "kth_value": torch.tensor(float("inf")), "last_model_path": "",
            },
        },
        "optimizer_states": [opt.state_dict()],
        "lr_schedulers": [sched.state_dict()],
    }
    torch.save(ckpt, os.path.join(OUT, name, "epoch=2-step=2.ckpt"))
    CASES.append({
        "name": name, "kind": "dphubert_lightning",
        "layout_of": "DPHuBERT distill.py / final_distill.py Lightning checkpoint (ckpts/epoch=N-step=M.ckpt)",
        "files": {"checkpoint": rel(name, "epoch=2-step=2.ckpt"),
                  "student_original": "../dphubert/prune_hubert/checkpoint.pth",
                  "pruned_reference": "../dphubert/prune_hubert/pruned/checkpoint.pth",
                  "pruned_single_output": "../dphubert/prune_hubert/pruned/single_output.npy",
                  "unpruned_single_output": "../dphubert/prune_hubert/single_output.npy",
                  "input_wav": "../dphubert/prune_hubert/input.wav"},
        "top_level_keys": list(ckpt.keys()),
        "reference": "the student's weights are prune_hubert's, so DPHuBERT's prune.py (prune_from_ckpt with "
                     "--original_ckpt prune_hubert/checkpoint.pth) gives prune_hubert/pruned",
        "distill_linear_projs": "layer2layer, groups [[0], [2, 3]]: keys 0, 1, 2 with 1 and 2 the same Linear",
    })


# ------------------------------------------------------------------------------------------------

def verify():
    manifest = json.load(open(os.path.join(OUT, "manifest.json")))
    for case in manifest["cases"]:
        f = {k: os.path.normpath(os.path.join(OUT, v)) for k, v in case["files"].items()}
        wave = mr.read_wav(f["input_wav"])
        kind = case["kind"]
        if kind == "fairseq_hubert":
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
            out, layers = outputs_of(case["torchaudio_config"], mapped, wave)
        elif kind == "unilm_wavlm":
            ckpt = torch.load(f["checkpoint"])
            assert sorted(ckpt.keys()) == ["cfg", "model"]
            model = om.UnilmWavLM(ckpt["cfg"]).eval()
            model.load_state_dict(ckpt["model"], strict=True)
            out, layers = wavlm_outputs(model, wave)
        elif kind == "torchaudio2_wavlm":
            sd = torch.load(f["state_dict"])
            assert any(k.endswith("attention.attention.in_proj_weight") for k in sd)
            assert not any(k.endswith(".q_proj.weight") for k in sd)
            print(f"verified {case['name']} (layout only; outputs come from the generator's unilm model)")
            continue
        elif kind == "hubert_soft":
            sd = torch.load(f["checkpoint"])
            assert all(k.startswith("module.") for k in sd)
            model = om.HubertSoft(**case["dims"]).eval()
            model.load_state_dict({k[len("module."):]: v for k, v in sd.items()}, strict=True)
            with torch.inference_mode():
                out = model.encode(wave[None, None])[0].numpy()
                layers = np.stack([model.encode(wave[None, None], layer=i + 1)[0].numpy()
                                   for i in range(case["dims"]["layers"])])
                mr._assert_same(np.load(f["units_hubertsoft"]), model.units(wave[None, None])[0].numpy(), case["name"])
        elif kind == "dphubert_lightning":
            ckpt = torch.load(f["checkpoint"])
            assert list(ckpt.keys()) == case["top_level_keys"]
            student = torch.load(f["student_original"])["state_dict"]
            mine = {k[len("student_model."):]: v for k, v in ckpt["state_dict"].items() if k.startswith("student_model.")}
            assert list(mine) == list(student) and all(torch.equal(mine[k], student[k]) for k in student)
            print(f"verified {case['name']} (student weights == prune_hubert's)")
            continue
        else:
            raise ValueError(kind)
        mr._assert_same(np.load(f["single_output"]), out, (case["name"], "single_output"))
        mr._assert_same(np.load(f["single_layers"]), layers, (case["name"], "single_layers"))
        print(f"verified {case['name']}")
    for dp, _, fs in os.walk(OUT):
        for x in fs:
            size = os.path.getsize(os.path.join(dp, x))
            assert size < 1_600_000, (x, size)
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
        "the same fairseq layout with float16 weights and final_proj (12 layers, for the layer-9 and layer-12 units)",
        layers=12)
    make_unilm_wavlm(mr.SEED + 103)
    make_torchaudio2_wavlm(mr.SEED + 104)
    make_hubert_soft(mr.SEED + 105)
    make_dphubert_lightning(mr.SEED + 106)
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
