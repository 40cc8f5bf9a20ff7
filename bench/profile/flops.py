"""FLOPs and minimal bytes of one attention layer: the work a roofline floor is computed from.

Usage:
    attention_flops("dot", "fwd", B=64, T=512, H=8, D=16, causal=True)
    attention_flops("performer", "fwdbwd", 64, 1024, 8, 16, options={"num_features": 64})
    attention_min_bytes("linrec", "fwdbwd", B=64, T=512, H=8, D=16, dtype="bfloat16")
    cell_counts(cell) -> {"flops": ..., "min_bytes": ...}   # what a profiling row records beside its time

Counting: a matmul of (m x k) by (k x n) is 2mkn FLOPs. Each variant's spec names its formula (``flops``):
softmax (the default of every variant the registry calls exact) forward 4·B·H·T²·D (causal: half, the useful
work); linear (a D-dimensional feature map and a D x D state: LinRec and its ablations, linear_elu, efficient)
4·B·H·T·D²; cosformer, performer and linformer by their own formulas below. A non-exact variant that names none (a
plug-in's) has unknown FLOPs: None, so no roofline floor is drawn for it. Minimal bytes: the forward reads q, k, v and writes out, 4·B·H·T·D·s; fwd+bwd also reads q, k, v,
out, dout and writes dq, dk, dv, 12·B·H·T·D·s in all. Defaults (performer's feature count, linformer's projection)
are the registered variants' own.
"""
from __future__ import annotations

import functools
import inspect

from models.attention import get_spec
from models.attention.linformer import Linformer
from models.attention.performer import Performer

DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}
# fwd+bwd as a multiple of fwd: backward is 2x forward for matmuls; fused softmax kernels also recompute the scores
# in backward (FlashAttention-2 counts backward as 2.5x forward).
MODE_FACTOR = {"fwd": 1.0, "infer": 1.0, "fwdbwd": 3.0}
SOFTMAX_FWDBWD = 3.5


def check_dtype(dtype: str) -> str:
    """Usage: check_dtype("torch.bfloat16") -> "bfloat16"; an unknown dtype is a one-line ValueError."""
    name = str(dtype).removeprefix("torch.")
    if name not in DTYPE_BYTES:
        raise ValueError(f"unknown dtype {dtype!r}: expected one of {', '.join(DTYPE_BYTES)}")
    return name


def family(variant: str) -> str | None:
    """Usage: family("sdpa_flash") -> "softmax": the FLOP formula its spec names (an unknown name raises, listing
    the valid ones); an exact variant that names none counts as softmax, any other as None: unknown FLOPs."""
    spec = get_spec(variant)
    return spec.flops or ("softmax" if spec.exact else None)


@functools.lru_cache(maxsize=None)
def _performer_features(D: int) -> int:
    """What Performer(head_dim=D) picks when num_features is not given."""
    return Performer(head_dim=D).num_features


@functools.lru_cache(maxsize=None)
def _linformer_proj_dim() -> int:
    return inspect.signature(Linformer.__init__).parameters["proj_dim"].default


def _forward_flops(kind: str, B: int, T: int, H: int, D: int, causal: bool, options: dict) -> float:
    if kind == "softmax":  # QK^T and PV, each 2·T·T·D per head; causal does half of that usefully
        return 4.0 * B * H * T * T * D / (2 if causal else 1)
    if kind == "linear":  # K^T V (D x D state) and Q · state, each 2·T·D·D per head
        return 4.0 * B * H * T * D * D
    if kind == "cosformer":  # cos and sin features: feature dim 2D, twice the linear cost
        return 8.0 * B * H * T * D * D
    if kind == "performer":  # m features: attention 4·T·m·D, plus projecting q and k, 2·T·D·m each
        m = options.get("num_features") or _performer_features(D)
        return 8.0 * B * H * T * m * D
    k = options.get("proj_dim") or _linformer_proj_dim()  # linformer projects the length axis to k
    return 8.0 * B * H * k * T * D  # attention 4·k·T·D plus projecting K and V, 2·k·T·D each


def _mode_factor(kind: str, mode: str) -> float:
    if mode not in MODE_FACTOR:
        raise ValueError(f"unknown mode {mode!r}: expected one of {', '.join(MODE_FACTOR)}")
    return SOFTMAX_FWDBWD if (kind, mode) == ("softmax", "fwdbwd") else MODE_FACTOR[mode]


def attention_flops(variant: str, mode: str, B: int, T: int, H: int, D: int, causal: bool = False,
                    options: dict | None = None) -> float | None:
    """Usage: attention_flops("performer", "fwdbwd", 64, 1024, 8, 16, options={"num_features": 64}) -> FLOPs;
    None where its spec names no formula (a plug-in's, say): unknown, never guessed."""
    kind = family(variant)
    if kind is None:
        _mode_factor("linear", mode)  # the mode is checked all the same
        return None
    return _forward_flops(kind, B, T, H, D, bool(causal), options or {}) * _mode_factor(kind, mode)


def attention_min_bytes(variant: str, mode: str, B: int, T: int, H: int, D: int, dtype: str,
                        options: dict | None = None) -> float:
    """Usage: attention_min_bytes("dot", "fwd", 64, 1024, 8, 16, "bfloat16") -> bytes that must cross memory.
    The same for every variant (inputs and outputs only); the variant is checked so unknown names fail alike."""
    _mode_factor(family(variant) or "linear", mode)  # validates both names
    tensors = 12 if mode == "fwdbwd" else 4
    return float(tensors * B * H * T * D * DTYPE_BYTES[check_dtype(dtype)])


def cell_counts(cell) -> dict:
    """Usage: cell_counts(cell) -> {"flops", "min_bytes"} of an attention-level profiling cell, {} at model level
    (the floor is per attention layer; a whole model adds embeddings, feed-forwards and the loss)."""
    if cell.level != "attention":
        return {}
    shape = (cell.B, cell.T, cell.H, cell.D)
    return {"flops": attention_flops(cell.variant, cell.mode, *shape, cell.causal),
            "min_bytes": attention_min_bytes(cell.variant, cell.mode, *shape, cell.dtype)}
