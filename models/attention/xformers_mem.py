"""``xformers``: xformers.ops.memory_efficient_attention (CUDA only).

Usage: out = xformers_attention(q, k, v, causal=True, key_padding_mask=mask)   # (B, T, H, D), CUDA tensors

Where it cannot run (no package, CPU tensors, a build that does not match this torch) the call raises
AttentionUnavailable with the exact reason, and ``unavailable_reason("xformers", device)`` says the same without
running anything heavy: never a crash deep inside xformers, never a silent fallback to another kernel.
"""
from __future__ import annotations

import logging
import platform

import torch

from .contract import AttentionUnavailable, AttentionUnsupported, allowed_pairs, check_inputs, zero_padded_queries
from .dot import dot_matrix
from .registry import register_function, unavailable_reason


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0] if text else ''}"


def _import_quietly():
    """Import xformers.ops with its multi-line import-time warning held back; the warning's facts go in the reason."""
    logger = logging.getLogger("xformers")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        import xformers._cpp_lib as cpp_lib
        import xformers.ops as xops
    finally:
        logger.setLevel(level)
    return xops, cpp_lib


def _extension_problem(cpp_lib) -> str:
    if getattr(cpp_lib, "_cpp_library_load_exception", None) is None:
        return ""
    info = getattr(cpp_lib._cpp_library_load_exception, "build_info", None)
    if info is None:
        return "; its C++/CUDA extensions did not load (built for another torch or Python)"
    return (f"; its C++/CUDA extensions did not load: built for torch {info.torch_version} / Python "
            f"{info.python_version}, this is torch {torch.__version__} / Python {platform.python_version()}")


def xformers_availability(device_type: str) -> str | None:
    """Usage: xformers_availability("cuda") -> None when a tiny fp16 call succeeds there, else the reason."""
    try:
        xops, cpp_lib = _import_quietly()
    except Exception as err:  # ImportError, or a broken build raising anything at import
        return f"xformers cannot be imported: {_first_line(err)}"
    if device_type != "cuda":
        return f"xformers memory_efficient_attention has CUDA kernels only (device={device_type})" + \
            _extension_problem(cpp_lib)
    if not torch.cuda.is_available():
        return "xformers needs CUDA, and torch.cuda.is_available() is False"
    try:
        probe = torch.zeros(1, 8, 1, 16, device="cuda", dtype=torch.float16)
        xops.memory_efficient_attention(probe, probe, probe)
    except Exception as err:  # the build does not match this torch/GPU: report what xformers said
        return f"xformers memory_efficient_attention fails on this GPU: {_first_line(err)}" + \
            _extension_problem(cpp_lib)
    return None


def _padding_bias(key_padding_mask, causal: bool, q) -> torch.Tensor:
    """Additive bias (B, H, T, T) with -inf where a pair is not allowed; stored with the last dim padded to a
    multiple of 8 as xformers' kernels require for aligned loads."""
    B, T, H, _ = q.shape
    allowed = allowed_pairs(key_padding_mask, causal, T, q.device)  # (B, 1, T, T)
    padded_len = -(-T // 8) * 8
    bias = q.new_zeros(B, H, T, padded_len)[..., :T]
    return bias.masked_fill_(~allowed, float("-inf"))


def xformers_attention(q, k, v, *, causal: bool = False, key_padding_mask=None):
    """Usage: see module docstring. Returns (B, T, H, D)."""
    check_inputs("xformers", q, k, v, key_padding_mask)
    reason = unavailable_reason("xformers", q.device)
    if reason is not None:
        raise AttentionUnavailable(reason)
    import xformers.ops as xops

    if key_padding_mask is not None:
        bias = _padding_bias(key_padding_mask, causal, q)
    else:
        bias = xops.LowerTriangularMask() if causal else None
    try:
        out = xops.memory_efficient_attention(q, k, v, attn_bias=bias, scale=q.shape[-1] ** -0.5)  # (B, T, H, D)
    except NotImplementedError as err:  # no xformers operator takes these inputs (float64, an odd head size)
        first = str(err).strip().splitlines()[0]
        raise AttentionUnsupported(f"xformers: no memory_efficient_attention operator runs these inputs: "
                                   f"{first}") from None
    return zero_padded_queries(out, key_padding_mask)


def _xformers_matrix(q, k, *, causal: bool = False, key_padding_mask=None):
    """Exact softmax attention: its implicit matrix is dot's."""
    return dot_matrix(q, k, causal=causal, key_padding_mask=key_padding_mask)


register_function("xformers", xformers_attention, _xformers_matrix, causal=True, padding=True, exact=True,
                  devices=("cuda",), availability=xformers_availability,
                  description="xformers memory_efficient_attention (CUDA only; unavailable elsewhere, with reason)")
