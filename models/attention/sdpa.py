"""``sdpa`` and forced-backend siblings: torch.nn.functional.scaled_dot_product_attention.

Usage:
    out = sdpa_attention(q, k, v, causal=True)        # (B, T, H, D) in and out
    last_backend()                                    # e.g. "FLASH_ATTENTION": the backend the dispatcher chose

The backend is read from torch's own dispatcher choice (``torch._fused_sdp_choice``) for the exact inputs of the
call, inside the same ``sdpa_kernel`` context, so it names the kernel that ran (a test checks it with the profiler).
"""
from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from .contract import AttentionUnavailable, AttentionUnsupported, allowed_pairs, check_inputs, zero_padded_queries
from .dot import dot_matrix
from .registry import register_function, unavailable_reason

BACKENDS = {"math": SDPBackend.MATH, "flash": SDPBackend.FLASH_ATTENTION,
            "efficient": SDPBackend.EFFICIENT_ATTENTION}
_BACKEND_NAMES = {int(b): b.name for b in (SDPBackend.ERROR, SDPBackend.MATH, SDPBackend.FLASH_ATTENTION,
                                           SDPBackend.EFFICIENT_ATTENTION, SDPBackend.CUDNN_ATTENTION)}
_last = {"backend": None}


def last_backend() -> str | None:
    """Usage: last_backend() -> the SDPA backend of the most recent sdpa call in this process, or None."""
    return _last["backend"]


_choices: dict[tuple, str] = {}


def _dispatcher_choice(qh, kh, vh, attn_mask, is_causal) -> str:
    """The backend torch picks for these inputs, asked once per input signature: the dispatcher's choice depends
    only on shapes, strides, dtype, device, the mask's presence and the active backend settings, and asking on
    every call would add its cost to the very kernel being timed."""
    flags = tuple(getattr(torch.backends.cuda, f"{name}_sdp_enabled")() for name in ("flash", "mem_efficient",
                                                                                      "math", "cudnn"))
    key = (*(tuple(x.shape) + tuple(x.stride()) for x in (qh, kh, vh)), qh.dtype, qh.device, qh.requires_grad,
           None if attn_mask is None else (tuple(attn_mask.shape), attn_mask.dtype), is_causal, flags)
    if key not in _choices:
        try:
            choice = torch._fused_sdp_choice(qh, kh, vh, attn_mask, 0.0, is_causal)
            _choices[key] = _BACKEND_NAMES.get(int(choice), "unknown")
        except (AttributeError, RuntimeError):  # private API: absent or refusing in some builds
            _choices[key] = "unknown"
    return _choices[key]


def sdpa_attention(q, k, v, *, causal: bool = False, key_padding_mask=None, backend: str | None = None):
    """Usage: see module docstring. ``backend`` forces one of math / flash / efficient (None: let torch pick)."""
    name = "sdpa" if backend is None else f"sdpa_{backend}"
    check_inputs(name, q, k, v, key_padding_mask)
    reason = unavailable_reason(name, q.device)
    if reason is not None:
        raise AttentionUnavailable(reason)
    qh, kh, vh = (x.transpose(1, 2) for x in (q, k, v))  # (B, H, T, D)
    attn_mask = allowed_pairs(key_padding_mask, causal, q.shape[1], q.device) if key_padding_mask is not None else None
    is_causal = causal and attn_mask is None
    forced = sdpa_kernel(BACKENDS[backend]) if backend is not None else contextlib.nullcontext()
    with forced:
        chosen = _dispatcher_choice(qh, kh, vh, attn_mask, is_causal)
        try:
            out = F.scaled_dot_product_attention(qh, kh, vh, attn_mask=attn_mask, is_causal=is_causal)
        except RuntimeError as err:
            if backend is None:
                raise
            first = str(err).strip().splitlines()[0]
            raise AttentionUnsupported(f"{name}: the {backend} backend cannot run these inputs: {first}") from None
    _last["backend"] = chosen
    return zero_padded_queries(out.transpose(1, 2), key_padding_mask)  # (B, T, H, D)


def _sdpa_matrix(q, k, *, causal: bool = False, key_padding_mask=None, backend: str | None = None):
    """SDPA computes softmax attention: its implicit matrix is dot's."""
    return dot_matrix(q, k, causal=causal, key_padding_mask=key_padding_mask)


register_function("sdpa", sdpa_attention, _sdpa_matrix, causal=True, padding=True, exact=True, fixed={"backend": None},
                  description="torch scaled_dot_product_attention, backend chosen by torch and recorded")
register_function("sdpa_math", sdpa_attention, _sdpa_matrix, causal=True, padding=True, exact=True,
                  fixed={"backend": "math"}, description="SDPA forced to the math (unfused) backend")
register_function("sdpa_flash", sdpa_attention, _sdpa_matrix, causal=True, padding=True, exact=True,
                  fixed={"backend": "flash"},
                  description="SDPA forced to the flash backend (FlashAttention on CUDA, fused CPU kernel)")
register_function("sdpa_efficient", sdpa_attention, _sdpa_matrix, causal=True, padding=True, exact=True,
                  fixed={"backend": "efficient"}, devices=("cuda",),
                  description="SDPA forced to the memory-efficient (xformers-derived) CUDA backend")
