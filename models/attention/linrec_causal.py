"""``linrec_causal``: LinRec's maths (ELU, per-token L2, /sqrt(D), padding honoured) with causality by prefix sums.

Usage: out = linrec_causal(q, k, v, causal=True, key_padding_mask=mask, chunk_size=64)   # (B, T, H, D)

Causal path: quadratic inside each chunk of ``chunk_size`` positions, a (D, D) state per chunk carried by an
exclusive prefix sum across chunks (see linear_core); no (B, H, T, D, D) tensor is ever built. With
causal=False it computes plain ``linrec`` (the flag is honoured either way, per the contract).
"""
from __future__ import annotations

from .contract import check_inputs
from .linear_core import DEFAULT_CHUNK, check_chunk_size, linear_attention, linear_matrix
from .linrec import linrec_features
from .registry import register_function


def linrec_causal(q, k, v, *, causal: bool = False, key_padding_mask=None, chunk_size: int = DEFAULT_CHUNK,
                  eps: float = 1e-6):
    """Usage: see module docstring."""
    check_inputs("linrec_causal", q, k, v, key_padding_mask)
    check_chunk_size("linrec_causal", chunk_size)
    q_hat, k_hat = linrec_features(q, k, key_padding_mask, eps=eps)
    return linear_attention(q_hat, k_hat, v, causal=causal, key_padding_mask=key_padding_mask, normalize=False,
                            scale=q.shape[-1] ** -0.5, chunk_size=chunk_size)


def linrec_causal_matrix(q, k, *, causal: bool = False, key_padding_mask=None, chunk_size: int = DEFAULT_CHUNK,
                         eps: float = 1e-6):
    """Usage: linrec_causal_matrix(q, k) -> (B, H, T, T) lower-triangular Q^ K^T / sqrt(D)."""
    q_hat, k_hat = linrec_features(q, k, key_padding_mask, eps=eps)
    return linear_matrix(q_hat, k_hat, causal=causal, key_padding_mask=key_padding_mask, normalize=False,
                         scale=q.shape[-1] ** -0.5)


register_function("linrec_causal", linrec_causal, linrec_causal_matrix, causal=True, padding=True, exact=False,
                  description="causal LinRec by chunked prefix sums (D x D state across chunks), padding honoured")
