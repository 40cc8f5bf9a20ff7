"""HSTU's pointwise attention (Zhai et al. ICML 2024, "Actions Speak Louder than Words"), as a token mixer.

Usage:
    mixer = build_mixer("hstu", hidden=64, heads=2, max_len=50)
    y = mixer(x, causal=True, key_padding_mask=m)        # x, y: (B, T, hidden), T <= max_len
    y = mixer(x, causal=False)                           # bidirectional (BERT4Rec): no causal mask
    weights = mixer.matrix(x, causal=True)               # (B, H, T, T), the A below

One layer of Meta's generative-recommenders ``SequentialTransductionUnitJagged`` (research/modeling/sequential/
hstu.py, the code of the paper's sequential-recommendation experiments), per head h of D = hidden / heads:
    U, V, Q, K = split(SiLU(W1 x + b1))                  # each (B, T, H·D): linear_dim = attention_dim = D
    A[i, j]    = SiLU(Q_i·K_j + rab[j - i]) / N          # pointwise: no softmax, no 1/sqrt(D) (alpha = 1 there)
    y          = W2 (LayerNorm(A V) ⊙ U) + b2            # LayerNorm over all H·D, no affine, eps 1e-6
- N is the fixed window length ``max_len``: the code divides by the padded length (its attention mask's size),
  not by the number of real items, so N is a constant and right padding changes nothing.
- rab is a learned relative position bias by signed distance j - i, one table of 2·max_len - 1 numbers shared by
  every head (the code adds it as (1, N, N) broadcast over heads), initialised N(0, 0.02) as there. It is a plain
  nn.Parameter so the backbone's init_weights keeps that initialisation.
- No timestamp bias: the paper's bucketed log-time-gap term needs timestamps and our data has only order.
- Differences from that layer, each because the block (models/backbones/blocks.py) owns it: no input LayerNorm
  (the block is post-LN, so later layers already see normalised inputs), no dropout, no residual. W1 has a bias
  as in the paper's f1 (the code's uvqk has none; init_weights zeroes it, so training starts the same).
- The causal mask (keys j <= i) and padded keys are zeroed in A after the SiLU; causal=False drops only the first.

``path="auto"`` ("blocked") forms A densely with batched matmuls, 256 queries at a time, a causal block skipping
the keys after it: O(T²) time and memory, like the reference's PyTorch path (``matrix`` builds the whole
(B, H, T, T)). ``path="naive"`` loops over query positions, one row of A at a time, as the honest reference.
Inference keeps K and V for every item: 2·d numbers per item per layer.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .common import check_divides, check_input, check_positive, clear_padding
from .registry import MixerInputError, register_mixer

LAYER_NORM_EPS = 1e-6  # the reference layer's epsilon
RAB_STD = 0.02  # the reference's N(0, 0.02) initialisation of the position bias


def relative_bias(table: torch.Tensor, T: int, max_len: int) -> torch.Tensor:
    """Usage: relative_bias(mixer.rab, T, max_len) -> (T, T) with [i, j] = table[max_len - 1 + j - i]: the bias
    between query i and key j depends only on j - i (the reference's pad-repeat-reshape trick gives the same)."""
    positions = torch.arange(T, device=table.device)
    return table[max_len - 1 + positions[None, :] - positions[:, None]]  # (T, T)


def dense_weights(q: torch.Tensor, k: torch.Tensor, bias: torch.Tensor, n: int, causal: bool,
                  key_padding_mask: torch.Tensor | None) -> torch.Tensor:
    """Usage: dense_weights(q, k, bias, N, causal, mask) -> A (B, H, T, T); q, k (B, T, H, D), bias (T, T)."""
    scores = torch.einsum("bihd,bjhd->bhij", q, k) + bias  # (B, H, T, T)
    weights = F.silu(scores) / n
    T = q.shape[1]
    drop = torch.zeros(1, 1, T, T, dtype=torch.bool, device=q.device)
    if causal:
        drop = drop | torch.ones(T, T, dtype=torch.bool, device=q.device).triu(1)  # keys after the query
    if key_padding_mask is not None:
        drop = drop | key_padding_mask[:, None, None, :]  # (B, 1, 1, T): padded keys
    return weights.masked_fill(drop, 0)


QUERY_BLOCK = 256  # queries per block: fastest of 128..1024 forward + backward at T = 4096 on 2 CPU cores


def blocked_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, table: torch.Tensor, max_len: int,
                      causal: bool, key_padding_mask: torch.Tensor | None, block: int = QUERY_BLOCK) -> torch.Tensor:
    """Usage: blocked_attention(q, k, v, rab, max_len, causal, mask) -> A V (B, T, H, D): the dense form one block
    of queries at a time. A causal block [s, e) reads keys [0, e) only, so about half of (B, H, T, T) is never
    formed, and each (B, H, block, e) piece stays in cache (4x faster than one (B, H, T, T) at T = 4096)."""
    T = q.shape[1]
    positions = torch.arange(T, device=q.device)
    v = v / max_len  # the 1/N of A, applied to (B, T, H, D) instead of (B, H, T, T)
    out = []
    for start in range(0, T, block):
        end = min(start + block, T)
        keys = end if causal else T
        rows, cols = positions[start:end, None], positions[None, :keys]  # (C, 1), (1, keys)
        scores = torch.einsum("bihd,bjhd->bhij", q[:, start:end], k[:, :keys]) + table[max_len - 1 + cols - rows]
        drop = (cols > rows) if causal else torch.zeros_like(cols, dtype=torch.bool)  # (C or 1, keys)
        if key_padding_mask is not None:
            drop = drop | key_padding_mask[:, None, None, :keys]  # (B, 1, C or 1, keys)
        weights = F.silu(scores).masked_fill(drop, 0)  # (B, H, C, keys), A without its 1/N
        out.append(torch.einsum("bhij,bjhd->bihd", weights, v[:, :keys]))  # (B, C, H, D)
    return torch.cat(out, dim=1)  # (B, T, H, D)


def naive_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, table: torch.Tensor, max_len: int,
                    causal: bool, key_padding_mask: torch.Tensor | None) -> torch.Tensor:
    """Usage: naive_attention(q, k, v, rab, max_len, causal, mask) -> A V (B, T, H, D), one query at a time:
    out_t = sum_j SiLU(q_t·k_j + rab[j - t]) / N · v_j over the keys j it may see."""
    T = q.shape[1]
    keep = None if key_padding_mask is None else (~key_padding_mask).to(q.dtype)  # (B, T)
    out = []
    for t, q_t in enumerate(q.unbind(1)):  # q_t (B, H, D)
        end = t + 1 if causal else T
        start = max_len - 1 - t  # table index of key 0 for this query
        scores = torch.einsum("bhd,bjhd->bhj", q_t, k[:, :end]) + table[start:start + end]  # (B, H, end)
        weights = F.silu(scores) / max_len
        if keep is not None:
            weights = weights * keep[:, None, :end]
        out.append(torch.einsum("bhj,bjhd->bhd", weights, v[:, :end]))  # (B, H, D)
    return torch.stack(out, dim=1)  # (B, T, H, D)


class HSTUMixer(nn.Module):
    """Usage: HSTUMixer(hidden=64, heads=2, max_len=50)(x, causal=True). ``path``: "auto" (blocked) or "naive"."""

    def __init__(self, hidden: int, max_len: int, heads: int = 2, path: str = "auto"):
        super().__init__()
        check_positive("hstu", "hidden", hidden)
        check_positive("hstu", "heads", heads)
        check_positive("hstu", "max_len", max_len)
        check_divides("hstu", "hidden", hidden, heads, "heads")
        if path not in ("auto", "naive"):
            raise MixerInputError(f"hstu: path must be 'auto' or 'naive', got {path!r}")
        self.hidden, self.heads, self.max_len, self.path = hidden, heads, max_len, path
        self.head_dim = hidden // heads
        self.in_proj = nn.Linear(hidden, 4 * hidden)  # f1: U, V, Q, K, each H·D = hidden
        self.out_proj = nn.Linear(hidden, hidden)  # f2 (the reference's o)
        self.rab = nn.Parameter(torch.empty(2 * max_len - 1).normal_(0, RAB_STD))  # distances -(N-1)..N-1

    def kernel_path(self, device="cpu") -> str:
        """Usage: mixer.kernel_path("cuda") -> "blocked" | "naive": what runs there (the same on every device)."""
        return "naive" if self.path == "naive" else "blocked"

    def _check(self, x: torch.Tensor, key_padding_mask) -> None:
        check_input("hstu", x, self.hidden, key_padding_mask)
        if x.shape[1] > self.max_len:
            raise MixerInputError(f"hstu: the window has T={x.shape[1]} items, more than max_len={self.max_len} "
                                  f"(the relative position bias covers distances below max_len only)")

    def projections(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Usage: u, v, q, k = mixer.projections(x): SiLU(W1 x + b1) split in four; u (B, T, hidden), the others
        (B, T, H, D). Padded rows are not cleared here (SiLU(b1) need not be 0): the weights drop padded keys."""
        B, T, _ = x.shape
        u, v, q, k = F.silu(self.in_proj(x)).chunk(4, dim=-1)  # each (B, T, hidden)
        heads = (B, T, self.heads, self.head_dim)
        return u, v.reshape(heads), q.reshape(heads), k.reshape(heads)

    def matrix(self, x: torch.Tensor, causal: bool = True, key_padding_mask=None) -> torch.Tensor:
        """Usage: mixer.matrix(x, causal=True, key_padding_mask=m) -> A (B, H, T, T), the weights applied to V
        (padded keys are 0 columns, padded queries 0 rows)."""
        self._check(x, key_padding_mask)
        x = clear_padding(x, key_padding_mask)
        _, _, q, k = self.projections(x)
        weights = dense_weights(q, k, relative_bias(self.rab, x.shape[1], self.max_len), self.max_len, causal,
                                key_padding_mask)
        if key_padding_mask is not None:
            weights = weights.masked_fill(key_padding_mask[:, None, :, None], 0)  # padded queries
        return weights

    def attend(self, v: torch.Tensor, q: torch.Tensor, k: torch.Tensor, causal: bool,
               key_padding_mask) -> torch.Tensor:
        """Usage: mixer.attend(v, q, k, causal, mask) -> A V (B, T, hidden), before the LayerNorm; by self.path."""
        B, T = q.shape[:2]
        if self.path == "naive":
            out = naive_attention(q, k, v, self.rab, self.max_len, causal, key_padding_mask)
        else:
            out = blocked_attention(q, k, v, self.rab, self.max_len, causal, key_padding_mask)
        return out.reshape(B, T, self.hidden)

    def forward(self, x: torch.Tensor, *, causal: bool = True, key_padding_mask=None) -> torch.Tensor:
        self._check(x, key_padding_mask)
        x = clear_padding(x, key_padding_mask)
        u, v, q, k = self.projections(x)
        mixed = self.attend(v, q, k, causal, key_padding_mask)  # (B, T, hidden)
        gated = F.layer_norm(mixed, (self.hidden,), eps=LAYER_NORM_EPS) * u
        return clear_padding(self.out_proj(gated), key_padding_mask)


register_mixer("hstu", HSTUMixer, family="pointwise attention", causal=True, bidirectional=True,
               state="grows: 2·d per item (keys, values)", matrix=True, paths=("naive",), paper_block=None,
               description="HSTU's pointwise SiLU attention with a relative position bias, gated by U "
                           "(generative-recommenders)")
