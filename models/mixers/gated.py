"""Gated linear attention, the maths GLA and RetNet share: a per-step loop (the reference) and a chunked form.

Usage:
    o = recurrent_gated(q, k, v, log_gate, scale)          # the loop over t (path="naive")
    o = chunked_gated(q, k, v, log_gate, scale, chunk=32)  # the same numbers in chunks (path="auto")
    A = gated_matrix(q, k, log_gate, scale)                # (B, H, T, T): o = A @ v
    class GLAMixer(GatedMixer): ...                        # forward, matrix and paths; the subclass gives heads_of
    q, k, v: (B, T, H, Dk | Dv); log_gate: (B, T, H, Dk) per key dim (GLA) or (B, T, H, 1) per head (RetNet)

Per head the state S (Dk x Dv) follows S_t = diag(α_t) S_{t-1} + k_t v_tᵀ with α_t = exp(log_gate_t) in (0, 1],
and o_t = scale · q_tᵀ S_t. Unrolled: o_t = scale · Σ_{s<=t} (Σ_d q_td k_sd exp(b_td - b_sd)) v_s with b the
cumulative sum of the log-gates. The chunked form splits T into chunks of C and takes b from each chunk's start,
so every exponent it forms is <= 0 (no exp of a large positive number, whatever the gates): inside a chunk the
(C x C) weights above, with the pairs s > t masked to -inf before the exp; across chunks the state carried by a
scan over chunks (scan.chunked_scan), entering chunk c as S_in and reaching its queries as (q_t ⊙ exp(b_t))ᵀ S_in.
Memory is linear in T: the weights take B·H·T·C·G numbers (G = Dk for GLA, 1 for RetNet), the states B·H·(T/C)·Dk·Dv.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .common import check_causal_call, check_divides, check_input, clear_padding
from .registry import MixerInputError
from .scan import chunked_scan


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """Usage: compute_dtype(torch.bfloat16) -> torch.float32: the dtype the decays and the state are kept in."""
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


def check_expand(name: str, label: str, value, hidden: int, heads: int) -> int:
    """Usage: check_expand("gla", "expand_k", 0.5, 64, 2) -> 32: hidden·value, a positive integer divisible by
    heads, else one line naming the option."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise MixerInputError(f"{name}: {label} must be a positive number, got {value!r}")
    dim = hidden * value
    if not math.isclose(dim, round(dim)) or round(dim) < 1:
        raise MixerInputError(f"{name}: {label}={value!r} gives hidden·{label} = {dim:g}, not a positive integer")
    check_divides(name, f"hidden·{label}", round(dim), heads, "heads")
    return round(dim)


def recurrent_gated(q, k, v, log_gate, scale: float) -> torch.Tensor:
    """Usage: recurrent_gated(q, k, v, log_gate, scale) -> o (B, T, H, Dv): the state loop, one step per item."""
    B, T, H, Dk = q.shape
    state = q.new_zeros(B, H, Dk, v.shape[-1])  # (B, H, Dk, Dv)
    alphas = log_gate.exp().expand(B, T, H, Dk)
    out = []
    for q_t, k_t, v_t, a_t in zip(q.unbind(1), k.unbind(1), v.unbind(1), alphas.unbind(1)):  # each (B, H, D)
        state = a_t.unsqueeze(-1) * state + k_t.unsqueeze(-1) * v_t.unsqueeze(-2)
        out.append(scale * (q_t.unsqueeze(-2) @ state).squeeze(-2))  # (B, H, Dv)
    return torch.stack(out, dim=1)


def pair_weights(q: torch.Tensor, k: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Usage: pair_weights(q, k, b) -> W (..., C, C), W[t, s] = Σ_d q_td k_sd exp(b_td - b_sd) for s <= t, else 0.
    q, k: (..., C, Dk); b: (..., C, G) cumulative log-gates, G = Dk or 1. Exponents are masked before the exp."""
    C = q.shape[-2]
    future = torch.ones(C, C, dtype=torch.bool, device=q.device).triu(1)  # s > t
    if b.shape[-1] == 1:  # one decay per head: a plain matmul times the (C x C) decays
        decay = (b - b.transpose(-1, -2)).masked_fill(future, -math.inf).exp()  # (..., C, C)
        return (q @ k.transpose(-1, -2)) * decay
    diff = b.unsqueeze(-2) - b.unsqueeze(-3)  # (..., C, C, Dk): b_t - b_s
    decay = diff.masked_fill(future.unsqueeze(-1), -math.inf).exp()
    return torch.einsum("...td,...tsd->...ts", q, decay * k.unsqueeze(-3))  # (..., C, C), a batched matmul


def to_chunks(x: torch.Tensor, C: int) -> torch.Tensor:
    """Usage: to_chunks(x, C) -> (B, H, n, C, D) from x (B, T, H, D), zero-padded to n·C steps (a zero log-gate
    and zero keys there: the padded steps only carry the state, and are cut off afterwards)."""
    B, T, H, D = x.shape
    n = -(-T // C)
    x = torch.cat([x, x.new_zeros(B, n * C - T, H, D)], dim=1)
    return x.view(B, n, C, H, D).permute(0, 3, 1, 2, 4)  # (B, H, n, C, D)


def chunked_gated(q, k, v, log_gate, scale: float, chunk: int = 32) -> torch.Tensor:
    """Usage: chunked_gated(q, k, v, log_gate, scale, chunk) -> o (B, T, H, Dv), equal to recurrent_gated."""
    B, T, H, _ = q.shape
    q, k, v = (to_chunks(t, chunk) for t in (q, k, v))  # (B, H, n, C, D)
    b = to_chunks(log_gate.expand(B, T, H, log_gate.shape[-1]), chunk).cumsum(3)  # (B, H, n, C, G), from chunk start
    intra = pair_weights(q, k, b) @ v  # (B, H, n, C, Dv)
    last = b[..., -1:, :]  # (B, H, n, 1, G): the decay over the whole chunk
    local = (k * (last - b).exp()).transpose(-1, -2) @ v  # (B, H, n, Dk, Dv): the chunk's own end state
    ends = chunked_scan(last.exp().transpose(-1, -2).transpose(1, 2), local.transpose(1, 2))  # (B, n, H, Dk, Dv)
    incoming = torch.cat([torch.zeros_like(ends[:, :1]), ends[:, :-1]], dim=1).transpose(1, 2)  # (B, H, n, Dk, Dv)
    inter = (q * b.exp()) @ incoming  # (B, H, n, C, Dv)
    o = scale * (intra + inter)
    return o.permute(0, 2, 3, 1, 4).reshape(B, -1, H, v.shape[-1])[:, :T]  # (B, T, H, Dv)


def gated_matrix(q, k, log_gate, scale: float) -> torch.Tensor:
    """Usage: gated_matrix(q, k, log_gate, scale) -> A (B, H, T, T) with o = A @ v (per head): one chunk of T."""
    B, T, H, _ = q.shape
    b = log_gate.expand(B, T, H, log_gate.shape[-1]).cumsum(1).transpose(1, 2)  # (B, H, T, G)
    return scale * pair_weights(q.transpose(1, 2), k.transpose(1, 2), b)


class GatedRMSNorm(nn.Module):
    """Usage: GatedRMSNorm(Dv, eps)(o, g) -> (B, T, H·Dv): RMSNorm over each head's Dv (one learnable weight shared
    by the heads, as fla's FusedRMSNormGated), times SiLU(g); computed in o's dtype, returned in g's."""

    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))  # a plain Parameter: the backbone's init leaves it at 1

    def forward(self, o: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        normed = o * torch.rsqrt(o.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight.to(o.dtype)
        gate = nn.functional.silu(g.to(o.dtype)).view(o.shape)  # (B, T, H, Dv)
        return (normed * gate).flatten(2).to(g.dtype)  # (B, T, H·Dv)


class GatedMixer(nn.Module):
    """Usage: subclass with ``name`` and ``heads_of(x) -> q, k, v, log_gate`` (and q/k/v/g/o projections, ``norm``,
    ``scale``, ``chunk``, ``path``, ``hidden``): the forward, the matrix and the paths GLA and RetNet share."""

    name = "gated"

    def kernel_path(self, device="cpu") -> str:
        """Usage: mixer.kernel_path("cuda") -> "chunked" | "naive": what runs there (the same on every device)."""
        return "naive" if self.path == "naive" else "chunked"

    def mix(self, q, k, v, log_gate) -> torch.Tensor:
        """Usage: o = mixer.mix(q, k, v, log_gate) -> (B, T, H, Dv): the recurrence, by ``self.path``."""
        if self.path == "naive":
            return recurrent_gated(q, k, v, log_gate, self.scale)
        return chunked_gated(q, k, v, log_gate, self.scale, self.chunk)

    def checked(self, x: torch.Tensor, causal: bool, key_padding_mask) -> torch.Tensor:
        """Usage: x = mixer.checked(x, causal, m): one-line errors for bad input, then padded rows cleared."""
        check_input(self.name, x, self.hidden, key_padding_mask)
        check_causal_call(self.name, causal)
        return clear_padding(x, key_padding_mask)

    def forward(self, x: torch.Tensor, *, causal: bool = True, key_padding_mask=None) -> torch.Tensor:
        x = self.checked(x, causal, key_padding_mask)
        o = self.mix(*self.heads_of(x))  # (B, T, H, Dv)
        y = self.o_proj(self.norm(o, self.g_proj(x)))  # (B, T, hidden)
        return clear_padding(y, key_padding_mask)

    def matrix(self, x: torch.Tensor, causal: bool = True, key_padding_mask=None) -> torch.Tensor:
        """Usage: mixer.matrix(x, causal=True, key_padding_mask=m) -> A (B, H, T, T) with o = A @ v per head (the
        decayed, scaled q·k weights before the norm); padded queries are 0 rows, padded keys 0 columns."""
        x = self.checked(x, causal, key_padding_mask)
        q, k, _, log_gate = self.heads_of(x)
        weights = gated_matrix(q, k, log_gate, self.scale)
        if key_padding_mask is not None:
            weights = weights.masked_fill(key_padding_mask[:, None, :, None] | key_padding_mask[:, None, None], 0)
        return weights
