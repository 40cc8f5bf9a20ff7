"""RetNet's multi-scale retention (Sun et al. 2023) as flash-linear-attention's MultiScaleRetention layer.

Usage:
    mixer = build_mixer("retnet", hidden=64, heads=2)                # expand_k=1, expand_v=2 (fla's defaults)
    y = mixer(x, causal=True, key_padding_mask=m)                     # x, y: (B, T, hidden)
    A = mixer.matrix(x)                                               # (B, H, T, T): the weights on v, before the norm

Per head h (Dk = hidden·expand_k / H, Dv = hidden·expand_v / H), with one fixed decay per head:
    γ_h = 1 - 2^(-5-h),   q, k rotated by RoPE (base 10000, the two halves rotated together, not interleaved)
    S_t = γ_h S_{t-1} + k_t v_tᵀ,   o_t = Dk^-0.5 · q_tᵀ S_t,   so  o_t = Dk^-0.5 Σ_{s<=t} γ_h^(t-s) (q_t·k_s) v_s
    y_t = W_o [RMSNorm(o_t) ⊙ SiLU(W_g x_t)]                             (RMSNorm per head, learnable weight)
The facts (dims, γ, rotary, the scale, the fused norm-and-gate, no biases) follow fla's
fla/layers/multiscale_retention.py and fla/ops/retention/naive.py (no xPos, no short convolution).
``path="naive"`` runs the state loop step by step; ``"auto"`` the chunked form of models/mixers/gated.py with the
scalar decay (the intra-chunk weights are one matmul). Causal only; the state is a Dk x Dv matrix per head. Right
padding never reaches a real output (it comes after every real item) and the output there is 0.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .common import check_divides, check_positive
from .gated import GatedMixer, GatedRMSNorm, check_expand, compute_dtype
from .registry import MixerInputError, register_mixer

ROPE_BASE = 10000.0


def decay_logs(heads: int, dtype=torch.float64, device="cpu") -> torch.Tensor:
    """Usage: decay_logs(4) -> log γ_h (H,), γ_h = 1 - 2^(-5-h): from 0.96875 (h=0) toward 1 (longer memory)."""
    return torch.tensor([math.log1p(-2.0 ** (-5 - h)) for h in range(heads)], dtype=dtype, device=device)


def rotary(x: torch.Tensor, base: float = ROPE_BASE) -> torch.Tensor:
    """Usage: rotary(q) -> q rotated by its position t = 0..T-1; x (B, T, H, D), D even. Pair i is (x_i, x_{i+D/2})
    at the angle t·base^(-2i/D) (GPT-NeoX layout, fla's default interleaved=False)."""
    T, D = x.shape[1], x.shape[-1]
    inv_freq = base ** (-torch.arange(0, D, 2, dtype=torch.float64, device=x.device) / D)  # (D/2,)
    angle = torch.arange(T, dtype=torch.float64, device=x.device)[:, None] * inv_freq  # (T, D/2)
    cos, sin = (f(angle).to(x.dtype)[:, None] for f in (torch.cos, torch.sin))  # (T, 1, D/2)
    x1, x2 = x.chunk(2, dim=-1)  # (B, T, H, D/2) each
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


class RetNetMixer(GatedMixer):
    """Usage: RetNetMixer(hidden=64, heads=2)(x, causal=True, key_padding_mask=m). ``path``: "auto" (chunked) or
    "naive" (the state loop); ``chunk``: the chunk length C of the chunked form."""

    name = "retnet"

    def __init__(self, hidden: int, heads: int = 2, expand_k: float = 1.0, expand_v: float = 2.0,
                 norm_eps: float = 1e-5, chunk: int = 64, path: str = "auto"):
        super().__init__()
        check_positive("retnet", "hidden", hidden)
        check_positive("retnet", "heads", heads)
        check_divides("retnet", "hidden", hidden, heads, "heads")
        key_dim = check_expand("retnet", "expand_k", expand_k, hidden, heads)
        value_dim = check_expand("retnet", "expand_v", expand_v, hidden, heads)
        if (key_dim // heads) % 2:
            raise MixerInputError(f"retnet: the key dim per head hidden·expand_k/heads = {key_dim // heads} must be "
                                  f"even (rotary positions turn pairs of dims)")
        check_positive("retnet", "chunk", chunk)
        if isinstance(norm_eps, bool) or not isinstance(norm_eps, (int, float)) or not norm_eps > 0:
            raise MixerInputError(f"retnet: norm_eps must be a positive number, got {norm_eps!r}")
        self.hidden, self.heads, self.path, self.chunk = hidden, heads, path, chunk
        self.head_k, self.head_v = key_dim // heads, value_dim // heads
        self.scale = self.head_k ** -0.5
        self.q_proj = nn.Linear(hidden, key_dim, bias=False)
        self.k_proj = nn.Linear(hidden, key_dim, bias=False)
        self.v_proj = nn.Linear(hidden, value_dim, bias=False)
        self.g_proj = nn.Linear(hidden, value_dim, bias=False)  # the output gate
        self.norm = GatedRMSNorm(self.head_v, norm_eps)
        self.o_proj = nn.Linear(value_dim, hidden, bias=False)


    def heads_of(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Usage: q, k, v, log_gate = mixer.heads_of(x): q, k rotated (B, T, H, Dk), v (B, T, H, Dv), log γ
        (1, 1, H, 1), all in the compute dtype (float32 for bf16/fp16 inputs; γ is never rounded to bf16)."""
        B, T, _ = x.shape
        dtype = compute_dtype(x.dtype)
        q = rotary(self.q_proj(x).view(B, T, self.heads, self.head_k).to(dtype))  # (B, T, H, Dk)
        k = rotary(self.k_proj(x).view(B, T, self.heads, self.head_k).to(dtype))
        v = self.v_proj(x).view(B, T, self.heads, self.head_v).to(dtype)  # (B, T, H, Dv)
        log_gate = decay_logs(self.heads, dtype, x.device).view(1, 1, self.heads, 1)
        return q, k, v, log_gate


register_mixer("retnet", RetNetMixer, family="retention", causal=True, bidirectional=False,
               state="fixed: d_k·d_v per head (d/H x 2d/H, 2d²/H per layer at fla's expand_k=1, expand_v=2)",
               matrix=True, paths=("naive",),
               description="RetNet's multi-scale retention: a fixed decay 1 - 2^(-5-h) per head and rotary q, k, "
                           "as fla's MultiScaleRetention layer")
