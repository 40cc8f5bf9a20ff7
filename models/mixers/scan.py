"""The linear recurrence h_t = a_t * h_{t-1} + b_t, two ways: a sequential loop (the reference) and a chunked scan.

Usage:
    h = sequential_scan(a, b)         # a broadcastable to b; b: (B, T, *state); h: like b; h_{-1} = 0
    h = chunked_scan(a, b)            # the same numbers, about 2·sqrt(T) Python steps instead of T
    h = loop_scan(a, b)               # the same numbers: an in-place loop with its own backward (real a, b)

The chunked scan splits T into chunks of C steps. (1) Inside every chunk at once it runs the recurrence from a zero
state, keeping the running product of a (the decay from the chunk's start). (2) A loop over chunks carries each
chunk's end state into the next. (3) Each step adds its chunk's incoming state times its decay. Every factor is a
product of the a's, never a quotient, so decays in (0, 1] (real or complex, as the selective scan's exp(ΔA) and the
LRU's λ) cannot overflow. The work is O(T·state), the memory it keeps for the backward about three copies of h,
linear in T; autograd differentiates it as written. Both scans accept complex tensors.

The loop scan runs the recurrence in place, one fused multiply-add a step (torch.addcmul into the output), and
records no graph: its backward is the reverse recurrence g_t = dh_t + a_{t+1} g_{t+1}, with da_t = g_t h_{t-1} and
db_t = g_t. Where each step is large (a long batch of short windows: training at N=20 with 512 windows) it avoids
the chunked scan's extra passes over (B, T, state); where steps are tiny (one long history) it is still T Python
steps, two fused operations a step each way instead of the autograd loop's five or more.
"""
from __future__ import annotations

import math

import torch


def sequential_scan(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Usage: sequential_scan(a, b) -> h, (B, T, *state): the loop over t, the reference every fast path meets."""
    state = torch.zeros_like(b[:, 0])
    out = []
    for a_t, b_t in zip(a.expand_as(b).unbind(1), b.unbind(1)):  # unbind: one backward for all steps, not T
        state = a_t * state + b_t
        out.append(state)
    return torch.stack(out, dim=1)


def chunk_length(T: int) -> int:
    """Usage: chunk_length(4096) -> 64: the power of two nearest sqrt(T), at least 8, which balances the loop inside
    chunks against the loop over chunks."""
    return max(8, 2 ** round(math.log2(max(T, 1)) / 2))


def chunked_scan(a: torch.Tensor, b: torch.Tensor, chunk: int | None = None) -> torch.Tensor:
    """Usage: chunked_scan(a, b) -> h, equal to sequential_scan(a, b) up to rounding; ``chunk``: C (default
    chunk_length(T))."""
    a = a.expand_as(b)
    B, T = b.shape[:2]
    C = chunk or chunk_length(T)
    n = -(-T // C)
    pad = n * C - T
    if pad:  # a = 1, b = 0 past the end: the padded steps only carry the state, and are cut off below
        a = torch.cat([a, a.new_ones((B, pad) + a.shape[2:])], dim=1)
        b = torch.cat([b, b.new_zeros((B, pad) + b.shape[2:])], dim=1)
    a = a.reshape((B, n, C) + a.shape[2:])  # (B, n, C, *state)
    b = b.reshape((B, n, C) + b.shape[2:])
    local, decay = [], []
    state, product = torch.zeros_like(b[:, :, 0]), torch.ones_like(a[:, :, 0])  # (B, n, *state)
    for a_t, b_t in zip(a.unbind(2), b.unbind(2)):  # (1) inside every chunk, from a zero state
        state = a_t * state + b_t
        product = product * a_t
        local.append(state)
        decay.append(product)
    local, decay = torch.stack(local, dim=2), torch.stack(decay, dim=2)  # (B, n, C, *state)
    incoming = [torch.zeros_like(local[:, 0, 0])]  # (B, *state): the state entering chunk 0
    for decay_c, local_c in list(zip(decay[:, :, -1].unbind(1), local[:, :, -1].unbind(1)))[:-1]:  # (2)
        incoming.append(decay_c * incoming[-1] + local_c)
    incoming = torch.stack(incoming, dim=1).unsqueeze(2)  # (B, n, 1, *state)
    h = local + decay * incoming  # (3)
    return h.reshape((B, n * C) + b.shape[3:])[:, :T]


class LoopScan(torch.autograd.Function):
    """h_t = a_t h_{t-1} + b_t, in place, with the reverse recurrence as its backward (see the module docstring)."""

    @staticmethod
    def forward(ctx, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        h = torch.empty_like(b)
        h[:, :1].copy_(b[:, :1])
        for t in range(1, b.shape[1]):
            torch.addcmul(b[:, t], a[:, t], h[:, t - 1], out=h[:, t])
        ctx.save_for_backward(a, h)
        return h

    @staticmethod
    def backward(ctx, grad_h: torch.Tensor):
        a, h = ctx.saved_tensors
        g = grad_h.clone()  # (B, T, *state): becomes dL/dh_t including every later step's share
        for t in range(g.shape[1] - 2, -1, -1):
            g[:, t].addcmul_(a[:, t + 1], g[:, t + 1])
        grad_a = torch.zeros_like(a)
        grad_a[:, 1:] = g[:, 1:] * h[:, :-1]  # h_{-1} = 0: a_0 gets no gradient
        return grad_a, g


def loop_scan(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Usage: loop_scan(a, b) -> h, equal to sequential_scan(a, b); real tensors of one shape (B, T, *state)."""
    if a.is_complex() or b.is_complex():
        raise TypeError("loop_scan takes real tensors; complex recurrences use sequential_scan or chunked_scan")
    a = a.expand_as(b).contiguous()
    return LoopScan.apply(a, b.contiguous())
