"""Gated linear attention (GLA, Yang et al. ICML 2024) as flash-linear-attention's GatedLinearAttention layer.

Usage:
    mixer = build_mixer("gla", hidden=64, heads=2)                   # expand_k=0.5, expand_v=1.0 (fla's defaults)
    y = mixer(x, causal=True, key_padding_mask=m)                     # x, y: (B, T, hidden)
    A = mixer.matrix(x)                                               # (B, H, T, T): the weights on v, before the norm

Per head (Dk = hidden·expand_k / H, Dv = hidden·expand_v / H), with a data-dependent decay per key dimension:
    α_t = exp(logsigmoid(W2 W1 x_t + b2) / gate_logit_normalizer)        (low-rank gate, rank gate_low_rank)
    S_t = diag(α_t) S_{t-1} + k_t v_tᵀ,   o_t = Dk^-0.5 · q_tᵀ S_t
    y_t = W_o [RMSNorm(o_t) ⊙ SiLU(W_g x_t)]                             (RMSNorm per head, learnable weight)
The facts (dims, the gate's shape and normaliser, the scale, the fused norm-and-gate, no biases but the gate's
second one) follow fla's fla/layers/gla.py defaults (no short convolution, no feature map, swish output gate).
``path="naive"`` runs the state loop step by step; ``"auto"`` the chunked form of models/mixers/gated.py (exponents
never positive, memory linear in T). Causal only; the state is a Dk x Dv matrix per head whatever T. Right padding
never reaches a real output (it comes after every real item) and the output there is 0.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .common import check_divides, check_positive
from .gated import GatedMixer, GatedRMSNorm, check_expand, compute_dtype
from .registry import MixerInputError, register_mixer


class GLAMixer(GatedMixer):
    """Usage: GLAMixer(hidden=64, heads=2)(x, causal=True, key_padding_mask=m). ``path``: "auto" (chunked) or
    "naive" (the state loop); ``chunk``: the chunk length C of the chunked form."""

    name = "gla"

    def __init__(self, hidden: int, heads: int = 2, expand_k: float = 0.5, expand_v: float = 1.0,
                 gate_low_rank: int = 16, gate_logit_normalizer: float = 16.0, norm_eps: float = 1e-5,
                 chunk: int = 8, path: str = "auto"):
        super().__init__()
        check_positive("gla", "hidden", hidden)
        check_positive("gla", "heads", heads)
        check_divides("gla", "hidden", hidden, heads, "heads")
        key_dim = check_expand("gla", "expand_k", expand_k, hidden, heads)
        value_dim = check_expand("gla", "expand_v", expand_v, hidden, heads)
        check_positive("gla", "gate_low_rank", gate_low_rank)
        check_positive("gla", "chunk", chunk)
        for label, value in (("gate_logit_normalizer", gate_logit_normalizer), ("norm_eps", norm_eps)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise MixerInputError(f"gla: {label} must be a positive number, got {value!r}")
        self.hidden, self.heads, self.path, self.chunk = hidden, heads, path, chunk
        self.head_k, self.head_v = key_dim // heads, value_dim // heads
        self.normalizer, self.scale = float(gate_logit_normalizer), self.head_k ** -0.5
        self.q_proj = nn.Linear(hidden, key_dim, bias=False)
        self.k_proj = nn.Linear(hidden, key_dim, bias=False)
        self.v_proj = nn.Linear(hidden, value_dim, bias=False)
        self.g_proj = nn.Linear(hidden, value_dim, bias=False)  # the output gate
        self.gk_proj = nn.Sequential(nn.Linear(hidden, gate_low_rank, bias=False),
                                     nn.Linear(gate_low_rank, key_dim, bias=True))  # the low-rank decay gate
        self.norm = GatedRMSNorm(self.head_v, norm_eps)
        self.o_proj = nn.Linear(value_dim, hidden, bias=False)


    def heads_of(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Usage: q, k, v, log_gate = mixer.heads_of(x): (B, T, H, Dk | Dv) each, in the compute dtype (float32 for
        bf16/fp16 inputs); log_gate = logsigmoid(gk) / gate_logit_normalizer <= 0, one per key dimension."""
        B, T, _ = x.shape
        dtype = compute_dtype(x.dtype)
        q = self.q_proj(x).view(B, T, self.heads, self.head_k).to(dtype)  # (B, T, H, Dk)
        k = self.k_proj(x).view(B, T, self.heads, self.head_k).to(dtype)
        v = self.v_proj(x).view(B, T, self.heads, self.head_v).to(dtype)  # (B, T, H, Dv)
        log_gate = F.logsigmoid(self.gk_proj(x).to(dtype)).view(B, T, self.heads, self.head_k) / self.normalizer
        return q, k, v, log_gate


register_mixer("gla", GLAMixer, family="gated linear attention", causal=True, bidirectional=False,
               state="fixed: d_k·d_v per head (d/2H x d/H, d²/2H per layer at fla's expand_k=0.5, expand_v=1)",
               matrix=True, paths=("naive",),
               description="gated linear attention (GLA) with a low-rank data-dependent decay per key dimension, "
                           "as fla's GatedLinearAttention layer")
