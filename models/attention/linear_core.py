"""Shared maths of kernelised (linear) attention: out_i = sum_j a_ij v_j with a_ij = scale * phi(q_i) . phi(k_j).

Usage:
    out = linear_attention(phi_q, phi_k, v, causal=True, key_padding_mask=mask, normalize=True)
    weights = linear_matrix(phi_q, phi_k, causal=True, key_padding_mask=mask, normalize=True)  # the O(T^2) oracle

phi_q, phi_k: (B, T, H, F) feature maps; v: (B, T, H, D). ``normalize`` divides each row by its sum
(linear transformer, performer, cosformer); LinRec does not. Padded keys are zeroed, padded queries give 0.
Half-precision inputs are computed in float32 (the D x D states are sums over T) and cast back.
Causal attention is chunked: exact quadratic attention inside each chunk of ``chunk_size`` positions, and an
exclusive prefix sum of per-chunk (F, D) states across chunks, so nothing of size (B, H, T, F, D) is ever built.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .contract import check_positive_int, zero_padded_queries, zero_padded_rows

DEFAULT_CHUNK = 64


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


def check_chunk_size(name: str, chunk_size) -> None:
    """Usage: check_chunk_size("linrec_causal", 64). Raises a one-line error for a non-positive or non-int size."""
    check_positive_int(name, "chunk_size", chunk_size)


def _noncausal(phi_q, phi_k, v):
    state = torch.einsum("bthf,bthd->bhfd", phi_k, v)  # (B, H, F, D)
    return torch.einsum("bthf,bhfd->bthd", phi_q, state)  # (B, T, H, D)


def _causal_chunked(phi_q, phi_k, v, chunk_size: int):
    B, T, H, Fdim = phi_q.shape
    D = v.shape[-1]
    C = min(chunk_size, T)
    n = -(-T // C)
    pad = n * C - T
    if pad:
        phi_q, phi_k, v = (F.pad(x, (0, 0, 0, 0, 0, pad)) for x in (phi_q, phi_k, v))
    qc = phi_q.reshape(B, n, C, H, Fdim)  # (B, n, C, H, F)
    kc = phi_k.reshape(B, n, C, H, Fdim)
    vc = v.reshape(B, n, C, H, D)  # (B, n, C, H, D)
    scores = torch.einsum("bnihf,bnjhf->bnhij", qc, kc)  # (B, n, H, C, C)
    future = torch.ones(C, C, dtype=torch.bool, device=v.device).triu(1)
    intra = torch.einsum("bnhij,bnjhd->bnihd", scores.masked_fill(future, 0.0), vc)  # (B, n, C, H, D)
    states = torch.einsum("bnjhf,bnjhd->bnhfd", kc, vc)  # (B, n, H, F, D) one state per chunk
    before = torch.cat([torch.zeros_like(states[:, :1]), states[:, :-1]], dim=1).cumsum(dim=1)  # exclusive
    inter = torch.einsum("bnihf,bnhfd->bnihd", qc, before)  # (B, n, C, H, D)
    return (intra + inter).reshape(B, n * C, H, D)[:, :T]  # (B, T, H, D)


def linear_attention(phi_q, phi_k, v, *, causal: bool, key_padding_mask=None, normalize: bool,
                     scale: float = 1.0, eps: float = 1e-6, chunk_size: int = DEFAULT_CHUNK):
    """Usage: see module docstring. Returns (B, T, H, D) in v's dtype."""
    out_dtype = v.dtype
    work = _compute_dtype(out_dtype)
    phi_q, phi_k, v = phi_q.to(work), phi_k.to(work), v.to(work)
    if key_padding_mask is not None:
        phi_k = phi_k.masked_fill(key_padding_mask[:, :, None, None], 0.0)
    if normalize:  # one extra value column of ones yields the row sums alongside the numerator
        v = torch.cat([v, torch.ones_like(v[..., :1])], dim=-1)  # (B, T, H, D + 1)
    out = _causal_chunked(phi_q, phi_k, v, chunk_size) if causal else _noncausal(phi_q, phi_k, v)
    if normalize:
        out = out[..., :-1] / out[..., -1:].clamp_min(eps)
    else:
        out = out * scale
    return zero_padded_queries(out, key_padding_mask).to(out_dtype)


def linear_matrix(phi_q, phi_k, *, causal: bool, key_padding_mask=None, normalize: bool,
                  scale: float = 1.0, eps: float = 1e-6):
    """Usage: see module docstring. The implicit (B, H, T, T) weights, built directly in O(T^2)."""
    out_dtype = phi_q.dtype
    work = _compute_dtype(out_dtype)
    weights = torch.einsum("bihf,bjhf->bhij", phi_q.to(work), phi_k.to(work))  # (B, H, T, T)
    T = weights.shape[-1]
    if causal:
        weights = weights.masked_fill(torch.ones(T, T, dtype=torch.bool, device=weights.device).triu(1), 0.0)
    if key_padding_mask is not None:
        weights = weights.masked_fill(key_padding_mask[:, None, None, :], 0.0)
    weights = weights / weights.sum(-1, keepdim=True).clamp_min(eps) if normalize else weights * scale
    return zero_padded_rows(weights, key_padding_mask).to(out_dtype)
