#!/usr/bin/python3
"""Generate the per-component parity fixtures under
tests/DpHubert.Tests/Fixtures/components/ for the C# (TorchSharp) port.

Run with the system interpreter (torch 1.13 / torchaudio 0.13.1 / numpy):

    /usr/bin/python3 tools/reference/make_components.py              # rebuild, then verify
    /usr/bin/python3 tools/reference/make_components.py --verify-only

Every component is one of torchaudio 0.13.1's OWN classes from
``torchaudio/models/wav2vec2/components.py`` (not DPHuBERT's fork), built at toy size, with every
parameter set to non-trivial random values, put in eval mode (dropouts and LayerDrop are non-zero in
the constructors, so a port that forgets eval mode fails). For each component the folder
``<component>/`` holds:

* ``state_dict.pth``: ``torch.save`` of the module's state_dict as a bare ``OrderedDict``
  (contiguous, own storage per tensor);
* the inputs and outputs as ``.npy`` (float32, lengths int64);

and ``manifest.json`` describes each component: torchaudio class, constructor arguments, the C#
constructor to use, files with shapes/dtypes, state_dict keys and shapes, and output scale (max_abs).

Seeded (1234 + component index), CPU, one thread, deterministic algorithms: a rerun gives the same
bytes. ``verify()`` re-loads every file, loads the state_dict strictly into a freshly built module and
checks that the stored outputs are reproduced bit-exactly.
"""
import argparse
import collections
import json
import os
import platform
import shutil
import sys

import numpy as np
import torch
import torchaudio
from torch import nn
from torchaudio.models.wav2vec2 import components as C

SEED = 1234
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "tests", "DpHubert.Tests", "Fixtures", "components")
DROPOUT = 0.1  # non-zero everywhere: eval mode must switch it off

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------

def randomize_(module, seed):
    """Non-trivial random values for every parameter (same scheme as make_reference.py)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            shape = p.shape
            parts = name.split(".")
            owner = parts[-2] if len(parts) >= 2 else ""
            if name.endswith("weight_g"):
                v = torch.rand(shape, generator=g) + 0.5
            elif name.endswith("weight_v"):
                v = torch.randn(shape, generator=g)
            elif "norm" in owner:
                v = (1.0 + 0.25 * torch.randn(shape, generator=g)) if name.endswith("weight") \
                    else 0.15 * torch.randn(shape, generator=g)
            elif name.endswith("bias"):
                v = 0.15 * torch.randn(shape, generator=g)
            else:
                fan_in = int(np.prod(shape[1:]))
                v = torch.randn(shape, generator=g) / np.sqrt(fan_in)
            p.copy_(v)
    return module


def rand(g, *shape, scale=1.0, offset=0.0):
    return (torch.randn(shape, generator=g) * scale + offset).float()


def padding_mask(lengths, max_len):
    """The additive mask torchaudio's Encoder._preprocess builds: -10000 on padded keys, [B, 1, L, L]."""
    b = lengths.shape[0]
    pad = torch.arange(max_len).expand(b, max_len) >= lengths[:, None]
    m = -10000.0 * pad[:, None, None, :].to(dtype=torch.float32)
    return m.expand(b, 1, max_len, max_len).contiguous()


def clean_state_dict(sd):
    return collections.OrderedDict((k, v.detach().clone().contiguous()) for k, v in sd.items())


def encoder_layer(E, H, F, layer_norm_first):
    return C.EncoderLayer(
        attention=C.SelfAttention(E, H, dropout=DROPOUT),
        dropout=DROPOUT,
        layer_norm_first=layer_norm_first,
        feed_forward=C.FeedForward(E, F, DROPOUT, DROPOUT),
    )


def transformer(E, K, G, H, F, num_layers, encoder_layer_norm_first):
    # As torchaudio's _get_encoder: the Transformer's own flag is the inverse of the layers' flag.
    return C.Transformer(
        pos_conv_embed=C.ConvolutionalPositionalEmbedding(E, K, G),
        dropout=DROPOUT,
        layers=nn.ModuleList([encoder_layer(E, H, F, encoder_layer_norm_first) for _ in range(num_layers)]),
        layer_norm_first=not encoder_layer_norm_first,
        layer_drop=0.5,
    )


# ----------------------------------------------------------------------------------------------
# components: name -> (builder(args) -> module, args, csharp hint, run(module, g) -> (inputs, outputs))
# ----------------------------------------------------------------------------------------------

def run_conv_block(in_channels, frames, lengths):
    def run(m, g):
        x = rand(g, len(lengths), in_channels, frames)
        length = torch.tensor(lengths, dtype=torch.int64)
        y, out_len = m(x, length)
        return {"x": x, "length": length}, {"output": y, "output_length": out_len}
    return run


def run_feature_extractor(samples, lengths):
    def run(m, g):
        x = rand(g, len(lengths), samples, scale=0.3)
        length = torch.tensor(lengths, dtype=torch.int64)
        y, out_len = m(x, length)
        return {"x": x, "length": length}, {"output": y, "output_length": out_len}
    return run


def run_simple(shape, scale=1.0, offset=0.0):
    def run(m, g):
        x = rand(g, *shape, scale=scale, offset=offset)
        return {"x": x}, {"output": m(x)}
    return run


def run_attention_like(B, L, E, lengths):
    """For SelfAttention / EncoderLayer: the output without a mask and with the padding mask."""
    def run(m, g):
        x = rand(g, B, L, E)
        mask = padding_mask(torch.tensor(lengths), L)
        return {"x": x, "mask": mask}, {"output": m(x), "output_masked": m(x, mask)}
    return run


def run_transformer(B, L, E, lengths):
    def run(m, g):
        x = rand(g, B, L, E)
        mask = padding_mask(torch.tensor(lengths), L)
        return ({"x": x, "mask": mask},
                {"output": m(x), "output_masked": m(x, attention_mask=mask),
                 "intermediate_masked": torch.stack(m.get_intermediate_outputs(x, attention_mask=mask))})
    return run


def run_encoder(B, L, C_in, lengths):
    def run(m, g):
        x = rand(g, B, L, C_in, scale=0.5, offset=0.1)
        length = torch.tensor(lengths, dtype=torch.int64)
        # torchaudio's Encoder._preprocess zeroes padded frames in place on the projection output (not on x),
        # still clone to be safe.
        return ({"features": x, "lengths": length},
                {"output": m(x.clone(), length),
                 "output_no_lengths": m(x.clone()),
                 "extract_features": torch.stack(m.extract_features(x.clone(), length))})
    return run


COMPONENTS = [
    dict(name="conv_block_group_norm", cls="ConvLayerBlock",
         args=dict(in_channels=3, out_channels=8, kernel_size=10, stride=5, bias=False, layer_norm="GroupNorm(8, 8)"),
         build=lambda: C.ConvLayerBlock(3, 8, 10, 5, False, nn.GroupNorm(8, 8, affine=True)),
         csharp="new ConvLayerBlock(3, 8, 10, 5, bias: false, new PerChannelGroupNorm(8))",
         run=run_conv_block(3, 200, [200, 143])),
    dict(name="conv_block_layer_norm", cls="ConvLayerBlock",
         args=dict(in_channels=8, out_channels=12, kernel_size=3, stride=2, bias=True,
                   layer_norm="components.LayerNorm(12) (transposed)"),
         build=lambda: C.ConvLayerBlock(8, 12, 3, 2, True, C.LayerNorm(12)),
         csharp="new ConvLayerBlock(8, 12, 3, 2, bias: true, new PrunableLayerNorm(12, channelsFirst: true))",
         run=run_conv_block(8, 40, [40, 27])),
    dict(name="feature_extractor_group_norm", cls="FeatureExtractor",
         args=dict(norm_mode="group_norm", shapes=[[8, 10, 5], [8, 3, 2], [8, 2, 2]], bias=False),
         build=lambda: C._get_feature_extractor("group_norm", [(8, 10, 5), (8, 3, 2), (8, 2, 2)], False),
         csharp="new FeatureExtractor([ConvLayerBlock(1,8,10,5,GN), (8,8,3,2), (8,8,2,2)]); dummy_weight stays ones",
         run=run_feature_extractor(400, [400, 251])),
    dict(name="feature_projection", cls="FeatureProjection",
         args=dict(in_features=16, out_features=32, dropout=DROPOUT),
         build=lambda: C.FeatureProjection(16, 32, DROPOUT),
         csharp="new FeatureProjection(16, 32, 0.1)",
         run=run_simple((2, 13, 16), scale=0.5, offset=0.1)),
    dict(name="pos_conv_even", cls="ConvolutionalPositionalEmbedding",
         args=dict(embed_dim=32, kernel_size=16, groups=4),
         build=lambda: C.ConvolutionalPositionalEmbedding(32, 16, 4),
         csharp="new ConvolutionalPositionalEmbedding(32, 16, 4)",
         run=run_simple((2, 13, 32))),
    dict(name="pos_conv_odd", cls="ConvolutionalPositionalEmbedding",
         args=dict(embed_dim=32, kernel_size=9, groups=4),
         build=lambda: C.ConvolutionalPositionalEmbedding(32, 9, 4),
         csharp="new ConvolutionalPositionalEmbedding(32, 9, 4)",
         run=run_simple((2, 13, 32))),
    dict(name="self_attention", cls="SelfAttention",
         args=dict(embed_dim=32, num_heads=4, dropout=DROPOUT, head_dim=8),
         build=lambda: C.SelfAttention(32, 4, dropout=DROPOUT),
         csharp="new SelfAttention(32, 4, headDim: 8, dropout: 0.1)",
         run=run_attention_like(2, 13, 32, [13, 9])),
    dict(name="feed_forward", cls="FeedForward",
         args=dict(io_features=32, intermediate_features=64, intermediate_dropout=DROPOUT, output_dropout=DROPOUT),
         build=lambda: C.FeedForward(32, 64, DROPOUT, DROPOUT),
         csharp="new FeedForward(32, 64, 0.1, 0.1)",
         run=run_simple((2, 13, 32))),
    dict(name="encoder_layer_post_norm", cls="EncoderLayer",
         args=dict(embed_dim=32, num_heads=4, ffn=64, dropout=DROPOUT, layer_norm_first=False),
         build=lambda: encoder_layer(32, 4, 64, False),
         csharp="new EncoderLayer(new SelfAttention(32, 4, 8, 0.1), 0.1, layerNormFirst: false, new FeedForward(32, 64, 0.1, 0.1), 32)",
         run=run_attention_like(2, 13, 32, [13, 9])),
    dict(name="encoder_layer_pre_norm", cls="EncoderLayer",
         args=dict(embed_dim=32, num_heads=4, ffn=64, dropout=DROPOUT, layer_norm_first=True),
         build=lambda: encoder_layer(32, 4, 64, True),
         csharp="new EncoderLayer(new SelfAttention(32, 4, 8, 0.1), 0.1, layerNormFirst: true, new FeedForward(32, 64, 0.1, 0.1), 32)",
         run=run_attention_like(2, 13, 32, [13, 9])),
    dict(name="transformer_post_norm", cls="Transformer",
         args=dict(embed_dim=32, pos_conv_kernel=16, pos_conv_groups=4, num_heads=4, ffn=64, num_layers=3,
                   encoder_layer_norm_first=False, transformer_layer_norm_first=True, layer_drop=0.5, dropout=DROPOUT),
         build=lambda: transformer(32, 16, 4, 4, 64, 3, False),
         csharp="new Transformer(pos(32,16,4), 0.1, 3 x post-norm layers, layerNormBeforeLayers: true, 0.5)",
         run=run_transformer(2, 13, 32, [13, 9])),
    dict(name="transformer_pre_norm", cls="Transformer",
         args=dict(embed_dim=32, pos_conv_kernel=9, pos_conv_groups=4, num_heads=4, ffn=64, num_layers=2,
                   encoder_layer_norm_first=True, transformer_layer_norm_first=False, layer_drop=0.5, dropout=DROPOUT),
         build=lambda: transformer(32, 9, 4, 4, 64, 2, True),
         csharp="new Transformer(pos(32,9,4), 0.1, 2 x pre-norm layers, layerNormBeforeLayers: false, 0.5)",
         run=run_transformer(2, 13, 32, [13, 9])),
    dict(name="encoder", cls="Encoder",
         args=dict(in_features=16, embed_dim=32, pos_conv_kernel=16, pos_conv_groups=4, num_heads=4, ffn=64,
                   num_layers=3, encoder_layer_norm_first=False, transformer_layer_norm_first=True, layer_drop=0.5,
                   dropout=DROPOUT),
         build=lambda: C.Encoder(C.FeatureProjection(16, 32, DROPOUT), transformer(32, 16, 4, 4, 64, 3, False)),
         csharp="new Encoder(new FeatureProjection(16, 32, 0.1), <transformer_post_norm>)",
         run=run_encoder(2, 13, 16, [13, 9])),
]


def describe(t):
    return dict(shape=list(t.shape), dtype=str(t.dtype).replace("torch.", ""))


def to_numpy(t):
    t = t.detach().contiguous()
    return t.numpy().astype(np.int64 if t.dtype == torch.int64 else np.float32)


def compute(index, spec):
    torch.manual_seed(SEED + index)
    module = spec["build"]()
    randomize_(module, SEED + index)
    module.eval()
    g = torch.Generator().manual_seed(SEED + 1000 + index)
    with torch.no_grad():
        inputs, outputs = spec["run"](module, g)
    return module, inputs, outputs


def generate():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    manifest = dict(
        generator="tools/reference/make_components.py",
        torch=torch.__version__, torchaudio=torchaudio.__version__, numpy=np.__version__,
        python=platform.python_version(), seed=SEED,
        notes=[
            "torchaudio 0.13.1 components (torchaudio.models.wav2vec2.components), random parameters, eval mode.",
            "mask.npy is the additive padding mask torchaudio's Encoder builds: -10000 on padded keys, [B,1,L,L].",
            "Transformer: args.transformer_layer_norm_first is the Transformer's own flag (= not encoder_layer_norm_first).",
            "intermediate_masked / extract_features: torchaudio's list of the L layer outputs, stacked on dim 0 "
            "(no feature-projection output, no final LayerNorm).",
            "FeatureExtractor: torchaudio has no dummy_weight; a port keeps it at ones.",
        ],
        components=[])
    for i, spec in enumerate(COMPONENTS):
        module, inputs, outputs = compute(i, spec)
        d = os.path.join(OUT, spec["name"])
        os.makedirs(d)
        sd = clean_state_dict(module.state_dict())
        torch.save(sd, os.path.join(d, "state_dict.pth"))
        files = {"state_dict": f"{spec['name']}/state_dict.pth"}
        for kind, tensors in (("inputs", inputs), ("outputs", outputs)):
            for k, v in tensors.items():
                np.save(os.path.join(d, k + ".npy"), to_numpy(v))
        manifest["components"].append(dict(
            name=spec["name"], torchaudio_class=f"torchaudio.models.wav2vec2.components.{spec['cls']}",
            constructor_args=spec["args"], csharp=spec["csharp"], seed=SEED + i,
            files=files,
            inputs={k: dict(file=f"{spec['name']}/{k}.npy", **describe(v)) for k, v in inputs.items()},
            outputs={k: dict(file=f"{spec['name']}/{k}.npy", max_abs=float(v.abs().max()), **describe(v))
                     for k, v in outputs.items()},
            state_dict={k: list(v.shape) for k, v in sd.items()},
        ))
        print(f"{spec['name']}: " + ", ".join(f"{k} {list(v.shape)}" for k, v in outputs.items()))
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")


def verify():
    manifest = json.load(open(os.path.join(OUT, "manifest.json")))
    specs = {s["name"]: s for s in COMPONENTS}
    total = 0
    for i, entry in enumerate(manifest["components"]):
        spec = specs[entry["name"]]
        assert COMPONENTS.index(spec) == i
        sd = torch.load(os.path.join(OUT, entry["files"]["state_dict"]))
        assert type(sd) is collections.OrderedDict
        # fresh module, different init, strict load from disk
        module = spec["build"]()
        module.load_state_dict(sd, strict=True)
        module.eval()
        # recompute with the stored inputs (same generator stream) and compare with the stored outputs
        _, inputs, _ = compute(i, spec)
        for k, meta in entry["inputs"].items():
            stored = np.load(os.path.join(OUT, meta["file"]))
            assert np.array_equal(stored, to_numpy(inputs[k])), (entry["name"], k)
        g = torch.Generator().manual_seed(SEED + 1000 + i)
        with torch.no_grad():
            _, outputs = spec["run"](module, g)
        for k, meta in entry["outputs"].items():
            stored = np.load(os.path.join(OUT, meta["file"]))
            assert list(stored.shape) == meta["shape"], (entry["name"], k)
            assert np.array_equal(stored, to_numpy(outputs[k])), (entry["name"], k)
        for f in os.listdir(os.path.join(OUT, entry["name"])):
            total += os.path.getsize(os.path.join(OUT, entry["name"], f))
    total += os.path.getsize(os.path.join(OUT, "manifest.json"))
    print(f"verified {len(manifest['components'])} components, {total} bytes")
    assert total < 1_000_000, total


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--verify-only", action="store_true")
    a = ap.parse_args()
    if not a.verify_only:
        generate()
    verify()


if __name__ == "__main__":
    sys.exit(main())
