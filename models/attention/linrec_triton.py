"""``linrec_triton`` and ``linrec_causal_triton``: LinRec's maths (ELU, per-token L2 with eps, /sqrt(D), padding
honoured) in fused Triton kernels with analytic backward passes (linrec_triton_kernels.py).

Usage:
    out = get_attention("linrec_triton")(q, k, v, key_padding_mask=mask)              # (B, T, H, D), non-causal
    out = get_attention("linrec_causal_triton")(q, k, v, causal=True, key_padding_mask=mask)

On CUDA tensors the kernels run compiled. On CPU tensors they run only under Triton's interpreter
(``TRITON_INTERPRET=1`` in the environment before the first call; the tests set it), which is how they are
checked without a GPU; elsewhere ``unavailable_reason`` says why. float32, bfloat16 and float16 inputs, fp32
accumulation; float64 is refused (AttentionUnsupported). The implicit matrices are linrec's and linrec_causal's.
"""
from __future__ import annotations

import contextlib
import importlib.util
import os

import torch

from .contract import AttentionUnavailable, AttentionUnsupported, check_inputs, refuse_causal
from .linrec import linrec_matrix
from .linrec_causal import linrec_causal_matrix
from .registry import register_function, unavailable_reason

DTYPES = (torch.float32, torch.bfloat16, torch.float16)
INTERPRETER = "TRITON_INTERPRET"


def triton_availability(device_type: str) -> str | None:
    """Usage: triton_availability("cuda") -> None where the Triton kernels can run on that device, else why."""
    if importlib.util.find_spec("triton") is None:
        return "triton is not installed (pip install triton; the CUDA builds of torch bring it)"
    if device_type == "cuda":
        return None if torch.cuda.is_available() else "Triton kernels need CUDA, and torch sees no CUDA device"
    if device_type == "cpu" and os.environ.get(INTERPRETER) == "1":
        return None
    return (f"Triton kernels run on CUDA tensors, and on CPU tensors only under Triton's interpreter "
            f"({INTERPRETER}=1 before the first call); device={device_type}")


def _launch(kernel, tensors, T: int, H: int, D: int, mask, causal: bool, eps: float, dtype):
    """Run one kernel over (B * H,) programs on contiguous (B, T, H, D) tensors."""
    from .linrec_triton_kernels import BF16_DOT, BF16_ROUNDED_DOT, FP32_DOT, block_sizes

    q = tensors[0]
    dot = FP32_DOT if dtype != torch.bfloat16 else BF16_DOT if q.is_cuda else BF16_ROUNDED_DOT
    flags = dict(CAUSAL=causal, HAS_MASK=mask is not None, DOT_MODE=dot, **block_sizes(T, D))
    with torch.cuda.device(q.device) if q.is_cuda else contextlib.nullcontext():
        kernel[(q.shape[0] * H,)](*tensors[:3], q if mask is None else mask, *tensors[3:], T, H, D, q.stride(0),
                                  q.stride(1), q.stride(2), eps, D ** -0.5, **flags)


class LinRecTriton(torch.autograd.Function):
    """out = linrec(q, k, v) by the Triton kernels; the backward recomputes the features."""

    @staticmethod
    def forward(ctx, q, k, v, mask, causal: bool, eps: float):
        from .linrec_triton_kernels import linrec_forward

        q, k, v = (x.contiguous() for x in (q, k, v))
        mask = mask.to(torch.int8).contiguous() if mask is not None else None
        out = torch.empty_like(q)
        B, T, H, D = q.shape
        _launch(linrec_forward, (q, k, v, out), T, H, D, mask, causal, eps, q.dtype)
        ctx.save_for_backward(q, k, v, mask)
        ctx.causal, ctx.eps = causal, eps
        return out

    @staticmethod
    def backward(ctx, d_out):
        from .linrec_triton_kernels import linrec_backward

        q, k, v, mask = ctx.saved_tensors
        d_out = d_out.contiguous()
        grads = [torch.empty_like(x) for x in (q, k, v)]
        B, T, H, D = q.shape
        _launch(linrec_backward, (q, k, v, d_out, *grads), T, H, D, mask, ctx.causal, ctx.eps, q.dtype)
        return (*grads, None, None, None)


def _run(name: str, q, k, v, causal: bool, key_padding_mask, eps: float):
    check_inputs(name, q, k, v, key_padding_mask)
    reason = unavailable_reason(name, q.device)
    if reason is not None:
        raise AttentionUnavailable(reason)
    if q.dtype not in DTYPES:
        raise AttentionUnsupported(f"{name}: the Triton kernels take float32, bfloat16 or float16, not {q.dtype}")
    return LinRecTriton.apply(q, k, v, key_padding_mask, causal, eps)


def linrec_triton(q, k, v, *, causal: bool = False, key_padding_mask=None, eps: float = 1e-6):
    """Usage: see module docstring. Non-causal; causal=True is refused (use linrec_causal_triton)."""
    refuse_causal("linrec_triton", causal, "use linrec_causal_triton for causal LinRec")
    return _run("linrec_triton", q, k, v, False, key_padding_mask, eps)


def linrec_causal_triton(q, k, v, *, causal: bool = False, key_padding_mask=None, eps: float = 1e-6):
    """Usage: see module docstring. causal=False computes plain linrec (the flag is honoured either way)."""
    return _run("linrec_causal_triton", q, k, v, causal, key_padding_mask, eps)


def _causal_matrix(q, k, *, causal: bool = False, key_padding_mask=None, eps: float = 1e-6):
    return linrec_causal_matrix(q, k, causal=causal, key_padding_mask=key_padding_mask, eps=eps)


def triton_kernel_ran(device: str) -> str:
    """Usage: triton_kernel_ran("cuda") -> "triton"; on the CPU the kernels run in Triton's interpreter."""
    return "triton" if device == "cuda" else "triton-interpreter"


register_function("linrec_triton", linrec_triton, linrec_matrix, causal=False, padding=True, exact=False,
                  availability=triton_availability, flops="linear", kernel=triton_kernel_ran,
                  description="linrec in fused Triton kernels (features, D x D state, output; analytic backward); "
                              "CUDA, or CPU under TRITON_INTERPRET=1")
register_function("linrec_causal_triton", linrec_causal_triton, _causal_matrix, causal=True, padding=True,
                  exact=False, availability=triton_availability, flops="linear", kernel=triton_kernel_ran,
                  description="causal linrec in a Triton kernel (block-causal products, D x D state on chip; "
                              "analytic backward); CUDA, or CPU under TRITON_INTERPRET=1")
