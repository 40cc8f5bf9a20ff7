"""Triton kernels of LinRec: features, D x D state and output fused, with analytic backward passes.

Usage (through linrec_triton.py, which launches them; importing this module imports triton):
    linrec_forward[(B * H,)](q, k, v, mask, out, T, H, D, *strides, eps, scale, ...)

One program per (batch, head) walks the sequence in BLOCKS blocks of BLOCK_T positions (a compile-time count:
Triton's interpreter cannot loop to a runtime bound under NumPy 2.4), keeps the D x D state in fp32 on
chip, and never writes the features to memory: the backward recomputes them. Inputs of any float dtype are read
and accumulated in fp32; DOT_MODE feeds the matrix units bf16 operands (fp32 accumulation) for bf16 inputs, fp32
inputs use full fp32 dots. Padded positions (mask) and the tail of the last block load as 0, so their features are
0: a padded key adds nothing, a padded query gives 0, and their gradients are 0.

Maths per (b, h), x^ = ELU(x) / max(||ELU(x)||, eps) per token, s = 1/sqrt(D):
    non-causal  out_t = s q^_t S,         S = sum_t k^_t^T v_t
    causal      out_t = s q^_t S_t,       S_t = sum_{u <= t} k^_u^T v_u  (a block's own part by a masked product)
    backward    dq^_t = s dO_t S_t^T;  dk^_u = v_u R_u^T;  dv_u = k^_u R_u,  R_u = s sum_{t >= u} q^_t^T dO_t
"""
from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def _features(x, eps):
    """ELU, then L2-normalised per row: (x^, the row norms before the clamp)."""
    u = tl.where(x > 0, x, tl.exp(x) - 1.0)
    norm = tl.sqrt(tl.sum(u * u, axis=1))
    return u / tl.maximum(norm, eps)[:, None], norm


@triton.jit
def _features_backward(x, x_hat, norm, d_hat, eps):
    """dx from dx^ through the L2 normalisation (a clamped norm passes d_hat / eps) and the ELU."""
    along = tl.sum(x_hat * d_hat, axis=1)
    du = tl.where((norm > eps)[:, None], d_hat - x_hat * along[:, None], d_hat) / tl.maximum(norm, eps)[:, None]
    return du * tl.where(x > 0, 1.0, tl.exp(x))


FP32_DOT, BF16_DOT, BF16_ROUNDED_DOT = 0, 1, 2  # DOT_MODE: how the matrix products take their operands


@triton.jit
def _dot(a, b, DOT_MODE: tl.constexpr):
    """a @ b with fp32 accumulation: full fp32 operands (FP32_DOT), bf16 operands on the matrix units (BF16_DOT),
    or operands rounded to bf16 and multiplied in fp32 (BF16_ROUNDED_DOT: the same numbers, for the interpreter,
    whose bf16 dot is wrong)."""
    if DOT_MODE == 1:
        return tl.dot(a.to(tl.bfloat16), b.to(tl.bfloat16))
    if DOT_MODE == 2:
        return tl.dot(a.to(tl.bfloat16).to(tl.float32), b.to(tl.bfloat16).to(tl.float32), input_precision="ieee")
    return tl.dot(a, b, input_precision="ieee")


@triton.jit
def _block(X, MASK, b, t0, T, D, base, stride_t, HAS_MASK: tl.constexpr, BLOCK_T: tl.constexpr,
           BLOCK_D: tl.constexpr):
    """Pointers and validity of the block starting at t0: (offsets (BLOCK_T, BLOCK_D), load mask, valid rows)."""
    t = t0 + tl.arange(0, BLOCK_T)
    valid = t < T
    if HAS_MASK:
        valid = valid & (tl.load(MASK + b * T + t, mask=t < T, other=1) == 0)
    d = tl.arange(0, BLOCK_D)
    offsets = base + t[:, None] * stride_t + d[None, :]
    return offsets, valid[:, None] & (d < D)[None, :], valid


@triton.jit
def linrec_forward(Q, K, V, MASK, OUT, T, H, D, stride_b, stride_t, stride_h, eps, scale,
                   CAUSAL: tl.constexpr, HAS_MASK: tl.constexpr, DOT_MODE: tl.constexpr, BLOCK_T: tl.constexpr,
                   BLOCK_D: tl.constexpr, BLOCKS: tl.constexpr):
    pid = tl.program_id(0)
    b, h = pid // H, pid % H
    base = b * stride_b + h * stride_h
    state = tl.zeros((BLOCK_D, BLOCK_D), dtype=tl.float32)
    if not CAUSAL:  # the whole state first, then every output from it
        for block in range(BLOCKS):
            t0 = tl.cast(block, tl.int32) * BLOCK_T
            offsets, load, _ = _block(K, MASK, b, t0, T, D, base, stride_t, HAS_MASK, BLOCK_T, BLOCK_D)
            k_hat, _ = _features(tl.load(K + offsets, mask=load, other=0.0).to(tl.float32), eps)
            v = tl.load(V + offsets, mask=load, other=0.0).to(tl.float32)
            state += _dot(tl.trans(k_hat), v, DOT_MODE)
    rows = tl.arange(0, BLOCK_T)
    for block in range(BLOCKS):
        t0 = tl.cast(block, tl.int32) * BLOCK_T
        offsets, load, _ = _block(Q, MASK, b, t0, T, D, base, stride_t, HAS_MASK, BLOCK_T, BLOCK_D)
        q_hat, _ = _features(tl.load(Q + offsets, mask=load, other=0.0).to(tl.float32), eps)
        out = _dot(q_hat, state, DOT_MODE)  # (BLOCK_T, BLOCK_D): earlier blocks (causal) or all of them
        if CAUSAL:
            k_hat, _ = _features(tl.load(K + offsets, mask=load, other=0.0).to(tl.float32), eps)
            v = tl.load(V + offsets, mask=load, other=0.0).to(tl.float32)
            scores = _dot(q_hat, tl.trans(k_hat), DOT_MODE)  # (BLOCK_T, BLOCK_T)
            scores = tl.where(rows[:, None] >= rows[None, :], scores, 0.0)
            out += _dot(scores, v, DOT_MODE)
            state += _dot(tl.trans(k_hat), v, DOT_MODE)
        in_range = ((t0 + rows) < T)[:, None] & (tl.arange(0, BLOCK_D) < D)[None, :]
        tl.store(OUT + offsets, (out * scale).to(OUT.dtype.element_ty), mask=in_range)


@triton.jit
def linrec_backward(Q, K, V, MASK, DOUT, DQ, DK, DV, T, H, D, stride_b, stride_t, stride_h, eps, scale,
                    CAUSAL: tl.constexpr, HAS_MASK: tl.constexpr, DOT_MODE: tl.constexpr, BLOCK_T: tl.constexpr,
                    BLOCK_D: tl.constexpr, BLOCKS: tl.constexpr):
    pid = tl.program_id(0)
    b, h = pid // H, pid % H
    base = b * stride_b + h * stride_h
    rows = tl.arange(0, BLOCK_T)
    lower = rows[:, None] >= rows[None, :]  # (query, key) pairs of one block a causal query sees
    state = tl.zeros((BLOCK_D, BLOCK_D), dtype=tl.float32)  # S (non-causal: all of it first)
    later = tl.zeros((BLOCK_D, BLOCK_D), dtype=tl.float32)  # R / s (non-causal: all of it first)
    if not CAUSAL:
        for block in range(BLOCKS):
            t0 = tl.cast(block, tl.int32) * BLOCK_T
            offsets, load, _ = _block(K, MASK, b, t0, T, D, base, stride_t, HAS_MASK, BLOCK_T, BLOCK_D)
            k_hat, _ = _features(tl.load(K + offsets, mask=load, other=0.0).to(tl.float32), eps)
            q_hat, _ = _features(tl.load(Q + offsets, mask=load, other=0.0).to(tl.float32), eps)
            v = tl.load(V + offsets, mask=load, other=0.0).to(tl.float32)
            d_out = tl.load(DOUT + offsets, mask=load, other=0.0).to(tl.float32)
            state += _dot(tl.trans(k_hat), v, DOT_MODE)
            later += _dot(tl.trans(q_hat), d_out, DOT_MODE)
    # dq^ in sequence order (the causal state grows); then dk^, dv backwards (the causal R grows from the end)
    for block in range(BLOCKS):
        t0 = tl.cast(block, tl.int32) * BLOCK_T
        offsets, load, valid = _block(Q, MASK, b, t0, T, D, base, stride_t, HAS_MASK, BLOCK_T, BLOCK_D)
        q = tl.load(Q + offsets, mask=load, other=0.0).to(tl.float32)
        q_hat, q_norm = _features(q, eps)
        d_out = tl.load(DOUT + offsets, mask=load, other=0.0).to(tl.float32)
        dq_hat = _dot(d_out, tl.trans(state), DOT_MODE)
        if CAUSAL:
            k_hat, _ = _features(tl.load(K + offsets, mask=load, other=0.0).to(tl.float32), eps)
            v = tl.load(V + offsets, mask=load, other=0.0).to(tl.float32)
            dots = tl.where(lower, _dot(d_out, tl.trans(v), DOT_MODE), 0.0)  # (query t, key u): dO_t . v_u
            dq_hat += _dot(dots, k_hat, DOT_MODE)
            state += _dot(tl.trans(k_hat), v, DOT_MODE)
        dq = tl.where(valid[:, None], _features_backward(q, q_hat, q_norm, dq_hat * scale, eps), 0.0)
        in_range = ((t0 + rows) < T)[:, None] & (tl.arange(0, BLOCK_D) < D)[None, :]
        tl.store(DQ + offsets, dq.to(DQ.dtype.element_ty), mask=in_range)
    for step in range(BLOCKS):
        t0 = (BLOCKS - 1 - tl.cast(step, tl.int32)) * BLOCK_T
        offsets, load, valid = _block(K, MASK, b, t0, T, D, base, stride_t, HAS_MASK, BLOCK_T, BLOCK_D)
        k = tl.load(K + offsets, mask=load, other=0.0).to(tl.float32)
        k_hat, k_norm = _features(k, eps)
        v = tl.load(V + offsets, mask=load, other=0.0).to(tl.float32)
        dk_hat = _dot(v, tl.trans(later), DOT_MODE)
        dv = _dot(k_hat, later, DOT_MODE)
        if CAUSAL:
            q_hat, _ = _features(tl.load(Q + offsets, mask=load, other=0.0).to(tl.float32), eps)
            d_out = tl.load(DOUT + offsets, mask=load, other=0.0).to(tl.float32)
            dots = tl.where(lower, _dot(d_out, tl.trans(v), DOT_MODE), 0.0)  # (t, u)
            scores = tl.where(lower, _dot(q_hat, tl.trans(k_hat), DOT_MODE), 0.0)  # (t, u)
            dk_hat += _dot(tl.trans(dots), q_hat, DOT_MODE)
            dv += _dot(tl.trans(scores), d_out, DOT_MODE)
            later += _dot(tl.trans(q_hat), d_out, DOT_MODE)
        dk = tl.where(valid[:, None], _features_backward(k, k_hat, k_norm, dk_hat * scale, eps), 0.0)
        in_range = ((t0 + rows) < T)[:, None] & (tl.arange(0, BLOCK_D) < D)[None, :]
        tl.store(DK + offsets, dk.to(DK.dtype.element_ty), mask=in_range)
        tl.store(DV + offsets, (dv * scale).to(DV.dtype.element_ty), mask=in_range)


def block_sizes(T: int, D: int) -> dict:
    """Usage: block_sizes(T, D) -> {"BLOCK_T", "BLOCK_D", "BLOCKS"}: powers of two, at least 16 (the matrix units'
    minimum), and the number of position blocks."""
    block_d = max(16, triton.next_power_of_2(D))
    block_t = max(16, min(64 if block_d <= 64 else 32, triton.next_power_of_2(T)))
    return {"BLOCK_T": block_t, "BLOCK_D": block_d, "BLOCKS": triton.cdiv(T, block_t)}
