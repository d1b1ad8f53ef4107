"""Minimal re-implementations of the original models whose checkpoints we load, written for this repository from
the structure of the original code, at any size: microsoft/unilm's WavLM (wavlm/WavLM.py, modules.py), bshall/hubert
v0.1's HuBERT-Soft (hubert/model.py) and torchaudio 2's WavLM attention (nn.MultiheadAttention). Module and
attribute names follow the originals, so state_dict() gives the original key names; forward follows the original
computation in eval mode. Only what inference needs is here (no masking, no training losses).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


# ------------------------------------------------------------------------------------------------
# unilm WavLM
# ------------------------------------------------------------------------------------------------

class SamePad(nn.Module):
    def __init__(self, kernel_size):
        super().__init__()
        self.remove = 1 if kernel_size % 2 == 0 else 0

    def forward(self, x):
        return x[:, :, :-self.remove] if self.remove > 0 else x


class UnilmConvFeatureExtraction(nn.Module):
    """conv_layers.i = Sequential(conv, dropout, [GroupNorm on block 0 | transposed LayerNorm], GELU)."""

    def __init__(self, conv_layers, mode, conv_bias):
        super().__init__()
        self.conv_layers = nn.ModuleList()
        in_d = 1
        for i, (dim, k, stride) in enumerate(conv_layers):
            conv = nn.Conv1d(in_d, dim, k, stride=stride, bias=conv_bias)
            if mode == "layer_norm":
                block = nn.Sequential(conv, nn.Dropout(0.0),
                                      nn.Sequential(TransposeLast(), nn.LayerNorm(dim), TransposeLast()), nn.GELU())
            elif i == 0:
                block = nn.Sequential(conv, nn.Dropout(0.0), nn.GroupNorm(dim, dim, affine=True), nn.GELU())
            else:
                block = nn.Sequential(conv, nn.Dropout(0.0), nn.GELU())
            self.conv_layers.append(block)
            in_d = dim

    def forward(self, x):
        x = x.unsqueeze(1)
        for block in self.conv_layers:
            x = block(x)
        return x


class TransposeLast(nn.Module):
    def forward(self, x):
        return x.transpose(-2, -1)


class UnilmMultiheadAttention(nn.Module):
    def __init__(self, embed_dim, num_heads, has_relative_attention_bias, num_buckets, max_distance, gru_rel_pos):
        super().__init__()
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.head_dim = embed_dim // num_heads
        self.num_buckets, self.max_distance = num_buckets, max_distance
        self.has_relative_attention_bias = has_relative_attention_bias
        if has_relative_attention_bias:
            self.relative_attention_bias = nn.Embedding(num_buckets, num_heads)
        self.k_proj = nn.Linear(embed_dim, embed_dim)
        self.v_proj = nn.Linear(embed_dim, embed_dim)
        self.q_proj = nn.Linear(embed_dim, embed_dim)
        self.out_proj = nn.Linear(embed_dim, embed_dim)
        self.gru_rel_pos = gru_rel_pos
        if gru_rel_pos:
            self.grep_linear = nn.Linear(self.head_dim, 8)
            self.grep_a = nn.Parameter(torch.ones(1, num_heads, 1, 1))

    def _bucket(self, relative_positions):
        # bidirectional T5-style buckets: half for each sign, exact below max_exact, log-spaced above
        num_buckets = self.num_buckets // 2
        buckets = (relative_positions > 0).to(torch.long) * num_buckets
        rel = torch.abs(relative_positions)
        max_exact = num_buckets // 2
        is_small = rel < max_exact
        large = max_exact + (torch.log(rel.float() / max_exact) / math.log(self.max_distance / max_exact)
                             * (num_buckets - max_exact)).to(torch.long)
        large = torch.min(large, torch.full_like(large, num_buckets - 1))
        return buckets + torch.where(is_small, rel, large)

    def compute_bias(self, q_len, k_len):
        ctx = torch.arange(q_len, dtype=torch.long)[:, None]
        mem = torch.arange(k_len, dtype=torch.long)[None, :]
        values = self.relative_attention_bias(self._bucket(mem - ctx))
        return values.permute([2, 0, 1])

    def forward(self, x, position_bias=None):
        # x: T x B x C, as unilm's layers run
        tgt_len, bsz, _ = x.shape
        if self.has_relative_attention_bias and position_bias is None:
            position_bias = self.compute_bias(tgt_len, tgt_len)
            position_bias = position_bias.unsqueeze(0).repeat(bsz, 1, 1, 1).view(bsz * self.num_heads, tgt_len, tgt_len)
        attn_mask = None
        if position_bias is not None:
            attn_mask = position_bias
            if self.gru_rel_pos:
                q = x.transpose(0, 1).reshape(bsz, tgt_len, self.num_heads, -1).permute(0, 2, 1, 3)
                gate_a, gate_b = torch.sigmoid(
                    self.grep_linear(q).view(bsz, self.num_heads, tgt_len, 2, 4).sum(-1, keepdim=False)).chunk(2, dim=-1)
                gate = gate_a * (gate_b * self.grep_a - 1.0) + 2.0
                attn_mask = gate.view(bsz * self.num_heads, -1, 1) * position_bias
            attn_mask = attn_mask.view((-1, tgt_len, tgt_len))
        out, _ = F.multi_head_attention_forward(
            x, x, x, self.embed_dim, self.num_heads, torch.empty([0]),
            torch.cat((self.q_proj.bias, self.k_proj.bias, self.v_proj.bias)), None, None, False, 0.0,
            self.out_proj.weight, self.out_proj.bias, False, None, False, attn_mask,
            use_separate_proj_weight=True, q_proj_weight=self.q_proj.weight, k_proj_weight=self.k_proj.weight,
            v_proj_weight=self.v_proj.weight)
        return out, position_bias


class UnilmEncoderLayer(nn.Module):
    def __init__(self, cfg, has_rel):
        super().__init__()
        E = cfg["encoder_embed_dim"]
        self.self_attn = UnilmMultiheadAttention(E, cfg["encoder_attention_heads"], has_rel, cfg["num_buckets"],
                                                 cfg["max_distance"], cfg["gru_rel_pos"])
        self.self_attn_layer_norm = nn.LayerNorm(E)
        self.fc1 = nn.Linear(E, cfg["encoder_ffn_embed_dim"])
        self.fc2 = nn.Linear(cfg["encoder_ffn_embed_dim"], E)
        self.final_layer_norm = nn.LayerNorm(E)
        self.layer_norm_first = cfg["layer_norm_first"]

    def forward(self, x, pos_bias):
        residual = x
        if self.layer_norm_first:
            x, pos_bias = self.self_attn(self.self_attn_layer_norm(x), pos_bias)
            x = residual + x
            residual = x
            x = residual + self.fc2(F.gelu(self.fc1(self.final_layer_norm(x))))
        else:
            x, pos_bias = self.self_attn(x, pos_bias)
            x = self.self_attn_layer_norm(residual + x)
            residual = x
            x = self.final_layer_norm(residual + self.fc2(F.gelu(self.fc1(x))))
        return x, pos_bias


class UnilmTransformerEncoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        E, K = cfg["encoder_embed_dim"], cfg["conv_pos"]
        conv = nn.Conv1d(E, E, kernel_size=K, padding=K // 2, groups=cfg["conv_pos_groups"])
        conv = nn.utils.weight_norm(conv, name="weight", dim=2)
        self.pos_conv = nn.Sequential(conv, SamePad(K), nn.GELU())
        self.layers = nn.ModuleList([UnilmEncoderLayer(cfg, cfg["relative_position_embedding"] and i == 0)
                                     for i in range(cfg["encoder_layers"])])
        self.layer_norm_first = cfg["layer_norm_first"]
        self.layer_norm = nn.LayerNorm(E)

    def forward(self, x):
        """Returns the final output and each layer's output (B x T x C), as extract_features(output_layer=i)."""
        x = x + self.pos_conv(x.transpose(1, 2)).transpose(1, 2)
        if not self.layer_norm_first:
            x = self.layer_norm(x)
        x = x.transpose(0, 1)
        results, pos_bias = [], None
        for layer in self.layers:
            x, pos_bias = layer(x, pos_bias)
            results.append(x.transpose(0, 1))
        x = x.transpose(0, 1)
        if self.layer_norm_first:
            x = self.layer_norm(x)
        return x, results


class UnilmWavLM(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        conv = eval(cfg["conv_feature_layers"])  # the original eval()s this string too
        self.embed = conv[-1][0]
        self.feature_extractor = UnilmConvFeatureExtraction(conv, cfg["extractor_mode"], cfg["conv_bias"])
        E = cfg["encoder_embed_dim"]
        self.post_extract_proj = nn.Linear(self.embed, E) if self.embed != E else None
        self.mask_emb = nn.Parameter(torch.FloatTensor(E).uniform_())
        self.encoder = UnilmTransformerEncoder(cfg)
        self.layer_norm = nn.LayerNorm(self.embed)

    def extract_features(self, source):
        features = self.layer_norm(self.feature_extractor(source).transpose(1, 2))
        if self.post_extract_proj is not None:
            features = self.post_extract_proj(features)
        return self.encoder(features)


def torchaudio2_wavlm_state_dict(ours):
    """torchaudio >= 2.0 names: each layer's q/k/v projections fused into nn.MultiheadAttention's
    attention.attention.in_proj_* (in q, k, v order) and out_proj under attention.attention."""
    out = type(ours)()
    for k, v in ours.items():
        m = k.split(".attention.")
        if len(m) == 2 and m[1].split(".")[0] in ("q_proj", "k_proj", "v_proj"):
            proj, what = m[1].split(".")
            if proj != "q_proj":
                continue
            parts = [ours[f"{m[0]}.attention.{p}.{what}"] for p in ("q_proj", "k_proj", "v_proj")]
            out[f"{m[0]}.attention.attention.in_proj_{what}"] = torch.cat(parts)
        elif len(m) == 2 and m[1].startswith("out_proj."):
            out[f"{m[0]}.attention.attention.{m[1]}"] = v
        else:
            out[k] = v
    return out


# ------------------------------------------------------------------------------------------------
# bshall/hubert v0.1 HuBERT-Soft
# ------------------------------------------------------------------------------------------------

class SoftFeatureExtractor(nn.Module):
    def __init__(self, C):
        super().__init__()
        self.conv0 = nn.Conv1d(1, C, 10, 5, bias=False)
        self.norm0 = nn.GroupNorm(C, C)
        for i, k in zip(range(1, 7), (3, 3, 3, 3, 2, 2)):
            setattr(self, f"conv{i}", nn.Conv1d(C, C, k, 2, bias=False))

    def forward(self, x):
        x = F.gelu(self.norm0(self.conv0(x)))
        for i in range(1, 7):
            x = F.gelu(getattr(self, f"conv{i}")(x))
        return x


class SoftFeatureProjection(nn.Module):
    def __init__(self, C, E):
        super().__init__()
        self.norm = nn.LayerNorm(C)
        self.projection = nn.Linear(C, E)
        self.dropout = nn.Dropout(0.1)

    def forward(self, x):
        return self.dropout(self.projection(self.norm(x)))


class SoftPositionalConvEmbedding(nn.Module):
    def __init__(self, E, K=128, G=16):
        super().__init__()
        self.conv = nn.utils.weight_norm(nn.Conv1d(E, E, kernel_size=K, padding=K // 2, groups=G), name="weight", dim=2)

    def forward(self, x):
        x = self.conv(x.transpose(1, 2))
        return F.gelu(x[:, :, :-1]).transpose(1, 2)


class SoftTransformerEncoder(nn.Module):
    def __init__(self, layer, num_layers):
        super().__init__()
        import copy
        self.layers = nn.ModuleList([copy.deepcopy(layer) for _ in range(num_layers)])

    def forward(self, x, output_layer=None):
        for layer in self.layers[:output_layer]:
            x = layer(x)
        return x


class HubertSoft(nn.Module):
    """v0.1's Hubert(num_label_embeddings=100) + HubertSoft.units, with the widths as parameters."""

    def __init__(self, C=512, E=768, heads=12, ffn=3072, layers=12, units=256, labels=100):
        super().__init__()
        self.feature_extractor = SoftFeatureExtractor(C)
        self.feature_projection = SoftFeatureProjection(C, E)
        self.positional_embedding = SoftPositionalConvEmbedding(E)
        self.norm = nn.LayerNorm(E)
        self.dropout = nn.Dropout(0.1)
        self.encoder = SoftTransformerEncoder(
            nn.TransformerEncoderLayer(E, heads, ffn, activation="gelu", batch_first=True), layers)
        self.proj = nn.Linear(E, units)
        self.masked_spec_embed = nn.Parameter(torch.FloatTensor(E).uniform_())
        self.label_embedding = nn.Embedding(labels, units)

    def encode(self, x, layer=None):
        x = self.feature_projection(self.feature_extractor(x).transpose(1, 2))
        x = x + self.positional_embedding(x)
        x = self.dropout(self.norm(x))
        return self.encoder(x, output_layer=layer)

    def units(self, wav):
        """so-vits-svc's HubertSoft encoder: 40 zero samples on each side, all layers, then proj."""
        wav = F.pad(wav, ((400 - 320) // 2, (400 - 320) // 2))
        return self.proj(self.encode(wav))
