"""Sigmoid attention (Ramapuram et al. 2025, "Theory, analysis, and best practices for sigmoid self-attention"):
each weight is sigmoid(q·k/√D + b) on its own, with no normalisation over the keys; b = -log(T) keeps the
output's size near softmax attention's at initialisation.

Usage:
    attn = get_attention("sigmoid")                        # after this plug-in is loaded
    out = attn(q, k, v, causal=True, key_padding_mask=m)   # (B, T, H, D)

It costs what softmax attention costs (a T x T matrix per head): ``flops="softmax"``.
"""
from __future__ import annotations

import math

import torch

from models.attention import register_function


def sigmoid_matrix(q, k, *, causal: bool = False, key_padding_mask=None, bias: float | None = None):
    """Usage: sigmoid_matrix(q, k, causal=True) -> (B, H, T, T) weights; ``bias`` defaults to -log(T)."""
    T, D = q.shape[1], q.shape[-1]
    scores = torch.einsum("bthd,bshd->bhts", q, k) / math.sqrt(D)  # (B, H, T, T)
    weights = torch.sigmoid(scores + (-math.log(T) if bias is None else bias))
    if causal:
        weights = weights.masked_fill(torch.ones(T, T, dtype=torch.bool, device=q.device).triu(1), 0.0)
    if key_padding_mask is not None:  # a padded key gives nothing; a padded query gets nothing
        weights = weights.masked_fill(key_padding_mask[:, None, None, :], 0.0)
        weights = weights.masked_fill(key_padding_mask[:, None, :, None], 0.0)
    return weights


def sigmoid_attention(q, k, v, *, causal: bool = False, key_padding_mask=None, bias: float | None = None):
    """Usage: sigmoid_attention(q, k, v, causal=True) -> (B, T, H, D)."""
    weights = sigmoid_matrix(q, k, causal=causal, key_padding_mask=key_padding_mask, bias=bias)
    return torch.einsum("bhts,bshd->bthd", weights, v)


register_function("sigmoid", sigmoid_attention, sigmoid_matrix, causal=True, padding=True, exact=False,
                  flops="softmax", state="grows: 2·d per item (keys, values)", description="sigmoid attention (Ramapuram et al. 2025): sigmoid(QK^T/sqrt(D) - "
                                               "log T) V, no normalisation over keys [example plug-in]")
