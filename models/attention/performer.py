"""``performer``: FAVOR+ (Choromanski et al., 2021) with positive orthogonal random features.

Usage:
    attn = Performer(head_dim=16, num_features=64, seed=0)   # or get_attention("performer", head_dim=16, seed=0)
    out = attn(q, k, v, causal=True, key_padding_mask=mask)  # (B, T, H, D)

phi(x) = exp(w . x' - ||x'||^2 / 2) / sqrt(m) with x' = x / D^(1/4), so E[phi(q) . phi(k)] = exp(q . k / sqrt(D)).
The m x D projection is drawn once from ``seed`` (orthogonal blocks, rows rescaled to Gaussian norms) and kept as
a buffer: fixed per layer, saved with the checkpoint, never redrawn.
Overflow: a query's shift (its max logit) cancels in the row normalisation. Keys are shifted by their max over real
positions only when non-causal; under causal a shared shift would let future keys change past outputs, and it is
not needed there: w . x' - ||x'||^2 / 2 <= ||w||^2 / 2 for any x', so key features cannot overflow.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .contract import check_inputs, check_matrix_inputs, check_positive_int, clear_padding
from .linear_core import DEFAULT_CHUNK, check_chunk_size, linear_attention, linear_matrix
from .registry import register_module


def orthogonal_gaussian(num_features: int, dim: int, seed: int) -> torch.Tensor:
    """Usage: orthogonal_gaussian(64, 16, seed=0) -> (64, 16); rows orthogonal within each block of ``dim``."""
    gen = torch.Generator().manual_seed(seed)
    blocks = []
    for _ in range(-(-num_features // dim)):
        q, _ = torch.linalg.qr(torch.randn(dim, dim, generator=gen, dtype=torch.float64))
        blocks.append(q.T)
    rows = torch.cat(blocks)[:num_features]  # (m, D), unit rows
    norms = torch.randn(num_features, dim, generator=gen, dtype=torch.float64).norm(dim=1, keepdim=True)
    return (rows * norms).float()


class Performer(nn.Module):
    """FAVOR+ softmax-kernel attention with a fixed, seeded random projection (see module docstring)."""

    def __init__(self, head_dim: int, num_features: int | None = None, seed: int = 0,
                 chunk_size: int = DEFAULT_CHUNK, eps: float = 1e-6):
        super().__init__()
        check_positive_int("performer", "head_dim", head_dim)
        if num_features is not None:
            check_positive_int("performer", "num_features", num_features)
        check_chunk_size("performer", chunk_size)
        self.num_features = num_features or max(head_dim, int(head_dim * math.log(head_dim)))
        self.chunk_size, self.eps, self.seed = chunk_size, eps, seed
        self.register_buffer("projection", orthogonal_gaussian(self.num_features, head_dim, seed))

    def features(self, x, key_padding_mask=None, *, is_query: bool, causal: bool):
        """Usage: phi = self.features(q, is_query=True, causal=False) -> (B, T, H, m), in float32 or wider."""
        if x.shape[-1] != self.projection.shape[1]:
            raise ValueError(f"performer: built for head_dim {self.projection.shape[1]}, got inputs with D = "
                             f"{x.shape[-1]} (shape {tuple(x.shape)})")
        work = torch.promote_types(x.dtype, torch.float32)
        x = x.to(work) * x.shape[-1] ** -0.25
        logits = torch.einsum("bthd,md->bthm", x, self.projection.to(work))  # (B, T, H, m)
        logits = logits - 0.5 * (x * x).sum(-1, keepdim=True)
        if is_query:
            shift = logits.amax(dim=-1, keepdim=True)  # per token: cancels in the row normalisation
        elif not causal:
            masked = logits if key_padding_mask is None else \
                logits.masked_fill(key_padding_mask[:, :, None, None], float("-inf"))
            shift = masked.amax(dim=(1, 3), keepdim=True)  # per (batch, head), over real keys only
            shift = torch.where(torch.isfinite(shift), shift, torch.zeros_like(shift))  # all-padding sequence
        else:
            shift = torch.zeros((), dtype=work, device=x.device)
        return torch.exp(logits - shift.detach()) / math.sqrt(self.num_features)

    def forward(self, q, k, v, *, causal: bool = False, key_padding_mask=None):
        check_inputs("performer", q, k, v, key_padding_mask)
        q, k, v = clear_padding(key_padding_mask, q, k, v)
        phi_q = self.features(q, is_query=True, causal=causal)
        phi_k = self.features(k, key_padding_mask, is_query=False, causal=causal)
        return linear_attention(phi_q, phi_k, v, causal=causal, key_padding_mask=key_padding_mask, normalize=True,
                                eps=self.eps, chunk_size=self.chunk_size)

    def matrix(self, q, k, *, causal: bool = False, key_padding_mask=None):
        """Usage: attn.matrix(q, k) -> (B, H, T, T) row-normalised phi(Q) phi(K)^T."""
        check_matrix_inputs("performer", q, k, key_padding_mask)
        q, k = clear_padding(key_padding_mask, q, k)
        phi_q = self.features(q, is_query=True, causal=causal)
        phi_k = self.features(k, key_padding_mask, is_query=False, causal=causal)
        weights = linear_matrix(phi_q, phi_k, causal=causal, key_padding_mask=key_padding_mask, normalize=True,
                                eps=self.eps)
        return weights.to(q.dtype)

    def extra_repr(self) -> str:
        return f"head_dim={self.projection.shape[1]}, num_features={self.num_features}, seed={self.seed}"


register_module("performer", Performer, causal=True, padding=True, exact=False, flops="performer",
                description="Performer FAVOR+: positive orthogonal random features (seeded, fixed per layer)")
