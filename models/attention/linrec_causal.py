"""``linrec_causal``: LinRec's maths (ELU, per-token L2, /sqrt(D), padding honoured) with causality by prefix sums.

Usage: out = linrec_causal(q, k, v, causal=True, key_padding_mask=mask)   # (B, T, H, D)

Causal path: quadratic inside each chunk of ``chunk_size`` positions, a (D, D) state per chunk carried by an
exclusive prefix sum across chunks; no (B, H, T, D, D) tensor is ever built. The default chunk is C = D, which
keeps both the (C, C) blocks and the per-chunk (D, D) states the size of one input (and was the fastest on the
reference CPU). By default it runs the analytic-backward Function of linrec_causal_fast.py; ``fast=False``
(registered as ``linrec_causal_autograd``) is the plain autograd composition in linear_core, the oracle. With
causal=False it computes plain ``linrec`` (the flag is honoured either way, per the contract).
"""
from __future__ import annotations

from .contract import check_inputs
from .linear_core import check_chunk_size, linear_attention, linear_matrix
from .linrec import linrec_features
from .linrec_causal_fast import linrec_causal_fast
from .linrec_fast import linrec_fast
from .linrec_kernels import cpu_kernel_ran
from .registry import register_function


def linrec_causal(q, k, v, *, causal: bool = False, key_padding_mask=None, chunk_size: int | None = None,
                  eps: float = 1e-6, fast: bool = True):
    """Usage: see module docstring. ``chunk_size`` None means C = D."""
    name = "linrec_causal" if fast else "linrec_causal_autograd"
    check_inputs(name, q, k, v, key_padding_mask)
    if chunk_size is not None:
        check_chunk_size(name, chunk_size)
    chunk_size = chunk_size or q.shape[-1]
    if fast:
        return linrec_causal_fast(q, k, v, key_padding_mask, eps, chunk_size) if causal else \
            linrec_fast(q, k, v, key_padding_mask, eps)
    q_hat, k_hat = linrec_features(q, k, key_padding_mask, eps=eps)
    return linear_attention(q_hat, k_hat, v, causal=causal, key_padding_mask=key_padding_mask, normalize=False,
                            scale=q.shape[-1] ** -0.5, chunk_size=chunk_size)


def linrec_causal_matrix(q, k, *, causal: bool = False, key_padding_mask=None, chunk_size: int | None = None,
                         eps: float = 1e-6, fast: bool = True):
    """Usage: linrec_causal_matrix(q, k) -> (B, H, T, T) lower-triangular Q^ K^T / sqrt(D)."""
    q_hat, k_hat = linrec_features(q, k, key_padding_mask, eps=eps)
    return linear_matrix(q_hat, k_hat, causal=causal, key_padding_mask=key_padding_mask, normalize=False,
                         scale=q.shape[-1] ** -0.5)


register_function("linrec_causal", linrec_causal, linrec_causal_matrix, causal=True, padding=True, exact=False,
                  flops="linear", kernel=cpu_kernel_ran,
                  description="causal LinRec by chunked prefix sums (D x D state across chunks), padding honoured")
register_function("linrec_causal_autograd", linrec_causal, linrec_causal_matrix, causal=True, padding=True,
                  exact=False, fixed={"fast": False}, flops="linear",
                  description="linrec_causal by plain autograd (no custom Function): the oracle of the fast path")
