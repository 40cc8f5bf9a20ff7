"""``dot``: eager softmax attention that materialises the T x T matrix. The oracle and the paper's baseline.

Usage: out = dot_attention(q, k, v, causal=True, key_padding_mask=mask)   # q, k, v: (B, T, H, D)
"""
from __future__ import annotations

import torch

from .contract import allowed_pairs, check_inputs, zero_padded_queries, zero_padded_rows
from .registry import register_function


def dot_matrix(q, k, *, causal: bool = False, key_padding_mask=None):
    """Usage: dot_matrix(q, k, causal=True) -> softmax(q k^T / sqrt(D)) as (B, H, T, T), masked per the contract."""
    scores = torch.einsum("bihd,bjhd->bhij", q, k) * q.shape[-1] ** -0.5  # (B, H, T, T)
    allowed = allowed_pairs(key_padding_mask, causal, q.shape[1], q.device)
    if allowed is not None:
        scores = scores.masked_fill(~allowed, float("-inf"))
    return zero_padded_rows(torch.softmax(scores, dim=-1), key_padding_mask)


def dot_attention(q, k, v, *, causal: bool = False, key_padding_mask=None):
    """Usage: see module docstring. Returns (B, T, H, D)."""
    check_inputs("dot", q, k, v, key_padding_mask)
    weights = dot_matrix(q, k, causal=causal, key_padding_mask=key_padding_mask)
    out = torch.einsum("bhij,bjhd->bihd", weights, v)  # (B, T, H, D)
    return zero_padded_queries(out, key_padding_mask)


register_function("dot", dot_attention, dot_matrix, causal=True, padding=True, exact=True,
                  description="eager softmax(QK^T/sqrt(D))V, materialises the T x T matrix (oracle, paper baseline)")
