"""The fast path of ``linrec_causal``: chunked causal LinRec as one autograd Function with an analytic backward.

Usage:
    out = LinRecCausalFunction.apply(q, k, v, key_padding_mask, eps, chunk_size)   # (B, T, H, D), float32/64

With Q^, K^ the LinRec features (linrec_fast.features) in a (B, H, T, D) layout cut into n chunks of C positions,
s = 1/sqrt(D), S_c = K^_c^T V_c the (D, D) state of chunk c and P_c = sum of S_c' over c' < c (exclusive):
    out_c = s * (Q^_c P_c + M_c V_c),   M_c = tril(Q^_c K^_c^T)             (inter-chunk + intra-chunk)
Backward, with G_c the incoming gradient of chunk c and A_c = tril(G_c V_c^T):
    dQ^_c = s * (G_c P_c^T + A_c K^_c)          dP_c = Q^_c^T G_c
    dS_c = s * sum of dP_c' over c' > c          (reverse exclusive prefix sum)
    dK^_c = V_c dS_c^T + s * A_c^T Q^_c         dV_c = K^_c dS_c + s * M_c^T G_c
Every product is one batched GEMM over (B * H * n) chunks, the sums ride on baddbmm, and the largest temporary
(the (C, C) blocks, B*H*T*C values) stays the size of one input when C = D, so memory grows linearly in T.
A length that is not a multiple of C is zero-padded inside the feature buffers (no extra copy).
"""
from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from .linrec_fast import features, features_backward


def _exclusive_prefix_(states: torch.Tensor, bh: int, reverse: bool = False) -> torch.Tensor:
    """Usage: before = _exclusive_prefix_(states, B * H): (B*H*n, D, D) -> in place, the sum over earlier chunks
    (over later chunks with reverse=True). A loop over chunks with a (B*H, D*D) running sum: in place it needs no
    second buffer the size of ``states``, and PyTorch's CPU cumsum along a middle dimension is several times
    slower; n = T / C stays in the hundreds."""
    n = states.shape[0] // bh
    chunks = states.view(bh, n, -1)  # (B*H, n, D*D)
    total, spare = torch.zeros_like(chunks[:, 0]), torch.empty_like(chunks[:, 0])  # (B*H, D*D)
    for i in (range(n - 1, -1, -1) if reverse else range(n)):
        torch.add(total, chunks[:, i], out=spare)  # the sum including chunk i
        chunks[:, i].copy_(total)  # chunk i gets the sum excluding it
        total, spare = spare, total
    return states


def _heads(x: torch.Tensor, length: int) -> torch.Tensor:
    """Usage: _heads(v, L) -> (B, H, L, D) contiguous copy of (B, T, H, D) ``x``, zero rows T..L-1."""
    B, T, H, D = x.shape
    if length == T:
        return x.transpose(1, 2).contiguous()
    out = x.new_zeros(B, H, length, D)
    out[:, :, :T] = x.transpose(1, 2)
    return out


class LinRecCausalFunction(torch.autograd.Function):
    """Usage: see module docstring."""

    @staticmethod
    def forward(ctx, q, k, v, key_padding_mask, eps, chunk_size):
        B, T, H, D = q.shape
        C = min(chunk_size, T)
        L = -(-T // C) * C  # T rounded up to whole chunks
        scale = D ** -0.5
        q_hat, q_norm = features(q, key_padding_mask, eps, L)  # (B, H, L, D)
        k_hat, k_norm = features(k, key_padding_mask, eps, L)
        v_heads = _heads(v, L)  # (B, H, L, D)
        qc, kc, vc = (x.view(-1, C, D) for x in (q_hat, k_hat, v_heads))  # (B*H*n, C, D)
        before = _exclusive_prefix_(torch.bmm(kc.transpose(1, 2), vc), B * H)  # (B*H*n, D, D)
        blocks = torch.bmm(qc, kc.transpose(1, 2)).tril_()  # (B*H*n, C, C), keys after the query zeroed
        out = torch.baddbmm(qc, qc, before, beta=0.0, alpha=scale)  # (B*H*n, C, D); beta=0 ignores the input
        out.baddbmm_(blocks, vc, alpha=scale)
        ctx.save_for_backward(q_hat, q_norm, k_hat, k_norm, v_heads, before, blocks)
        ctx.eps, ctx.scale, ctx.masked, ctx.shape = eps, scale, key_padding_mask, (B, T, H, D, C, L)
        return out.view(B, H, L, D)[:, :, :T].transpose(1, 2)  # (B, T, H, D)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        q_hat, q_norm, k_hat, k_norm, v_heads, before, blocks = ctx.saved_tensors
        B, T, H, D, C, L = ctx.shape
        scale = ctx.scale
        grad = _heads(grad_out, L)  # (B, H, L, D)
        qc, kc, vc, gc = (x.view(-1, C, D) for x in (q_hat, k_hat, v_heads, grad))  # (B*H*n, C, D)
        grad_state = _exclusive_prefix_(torch.bmm(qc.transpose(1, 2), gc), B * H, reverse=True)  # dS / s
        grad_blocks = torch.bmm(gc, vc.transpose(1, 2)).tril_()  # A
        grad_q = torch.baddbmm(gc, gc, before.transpose(1, 2), beta=0.0, alpha=scale)  # beta=0: input ignored
        grad_q.baddbmm_(grad_blocks, kc, alpha=scale)
        grad_k = torch.baddbmm(kc, vc, grad_state.transpose(1, 2), beta=0.0, alpha=scale)
        grad_k.baddbmm_(grad_blocks.transpose(1, 2), qc, alpha=scale)
        grad_v = torch.baddbmm(vc, kc, grad_state, beta=0.0, alpha=scale)
        grad_v.baddbmm_(blocks.transpose(1, 2), gc, alpha=scale)
        grad_q, grad_k, grad_v = (x.view(B, H, L, D)[:, :, :T] for x in (grad_q, grad_k, grad_v))
        grad_q = features_backward(q_hat[:, :, :T], q_norm, grad_q, ctx.eps)
        grad_k = features_backward(k_hat[:, :, :T], k_norm, grad_k, ctx.eps)
        if ctx.masked is not None:
            pad = ctx.masked[:, None, :, None]  # (B, 1, T, 1)
            grad_q.masked_fill_(pad, 0.0)
            grad_k.masked_fill_(pad, 0.0)
        return grad_q.transpose(1, 2), grad_k.transpose(1, 2), grad_v.transpose(1, 2), None, None, None

