"""``linear_elu``: the linear transformer of Katharopoulos et al. (2020), feature map ELU + 1, row-sum denominator.

Usage: out = linear_elu_attention(q, k, v, causal=True, key_padding_mask=mask)   # (B, T, H, D)

out_i = phi(q_i) . sum_j phi(k_j) v_j^T / phi(q_i) . sum_j phi(k_j), phi = ELU + 1 > 0; causal by chunked prefix sums.
"""
from __future__ import annotations

import torch.nn.functional as F

from .contract import check_inputs
from .linear_core import DEFAULT_CHUNK, check_chunk_size, linear_attention, linear_matrix
from .registry import register_function


def linear_elu_attention(q, k, v, *, causal: bool = False, key_padding_mask=None, chunk_size: int = DEFAULT_CHUNK,
                         eps: float = 1e-6):
    """Usage: see module docstring."""
    check_inputs("linear_elu", q, k, v, key_padding_mask)
    check_chunk_size("linear_elu", chunk_size)
    return linear_attention(F.elu(q) + 1.0, F.elu(k) + 1.0, v, causal=causal, key_padding_mask=key_padding_mask,
                            normalize=True, eps=eps, chunk_size=chunk_size)


def linear_elu_matrix(q, k, *, causal: bool = False, key_padding_mask=None, chunk_size: int = DEFAULT_CHUNK,
                      eps: float = 1e-6):
    """Usage: linear_elu_matrix(q, k) -> (B, H, T, T) row-normalised phi(Q) phi(K)^T."""
    return linear_matrix(F.elu(q) + 1.0, F.elu(k) + 1.0, causal=causal, key_padding_mask=key_padding_mask,
                         normalize=True, eps=eps)


register_function("linear_elu", linear_elu_attention, linear_elu_matrix, causal=True, padding=True, exact=False,
                  flops="linear",
                  description="linear transformer (Katharopoulos et al. 2020): elu+1 features, row-sum denominator")
