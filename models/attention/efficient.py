"""``efficient``: Efficient Attention (Shen et al., 2021), the attention LinRec replaces softmax in.

Usage: out = efficient_attention(q, k, v, key_padding_mask=mask)   # (B, T, H, D), non-causal

out = softmax_D(Q) (softmax_T(K)^T V): Q normalised over features per token, K over the (real) positions per
feature. No scaling, as in the paper. Each implicit row sums to 1.
"""
from __future__ import annotations

import torch

from .contract import check_inputs, refuse_causal
from .linear_core import linear_attention, linear_matrix
from .registry import register_function


def efficient_features(q, k, key_padding_mask=None):
    """Usage: rho_q, rho_k = efficient_features(q, k, mask). rho_k is a softmax over real positions (padded: 0)."""
    rho_q = torch.softmax(q, dim=-1)
    if key_padding_mask is None:
        return rho_q, torch.softmax(k, dim=1)
    pad = key_padding_mask[:, :, None, None]
    # finite fill: a sequence that is all padding yields a uniform (finite) softmax, zeroed just after
    rho_k = torch.softmax(k.masked_fill(pad, torch.finfo(k.dtype).min), dim=1)
    return rho_q, rho_k.masked_fill(pad, 0.0)


def efficient_attention(q, k, v, *, causal: bool = False, key_padding_mask=None):
    """Usage: see module docstring."""
    check_inputs("efficient", q, k, v, key_padding_mask)
    refuse_causal("efficient", causal, "its key softmax runs over the whole sequence")
    rho_q, rho_k = efficient_features(q, k, key_padding_mask)
    return linear_attention(rho_q, rho_k, v, causal=False, key_padding_mask=key_padding_mask, normalize=False)


def efficient_matrix(q, k, *, causal: bool = False, key_padding_mask=None):
    """Usage: efficient_matrix(q, k) -> (B, H, T, T) = softmax_D(Q) softmax_T(K)^T."""
    refuse_causal("efficient", causal, "its key softmax runs over the whole sequence")
    rho_q, rho_k = efficient_features(q, k, key_padding_mask)
    return linear_matrix(rho_q, rho_k, causal=False, key_padding_mask=key_padding_mask, normalize=False)


register_function("efficient", efficient_attention, efficient_matrix, causal=False, padding=True, exact=False,
                  flops="linear",
                  description="Efficient Attention (Shen et al. 2021): softmax of Q over features, of K over positions")
