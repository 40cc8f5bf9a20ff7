"""``linformer``: Linformer (Wang et al., 2020): learned projections of the length axis of K and V.

Usage:
    attn = Linformer(max_len=200, proj_dim=64)      # or get_attention("linformer", max_len=200)
    out = attn(q, k, v, key_padding_mask=mask)      # (B, T, H, D), T <= max_len, non-causal only

K' = E[:, :T] K and V' = F[:, :T] V (proj_dim x D, shared across heads), out = softmax(Q K'^T / sqrt(D)) V'.
Padded positions are zeroed (``clear_padding``) before the projection. Implicit matrix:
softmax(Q K'^T / sqrt(D)) F[:, :T], with padded columns zero. Causal is refused: the projection mixes all positions.
"""
from __future__ import annotations

import torch
from torch import nn

from .contract import (AttentionUnsupported, check_inputs, check_matrix_inputs, check_positive_int, clear_padding,
                       refuse_causal, zero_padded_queries, zero_padded_rows)
from .registry import register_module


class Linformer(nn.Module):
    """Linformer attention with learned (proj_dim, max_len) projections E (keys) and F (values)."""

    def __init__(self, max_len: int, proj_dim: int = 64):
        super().__init__()
        check_positive_int("linformer", "max_len", max_len)
        check_positive_int("linformer", "proj_dim", proj_dim)
        self.max_len, self.proj_dim = max_len, proj_dim
        self.key_proj = nn.Parameter(torch.randn(proj_dim, max_len) / proj_dim ** 0.5)  # E
        self.value_proj = nn.Parameter(torch.randn(proj_dim, max_len) / proj_dim ** 0.5)  # F

    def _probabilities(self, q, k, causal: bool, key_padding_mask):
        refuse_causal("linformer", causal, "its length projection mixes every position")
        T = q.shape[1]
        if T > self.max_len:
            raise AttentionUnsupported(f"linformer: sequence length T={T} exceeds its projection size "
                                       f"max_len={self.max_len}")
        k_proj = torch.einsum("pt,bthd->bphd", self.key_proj[:, :T].to(k.dtype), k)  # (B, P, H, D)
        scores = torch.einsum("bihd,bphd->bhip", q, k_proj) * q.shape[-1] ** -0.5  # (B, H, T, P)
        return torch.softmax(scores, dim=-1)

    def forward(self, q, k, v, *, causal: bool = False, key_padding_mask=None):
        check_inputs("linformer", q, k, v, key_padding_mask)
        q, k, v = clear_padding(key_padding_mask, q, k, v)
        probs = self._probabilities(q, k, causal, key_padding_mask)
        v_proj = torch.einsum("pt,bthd->bphd", self.value_proj[:, :q.shape[1]].to(v.dtype), v)  # (B, P, H, D)
        out = torch.einsum("bhip,bphd->bihd", probs, v_proj)  # (B, T, H, D)
        return zero_padded_queries(out, key_padding_mask)

    def matrix(self, q, k, *, causal: bool = False, key_padding_mask=None):
        """Usage: attn.matrix(q, k) -> (B, H, T, T) = softmax(Q K'^T / sqrt(D)) F[:, :T], padded columns zero."""
        check_matrix_inputs("linformer", q, k, key_padding_mask)
        q, k = clear_padding(key_padding_mask, q, k)
        probs = self._probabilities(q, k, causal, key_padding_mask)
        value_proj = self.value_proj[:, :q.shape[1]].to(q.dtype).expand(q.shape[0], -1, -1)  # (B, P, T)
        if key_padding_mask is not None:
            value_proj = value_proj.masked_fill(key_padding_mask[:, None, :], 0.0)
        weights = torch.einsum("bhip,bpj->bhij", probs, value_proj)  # (B, H, T, T)
        return zero_padded_rows(weights, key_padding_mask)

    def extra_repr(self) -> str:
        return f"max_len={self.max_len}, proj_dim={self.proj_dim}"


register_module("linformer", Linformer, causal=False, padding=True, exact=False, learned=True, flops="linformer",
                description="Linformer: learned projection of the length axis (non-causal, T <= max_len)")
