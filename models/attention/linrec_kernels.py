"""What the LinRec fast paths share: their elementwise passes, each fused into one kernel by torch.compile on CPU,
and the layout and precision helpers of both autograd Functions.

Usage:
    x_hat, norm = features(x, mask, eps)            # (B, T, H, D) -> (B, H, L, D) features, (B, H, T, 1) norms
    dx = features_backward(x_hat, norm, dx_hat, eps, mask)   # -> (B, T, H, D) gradient of x, written into dx_hat
    kernel_path() -> "compiled" | "eager: <why>"    # what this process runs, for env.json
    out = in_float32(LinRecFunction.apply, q, k, v, mask, eps)   # half inputs computed in float32, cast back

Maths (per token, over D; see linrec_fast.py):
    u = ELU(x), n = max(||u||_2, eps), x^ = u / n; padded tokens' x^ zeroed; rows T..L-1 zero (chunk padding)
    dx = (dx^ - x^ <x^, dx^>) * (1/n + min(x^, 0)), <x^, dx^> taken as 0 where the norm was clamped; padded
    tokens' dx zeroed; written over dx^ in place (a strided view of a longer buffer costs the compiled kernel one
    temporary of its size: only when T is not a whole number of chunks).

Why: in eager PyTorch the features cost a layout copy, the ELU, the norm and a division (four passes over memory,
ELU alone about a third of the time) and their backward six; Inductor's C++ backend fuses each into one kernel:
the features read x twice (its norm, then the output) and write once, the backward reads and writes in one loop.
What that buys, compiled against eager in alternating calls in one process, is in the README (Performance).

Where it applies: CPU tensors only. On CUDA torch.compile would emit Triton kernels that no test here has run,
so CUDA keeps the eager passes. ``LINREC_COMPILE=0`` in the environment turns compiling off. If compiling fails
(no C++ compiler, a Python that Dynamo does not support), the call is redone in eager, one warning says why,
and the process stays eager: the compiled path never fails a call that the eager one passes. A first call per
shape compiles (seconds, cached on disk by Inductor across processes); ``bench perf`` reports it apart.
"""
from __future__ import annotations

import functools
import os
import warnings

import torch
import torch.nn.functional as F


def compile_wanted(environ=os.environ) -> bool:
    """Usage: compile_wanted() -> False where the environment sets LINREC_COMPILE=0 (or "false", "no", "off")."""
    return environ.get("LINREC_COMPILE", "1").strip().lower() not in ("0", "false", "no", "off")


_state = {"enabled": compile_wanted(), "why": "LINREC_COMPILE=0 in the environment"}


def _features_eager(x, key_padding_mask, eps: float, length: int):
    B, T, H, D = x.shape
    x_hat = torch.empty(B, H, length, D, dtype=x.dtype, device=x.device)
    real = x_hat[:, :, :T]
    F.elu_(real.copy_(x.transpose(1, 2)))  # (B, H, T, D) u = ELU(x), in the one buffer this function allocates
    norm = torch.linalg.vector_norm(real, dim=-1, keepdim=True).clamp_min_(eps)  # (B, H, T, 1)
    real.div_(norm)
    x_hat[:, :, T:].zero_()
    if key_padding_mask is not None:
        real.masked_fill_(key_padding_mask[:, None, :, None], 0.0)
    return x_hat, norm


def _features_fused(x, key_padding_mask, eps: float, length: int):
    T = x.shape[1]
    u = F.elu(x.transpose(1, 2))  # (B, H, T, D)
    norm = torch.linalg.vector_norm(u, dim=-1, keepdim=True).clamp_min(eps)  # (B, H, T, 1)
    x_hat = u / norm
    if key_padding_mask is not None:
        x_hat = x_hat.masked_fill(key_padding_mask[:, None, :, None], 0.0)
    x_hat = F.pad(x_hat, (0, 0, 0, length - T))  # (B, H, L, D)
    return x_hat.contiguous(), norm


def _features_backward_eager(x_hat, norm, grad, eps: float, key_padding_mask, scratch):
    scratch = torch.mul(x_hat, grad, out=scratch)  # (B, H, T, D)
    along = scratch.sum(-1, keepdim=True)  # (B, H, T, 1) <x^, dx^>
    along.masked_fill_(norm <= eps, 0.0)  # a clamped norm is a constant: no projection
    factor = torch.clamp_max(x_hat, 0.0, out=scratch).add_(norm.reciprocal())
    dx = grad.addcmul_(x_hat, along, value=-1.0).mul_(factor)
    if key_padding_mask is not None:
        dx.masked_fill_(key_padding_mask[:, None, :, None], 0.0)


def _features_backward_fused(x_hat, norm, grad, eps: float, key_padding_mask, scratch):
    along = (x_hat * grad).sum(-1, keepdim=True)  # (B, H, T, 1)
    along = along.masked_fill(norm <= eps, 0.0)
    dx = (grad - x_hat * along) * (norm.reciprocal() + x_hat.clamp_max(0.0))  # (B, H, T, D)
    if key_padding_mask is not None:
        dx = dx.masked_fill(key_padding_mask[:, None, :, None], 0.0)
    grad.copy_(dx)  # in place, element by element: one loop, no temporary the size of grad


_compiled = {}
RECOMPILE_LIMIT = 64


def _run(name: str, eager, fused, *args):
    """Run the compiled ``fused`` on args[0]'s device if it is the CPU and compiling works in this process, else
    ``eager``. A compile error is raised before the kernel runs, so an in-place target is still intact for eager."""
    if not (_state["enabled"] and args[0].device.type == "cpu"):
        return eager(*args)
    try:
        if name not in _compiled:
            # Past Dynamo's recompile limit (shapes that keep changing) a compiled function silently runs eager;
            # raising instead makes that an ordinary compile failure: eager from then on, and kernel_path() says so.
            # Each kernel needs a graph per padding (mask or none) and per size-1 dimension (B, H or T of 1, which
            # Dynamo specialises): more than its default of 8 in a process that profiles many shapes.
            import torch._dynamo

            torch._dynamo.config.fail_on_recompile_limit_hit = True
            torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, RECOMPILE_LIMIT)
            _compiled[name] = torch.compile(fused, options={"compile_threads": 1})
        return _compiled[name](*args)
    except Exception as err:  # noqa: BLE001 - any failure to compile: redo in eager, whose errors are the real ones
        result = eager(*args)
        _state.update(enabled=False, why=f"{type(err).__name__}: {str(err).splitlines()[0][:200]}")
        warnings.warn(f"LinRec kernels: torch.compile failed, using eager PyTorch from now on ({_state['why']})",
                      RuntimeWarning, stacklevel=3)
        return result


def features(x: torch.Tensor, key_padding_mask, eps: float, length: int | None = None):
    """Usage: see module docstring. ``length`` L >= T (default T) pads the features with zero rows for chunking."""
    return _run("features", _features_eager, _features_fused, x, key_padding_mask, eps, length or x.shape[1])


def features_backward(x_hat: torch.Tensor, norm: torch.Tensor, grad: torch.Tensor, eps: float, key_padding_mask,
                      scratch: torch.Tensor | None = None) -> torch.Tensor:
    """Usage: see module docstring. x_hat, grad (B, H, T, D) and norm (B, H, T, 1); the result is written into
    ``grad`` and returned as its (B, T, H, D) view. ``scratch``, a dead buffer of x_hat's shape, saves the eager
    path a temporary (the compiled one needs none)."""
    _run("features_backward", _features_backward_eager, _features_backward_fused,
         x_hat, norm, grad, eps, key_padding_mask, scratch)
    return grad.transpose(1, 2)


def heads_copy(x: torch.Tensor) -> torch.Tensor:
    """Usage: heads_copy(x) -> a new (B, H, T, D) contiguous copy of (B, T, H, D) ``x``. Always a copy: with H = 1
    (or T = 1) ``x.transpose(1, 2).contiguous()`` would return ``x`` itself, and writing to it would corrupt the
    caller's tensor."""
    return x.transpose(1, 2).clone(memory_format=torch.contiguous_format)


def in_float32(function, q, k, v, *args):
    """Usage: in_float32(LinRecFunction.apply, q, k, v, mask, eps) -> (B, T, H, D) in v's dtype. Half precision is
    computed in float32 (the states are sums over T) and cast back; float32 and float64 run as they are."""
    out_dtype = v.dtype
    if out_dtype in (torch.float16, torch.bfloat16):
        q, k, v = q.float(), k.float(), v.float()
    return function(q, k, v, *args).to(out_dtype)


def without_autocast(method):
    """Usage: decorate an autograd Function's forward or backward: it runs with autocast off, so its matmuls stay in
    the dtype it chose (float32 for half inputs) inside a mixed-precision region, and its backward never meets a
    bfloat16 product it did not ask for."""
    @functools.wraps(method)
    def run(ctx, *args):
        device = next(a.device.type for a in args if isinstance(a, torch.Tensor))
        with torch.autocast(device_type=device, enabled=False):
            return method(ctx, *args)
    return run


def kernel_path() -> str:
    """Usage: kernel_path() -> "compiled" while the fused kernels run (CPU), else "eager: <why>"."""
    return "compiled" if _state["enabled"] else f"eager: {_state['why']}"


def cpu_kernel_ran(device: str) -> str:
    """Usage: cpu_kernel_ran("cpu") -> "compiled" or "eager: <why>": what linrec and linrec_causal ran there (the
    probe their specs carry; on CUDA they keep the eager passes)."""
    return kernel_path() if device == "cpu" else "eager: CUDA keeps the eager passes"
