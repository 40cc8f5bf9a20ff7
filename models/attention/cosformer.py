"""``cosformer``: cosFormer (Qin et al., 2022): ReLU features with cos/sin position re-weighting.

Usage: out = cosformer_attention(q, k, v, causal=True, key_padding_mask=mask)   # (B, T, H, D)

a_ij = relu(q_i) . relu(k_j) * cos(pi/2 * (i - j) / M), M = T, split by cos(a - b) = cos a cos b + sin a sin b
into features [relu(x) cos(pi i / 2M), relu(x) sin(pi i / 2M)] of size 2D; rows normalised by their sum.
Positions are counted 1..T, so |i - j| < M and every weight is >= 0.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .contract import check_inputs
from .linear_core import DEFAULT_CHUNK, check_chunk_size, linear_attention, linear_matrix
from .registry import register_function


def cosformer_features(x):
    """Usage: phi = cosformer_features(q) -> (B, T, H, 2D)."""
    T = x.shape[1]
    angle = torch.arange(1, T + 1, device=x.device, dtype=x.dtype) * (math.pi / (2 * T))  # (T,)
    r = F.relu(x)
    return torch.cat([r * angle.cos()[:, None, None], r * angle.sin()[:, None, None]], dim=-1)  # (B, T, H, 2D)


def cosformer_attention(q, k, v, *, causal: bool = False, key_padding_mask=None, chunk_size: int = DEFAULT_CHUNK,
                        eps: float = 1e-6):
    """Usage: see module docstring."""
    check_inputs("cosformer", q, k, v, key_padding_mask)
    check_chunk_size("cosformer", chunk_size)
    return linear_attention(cosformer_features(q), cosformer_features(k), v, causal=causal,
                            key_padding_mask=key_padding_mask, normalize=True, eps=eps, chunk_size=chunk_size)


def cosformer_matrix(q, k, *, causal: bool = False, key_padding_mask=None, chunk_size: int = DEFAULT_CHUNK,
                     eps: float = 1e-6):
    """Usage: cosformer_matrix(q, k) -> (B, H, T, T) row-normalised re-weighted ReLU kernel."""
    return linear_matrix(cosformer_features(q), cosformer_features(k), causal=causal,
                         key_padding_mask=key_padding_mask, normalize=True, eps=eps)


register_function("cosformer", cosformer_attention, cosformer_matrix, causal=True, padding=True, exact=False, flops="cosformer",
                  description="cosFormer (Qin et al. 2022): ReLU features, cos position re-weighting, row-normalised")
