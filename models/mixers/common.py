"""What every mixer shares: its input checks, its option checks and its padding rule.

Usage:
    check_input("mamba", x, hidden, key_padding_mask)     # one-line MixerInputError for a bad input
    x = clear_padding(x, key_padding_mask)                 # padded rows become 0 before any arithmetic
    y = clear_padding(y, key_padding_mask)                 # and the output there is exactly 0
    check_positive("mamba", "d_state", d_state)            # options: one line each
"""
from __future__ import annotations

import torch

from .registry import MixerInputError

FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def _shape(t: torch.Tensor) -> str:
    return "(" + ", ".join(str(s) for s in t.shape) + ")"


def check_input(name: str, x, hidden: int, key_padding_mask=None) -> None:
    """Usage: check_input(name, x, hidden, mask): x (B, T, hidden) floating, mask (B, T) bool on x's device."""
    if not isinstance(x, torch.Tensor) or x.dim() != 3 or x.shape[-1] != hidden or x.shape[1] < 1:
        got = _shape(x) if isinstance(x, torch.Tensor) else type(x).__name__
        raise MixerInputError(f"{name}: x must be (B, T, hidden={hidden}) with T >= 1, got {got}")
    if x.dtype not in FLOAT_DTYPES:
        raise MixerInputError(f"{name}: x must be a floating dtype, got {x.dtype}")
    if key_padding_mask is None:
        return
    if not isinstance(key_padding_mask, torch.Tensor) or key_padding_mask.dtype != torch.bool:
        kind = key_padding_mask.dtype if isinstance(key_padding_mask, torch.Tensor) else type(key_padding_mask).__name__
        raise MixerInputError(f"{name}: key_padding_mask must be a bool tensor (True = padding), got {kind}")
    if key_padding_mask.shape != x.shape[:2]:
        raise MixerInputError(f"{name}: key_padding_mask must be (B, T) = ({x.shape[0]}, {x.shape[1]}), "
                              f"got {_shape(key_padding_mask)}")
    if key_padding_mask.device != x.device:
        raise MixerInputError(f"{name}: key_padding_mask is on {key_padding_mask.device}, x on {x.device}")


def clear_padding(x: torch.Tensor, key_padding_mask: torch.Tensor | None) -> torch.Tensor:
    """Usage: clear_padding(x, mask) -> x with padded rows exactly 0 (NaN and inf there too); x (B, T, ...)."""
    if key_padding_mask is None:
        return x
    mask = key_padding_mask.reshape(key_padding_mask.shape + (1,) * (x.dim() - 2))
    return x.masked_fill(mask, 0)


def check_positive(name: str, label: str, value) -> None:
    """Usage: check_positive("mamba", "d_state", 16): a positive int, else one line naming the option."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise MixerInputError(f"{name}: {label} must be a positive integer, got {value!r}")


def check_divides(name: str, label: str, value: int, parts: int, what: str) -> None:
    """Usage: check_divides("gla", "hidden", 64, 3, "heads"): one line when ``parts`` does not divide ``value``."""
    if value % parts:
        raise MixerInputError(f"{name}: {label} {value} is not divisible by the number of {what} {parts}")


def check_causal_call(name: str, causal: bool) -> None:
    """Usage: check_causal_call("gru", causal): a causal-only mixer called with causal=False says so in one line."""
    if not causal:
        raise MixerInputError(f"{name}: causal only (a left-to-right recurrence); call it with causal=True")
