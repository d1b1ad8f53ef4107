#!/usr/bin/env python3
"""Full-size check of the C# port against torchaudio's own HuBERT/wav2vec2 on real audio (not run in CI: it needs a
~380 MB checkpoint).

    # 1. a full-size checkpoint with random weights, written by C# (any HuBERT/wav2vec2 preset works):
    #    e.g. with the library: CheckpointWriter.SaveDpHubert(path, model.Config, model.state_dict(), null)
    #    for model = ModelFactory.HubertBase()
    # 2. features with the console:
    dphubert extract --checkpoint hubert_base.pth --input /usr/share/sounds/alsa/Front_Center.wav --output fc.npy
    # 3. the same with torchaudio (WAV read, channel mean, resample to 16 kHz, model(wave)[0][0]):
    /usr/bin/python3 tools/reference/full_size_check.py hubert_base.pth /usr/share/sounds/alsa/Front_Center.wav fc.npy

Measured 2026-11-24 (HuBERT Base, 48 kHz alsa speech, 71 frames): max abs difference 4.3e-6 at output scale 3.6.
"""
import sys

import numpy as np
import torch
import torchaudio


def torchaudio_model(checkpoint):
    """torchaudio's wav2vec2_model with a DPHuBERT .pth's weights (unpruned wav2vec2/HuBERT layouts), in eval mode;
    returns (model, config)."""
    ckpt = torch.load(checkpoint, map_location="cpu")
    config, sd = ckpt["config"], ckpt["state_dict"]
    dummy = sd.pop("feature_extractor.dummy_weight", None)
    if dummy is not None and not torch.all(dummy == 1):
        sys.exit("dummy_weight is not all ones: torchaudio's model cannot represent this checkpoint")
    if "encoder_remaining_heads" in config or any(config[k] for k in config if k.endswith("prune_conv_channels")):
        sys.exit("only unpruned wav2vec2/HuBERT layouts are checked here")
    model = torchaudio.models.wav2vec2_model(
        extractor_mode=config["extractor_mode"],
        extractor_conv_layer_config=config["extractor_conv_layer_config"],
        extractor_conv_bias=config["extractor_conv_bias"],
        encoder_embed_dim=config["encoder_embed_dim"],
        encoder_projection_dropout=0.0,
        encoder_pos_conv_kernel=config["encoder_pos_conv_kernel"],
        encoder_pos_conv_groups=config["encoder_pos_conv_groups"],
        encoder_num_layers=config["encoder_num_layers"],
        encoder_num_heads=config["encoder_num_heads"][0],
        encoder_attention_dropout=0.0,
        encoder_ff_interm_features=config["encoder_ff_interm_features"][0],
        encoder_ff_interm_dropout=0.0,
        encoder_dropout=0.0,
        encoder_layer_norm_first=config["encoder_layer_norm_first"],
        encoder_layer_drop=0.0,
        aux_num_out=config["aux_num_out"],
    )
    model.load_state_dict(sd, strict=True)
    model.eval()
    return model, config


def main(checkpoint, wav, features):
    model, config = torchaudio_model(checkpoint)
    wave, rate = torchaudio.load(wav)
    wave = torchaudio.functional.resample(wave.mean(0, keepdim=True), rate, 16000)
    if config["normalize_waveform"]:
        wave = torch.nn.functional.layer_norm(wave, wave.shape[-1:])
    with torch.no_grad():
        ref = model(wave)[0][0].numpy()
    ours = np.load(features)
    if ref.shape != ours.shape:
        sys.exit(f"shape {ours.shape} != torchaudio's {ref.shape}")
    diff = float(np.abs(ref - ours).max())
    print(f"frames {ref.shape[0]}, dim {ref.shape[1]}: max abs diff {diff:.3g} (output scale {float(np.abs(ref).max()):.3g})")
    sys.exit(0 if diff <= 1e-4 else 1)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
