"""The fast path of ``linrec``: one autograd Function with an analytic backward, working in a (B, H, T, D) layout
so every matmul is one batched GEMM without layout copies. It saves q, the key features K^ (with their norms), v
and the (D, D) states, and recomputes the query features in the backward (the official formulation keeps the ELU
outputs, their norms, the normalised features and einsum operand copies: about 5.4 inputs' worth against 3.4
here), then orders the backward so that dead buffers are reused as scratch space. K^ is kept rather than k: in a
model with its own key projection it takes the place of that projection's output, the same size, and the backward
skips one feature pass; keeping Q^ too would skip another but add a buffer to the backward's peak.

Usage:
    out = linrec_fast(q, k, v, key_padding_mask=mask)   # == linrec_attention(q, k, v, key_padding_mask=mask)

Maths (per batch b and head h; s = 1/sqrt(D); padded keys and padded queries zeroed):
    u = ELU(x), n = max(||u||_2, eps) over D, x^ = u / n           (features of q and of k)
    S = s * K^^T V  (D, D),  out = Q^ S
Backward, with g the incoming gradient:
    dQ^ = g S^T,  dS = s * Q^^T g,  dK^ = V dS^T,  dV = K^ dS
    du = (dx^ - x^ <x^, dx^>) / n where ||u|| > eps, else dx^ / eps      (through the clamped L2 norm)
    dx = du * (1 + min(u, 0)) with u = x^ n                              (ELU' is 1 above 0 and e^x = u + 1 below)
       = (dx^ - x^ <x^, dx^>) * (1/n + min(x^, 0))                       (n > 0; <x^, dx^> taken as 0 if clamped)
Padded query rows of Q^ are zeroed, so their outputs are 0 and they pass nothing to the state; the gradients of
padded positions are zeroed. The features and their backward are one fused kernel each on CPU (linrec_kernels.py).
Half precision is computed in float32 (the states are sums over T) and cast back, as linear_core does; autocast is
off inside the Function, so a mixed-precision model does not turn its products back into bfloat16.
"""
from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from .linrec_kernels import features, features_backward, heads_copy, in_float32, without_autocast


class LinRecFunction(torch.autograd.Function):
    """Usage: LinRecFunction.apply(q, k, v, key_padding_mask, eps) with float32/float64 (B, T, H, D) inputs;
    returns (B, T, H, D) (a transposed view of a (B, H, T, D) result). Saves q, K^ and its norms, v and the (D, D)
    states; the backward recomputes Q^ and orders its work so that, beside K^, at most three (B, H, T, D) buffers of
    its own live at once."""

    @staticmethod
    @without_autocast
    def forward(ctx, q, k, v, key_padding_mask, eps):
        scale = q.shape[-1] ** -0.5
        k_hat, k_norm = features(k, key_padding_mask, eps)  # (B, H, T, D)
        state = torch.matmul(k_hat.transpose(-1, -2), v.transpose(1, 2)).mul_(scale)  # (B, H, D, D), scaled
        q_hat, _ = features(q, key_padding_mask, eps)
        out = torch.matmul(q_hat, state)  # (B, H, T, D)
        ctx.save_for_backward(q, k_hat, k_norm, v, state)
        ctx.eps, ctx.scale, ctx.masked = eps, scale, key_padding_mask
        return out.transpose(1, 2)  # (B, T, H, D)

    @staticmethod
    @once_differentiable
    @without_autocast
    def backward(ctx, grad_out):
        q, k_hat, k_norm, v, state = ctx.saved_tensors
        eps, mask = ctx.eps, ctx.masked
        grad = heads_copy(grad_out)  # (B, H, T, D), our own: it becomes scratch space below
        q_hat, q_norm = features(q, mask, eps)  # padded query rows zero: they pass nothing to the state
        grad_state = torch.matmul(q_hat.transpose(-1, -2), grad).mul_(ctx.scale)  # (B, H, D, D)
        grad_q = torch.matmul(grad, state.transpose(-1, -2))  # dQ^ (B, H, T, D)
        grad_q = features_backward(q_hat, q_norm, grad_q, eps, mask, scratch=grad)  # grad is dead: reuse it
        del q_hat, grad
        v_heads = heads_copy(v)  # (B, H, T, D), our own: scratch space below
        grad_k = torch.matmul(v_heads, grad_state.transpose(-1, -2))  # dK^
        grad_k = features_backward(k_hat, k_norm, grad_k, eps, mask, scratch=v_heads)
        grad_v = torch.matmul(k_hat, grad_state, out=v_heads)  # into the scratch buffer, free again
        return grad_q, grad_k, grad_v.transpose(1, 2), None, None


def linrec_fast(q, k, v, key_padding_mask=None, eps: float = 1e-6):
    """Usage: see module docstring. Inputs are already checked; returns (B, T, H, D) in v's dtype. The causal form
    is linrec_causal_fast.py's."""
    return in_float32(LinRecFunction.apply, q, k, v, key_padding_mask, eps)
