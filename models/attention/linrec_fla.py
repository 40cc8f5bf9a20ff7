"""``linrec_fla``: causal LinRec whose chunked product runs in flash-linear-attention's ``chunk_linear_attn``, an
outside Triton kernel to race the suite's own (linrec_causal_triton) against.

Usage: out = get_attention("linrec_fla")(q, k, v, causal=True, key_padding_mask=mask)   # (B, T, H, D), CUDA only

LinRec's features (ELU, per-token L2 with eps, padded keys zeroed) are computed here and fed to fla with
``normalize=False`` and scale 1/sqrt(D), which is exactly causal LinRec. fla's kernel is causal only: causal=False
is refused. Optional: where fla (package ``fla-core``) is not installed, or on CPU, ``unavailable_reason`` says so.
"""
from __future__ import annotations

import importlib.util
import inspect

import torch

from .contract import AttentionUnavailable, AttentionUnsupported, check_inputs, zero_padded_queries
from .linrec import linrec_features
from .linrec_causal import linrec_causal_matrix
from .registry import register_function, unavailable_reason


def fla_availability(device_type: str) -> str | None:
    """Usage: fla_availability("cuda") -> None where fla's kernels can run, else why."""
    if importlib.util.find_spec("fla") is None:
        return "flash-linear-attention is not installed (pip install fla-core; an optional extra)"
    if device_type != "cuda":
        return f"fla's Triton kernels run on CUDA only (device={device_type})"
    return None if torch.cuda.is_available() else "fla needs CUDA, and torch sees no CUDA device"


def linrec_fla(q, k, v, *, causal: bool = False, key_padding_mask=None, eps: float = 1e-6):
    """Usage: see module docstring."""
    check_inputs("linrec_fla", q, k, v, key_padding_mask)
    reason = unavailable_reason("linrec_fla", q.device)
    if reason is not None:
        raise AttentionUnavailable(reason)
    if not causal:
        raise AttentionUnsupported("linrec_fla runs fla's causal kernel only; use linrec_triton for non-causal")
    from fla.ops.linear_attn import chunk_linear_attn

    q_hat, k_hat = linrec_features(q, k, key_padding_mask, eps=eps)  # (B, T, H, D) each
    layout = {"head_first": False} if "head_first" in inspect.signature(chunk_linear_attn).parameters else {}
    out, _ = chunk_linear_attn(q_hat, k_hat, v, scale=q.shape[-1] ** -0.5, normalize=False, **layout)
    return zero_padded_queries(out, key_padding_mask)


def _causal_matrix(q, k, *, causal: bool = False, key_padding_mask=None, eps: float = 1e-6):
    return linrec_causal_matrix(q, k, causal=causal, key_padding_mask=key_padding_mask, eps=eps)


register_function("linrec_fla", linrec_fla, _causal_matrix, causal=True, padding=True, exact=False,
                  devices=("cuda",), availability=fla_availability, flops="linear",
                  description="causal LinRec on flash-linear-attention's chunk_linear_attn (fed LinRec's features, "
                              "normalize=False, scale 1/sqrt(D)); CUDA, optional fla-core")
