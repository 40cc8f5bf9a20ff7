"""The attention contract every variant obeys, and the checks that enforce it.

Usage: ``check_inputs("dot", q, k, v, key_padding_mask)`` at the top of a variant.

    fn(q, k, v, *, causal=False, key_padding_mask=None) -> out
    q, k, v, out: (B, T, H, D), one floating dtype, one device
    key_padding_mask: (B, T) bool, True = padding (ignored), as in torch.nn.MultiheadAttention

Conventions shared by every padding-aware variant:
- a padded key contributes nothing to any output, whatever it holds (NaN and inf too: padded positions are
  replaced by zeros before any arithmetic, ``clear_padding``);
- the output at a padded query position is exactly zero (so a row that is all padding gives zeros, not NaN);
- causal=True means the output at position t depends only on positions <= t.
"""
from __future__ import annotations

import torch

FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


class AttentionInputError(ValueError):
    """Raised for inputs that break the contract (shapes, dtypes, devices, mask)."""


class AttentionUnsupported(ValueError):
    """Raised when a variant is asked for something it cannot do (causal, a length beyond its size)."""


class AttentionUnavailable(RuntimeError):
    """Raised when a variant cannot run on this machine (package missing, CPU tensors for a CUDA kernel)."""


def _shape(t: torch.Tensor) -> str:
    return "(" + ", ".join(str(s) for s in t.shape) + ")"


def check_inputs(name: str, q, k, v, key_padding_mask=None) -> None:
    """Usage: check_inputs(name, q, k, v, mask). Raises AttentionInputError naming the offending shapes."""
    for label, t in (("q", q), ("k", k), ("v", v)):
        if not isinstance(t, torch.Tensor):
            raise AttentionInputError(f"{name}: {label} must be a torch.Tensor, got {type(t).__name__}")
        if t.dim() != 4:
            raise AttentionInputError(f"{name}: {label} must be (B, T, H, D), got shape {_shape(t)}")
        if t.dtype not in FLOAT_DTYPES:
            raise AttentionInputError(f"{name}: {label} must be a floating dtype, got {t.dtype}")
    if not (q.shape == k.shape == v.shape):
        raise AttentionInputError(
            f"{name}: q, k, v must have the same (B, T, H, D) shape, got q {_shape(q)}, k {_shape(k)}, v {_shape(v)}")
    if not (q.dtype == k.dtype == v.dtype):
        raise AttentionInputError(f"{name}: q, k, v must share a dtype, got {q.dtype}, {k.dtype}, {v.dtype}")
    if not (q.device == k.device == v.device):
        raise AttentionInputError(f"{name}: q, k, v must share a device, got {q.device}, {k.device}, {v.device}")
    if q.shape[1] < 1 or q.shape[3] < 1:
        raise AttentionInputError(f"{name}: need T >= 1 and D >= 1, got shape {_shape(q)}")
    if key_padding_mask is None:
        return
    if not isinstance(key_padding_mask, torch.Tensor) or key_padding_mask.dtype != torch.bool:
        kind = key_padding_mask.dtype if isinstance(key_padding_mask, torch.Tensor) else type(key_padding_mask).__name__
        raise AttentionInputError(f"{name}: key_padding_mask must be a bool tensor (True = padding), got {kind}")
    if key_padding_mask.shape != q.shape[:2]:
        raise AttentionInputError(
            f"{name}: key_padding_mask must be (B, T) = ({q.shape[0]}, {q.shape[1]}), got {_shape(key_padding_mask)}")
    if key_padding_mask.device != q.device:
        raise AttentionInputError(f"{name}: key_padding_mask is on {key_padding_mask.device}, q on {q.device}")


def check_matrix_inputs(name: str, q, k, key_padding_mask=None) -> None:
    """Usage: check_matrix_inputs(name, q, k, mask): the checks of check_inputs for ``matrix(q, k)``."""
    check_inputs(name, q, k, k, key_padding_mask)


def check_positive_int(name: str, label: str, value) -> None:
    """Usage: check_positive_int("linformer", "max_len", 200). Raises AttentionInputError for a bool, a non-int
    or a value below 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise AttentionInputError(f"{name}: {label} must be a positive integer, got {value!r}")


def refuse_causal(name: str, causal: bool, hint: str = "") -> None:
    """Usage: refuse_causal("linrec", causal, "use linrec_causal"). Raises AttentionUnsupported when causal."""
    if causal:
        raise AttentionUnsupported(f"{name} does not support causal=True" + (f"; {hint}" if hint else ""))


def allowed_pairs(key_padding_mask, causal: bool, T: int, device) -> torch.Tensor | None:
    """Usage: allowed = allowed_pairs(mask, causal, T, dev). Bool (B or 1, 1, T, T), True where query i may see key j.

    Padded query rows are allowed everything so no row is empty (they are zeroed afterwards).
    Returns None when nothing is masked.
    """
    if key_padding_mask is None and not causal:
        return None
    allowed = torch.ones(1, 1, T, T, dtype=torch.bool, device=device)
    if causal:
        allowed = torch.tril(allowed)
    if key_padding_mask is not None:
        allowed = allowed & ~key_padding_mask[:, None, None, :]  # (B, 1, 1, T) keys
        allowed = allowed | key_padding_mask[:, None, :, None]  # (B, 1, T, 1) padded queries see all
    return allowed


def clear_padding(key_padding_mask, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Usage: q, k, v = clear_padding(mask, q, k, v). Each (B, T, H, D) with padded positions replaced by 0, so
    no value there (NaN, inf) reaches a real output or a gradient; the tensors as they are without a mask."""
    if key_padding_mask is None:
        return tensors
    padded = key_padding_mask[:, :, None, None]  # (B, T, 1, 1)
    return tuple(t.masked_fill(padded, 0.0) for t in tensors)


def zero_padded_queries(out: torch.Tensor, key_padding_mask) -> torch.Tensor:
    """Usage: out = zero_padded_queries(out, mask). out (B, T, H, D); padded positions become exactly 0."""
    if key_padding_mask is None:
        return out
    return out.masked_fill(key_padding_mask[:, :, None, None], 0.0)


def zero_padded_rows(weights: torch.Tensor, key_padding_mask) -> torch.Tensor:
    """Usage: A = zero_padded_rows(A, mask). A (B, H, T, T); rows of padded queries become 0."""
    if key_padding_mask is None:
        return weights
    return weights.masked_fill(key_padding_mask[:, None, :, None], 0.0)
