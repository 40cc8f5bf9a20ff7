"""The attention registry: every variant under one name, one contract, one listing.

Usage:
    from models.attention import get_attention, list_attentions, unavailable_reason
    attn = get_attention("linrec", head_dim=16, max_len=200)   # an nn.Module for every variant
    out = attn(q, k, v, causal=False, key_padding_mask=mask)    # (B, T, H, D)
    weights = attn.matrix(q, k, key_padding_mask=mask)          # (B, H, T, T), out == weights @ v

Stateless variants are plain functions ``fn(q, k, v, *, causal, key_padding_mask, **options)`` with a matching
``matrix`` function; the registry wraps them in a parameter-free module so backbones treat every variant alike.
Variants with learned or fixed random parameters are nn.Modules with ``forward`` and ``matrix`` methods.
"""
from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from .check import check_attention, run_check
from .contract import AttentionInputError, check_inputs, check_matrix_inputs, clear_padding

# Options a backbone passes to every variant; a variant that does not need one simply does not receive it.
CONTEXT_OPTIONS = ("head_dim", "max_len", "seed")


@dataclass(frozen=True)
class AttentionSpec:
    """One registered variant: how to build it and what it can do."""

    name: str
    description: str
    build: Callable[..., nn.Module]
    option_names: tuple[str, ...]
    required_options: tuple[str, ...]
    causal: bool  # honours causal=True
    padding: bool  # honours key_padding_mask
    exact: bool  # equals softmax attention up to rounding
    devices: tuple[str, ...] = ("cpu", "cuda")
    ignores_masks: bool = False  # accepts causal / key_padding_mask but does not apply them (faithful official code)
    learned: bool = False  # has trainable parameters
    availability: Callable[[str], str | None] | None = field(default=None, compare=False)
    flops: str | None = None  # its FLOP formula (FLOP_FORMULAS); None: softmax's where exact, else unknown
    kernel: Callable[[str], str | None] | None = field(default=None, compare=False)  # device -> the kernel that ran
    state: str | None = None  # what inference keeps per layer (models/mixers: attention_state); None: from the flags

    def __post_init__(self):
        if self.flops is not None and self.flops not in FLOP_FORMULAS:
            raise ValueError(f"attention {self.name!r}: unknown FLOP formula {self.flops!r}; valid: "
                             f"{', '.join(FLOP_FORMULAS)} (or None: unknown)")


# The FLOP formulas bench/profile/flops.py counts by; a variant that names none has unknown FLOPs (exact: softmax's)
FLOP_FORMULAS = ("softmax", "linear", "cosformer", "performer", "linformer")


_REGISTRY: dict[str, AttentionSpec] = {}


class FunctionAttention(nn.Module):
    """A parameter-free module around a plain attention function and its implicit-matrix function."""

    def __init__(self, spec: AttentionSpec, forward_fn: Callable, matrix_fn: Callable, options: dict):
        super().__init__()
        self.spec = spec
        self._forward_fn = functools.partial(forward_fn, **options)
        self._matrix_fn = functools.partial(matrix_fn, **options)

    def forward(self, q, k, v, *, causal: bool = False, key_padding_mask=None):
        if key_padding_mask is not None and self.spec.padding:  # padded positions hold nothing, not even NaN
            check_inputs(self.spec.name, q, k, v, key_padding_mask)
            q, k, v = clear_padding(key_padding_mask, q, k, v)
        return self._forward_fn(q, k, v, causal=causal, key_padding_mask=key_padding_mask)

    def matrix(self, q, k, *, causal: bool = False, key_padding_mask=None):
        check_matrix_inputs(self.spec.name, q, k, key_padding_mask)
        if self.spec.padding:
            q, k = clear_padding(key_padding_mask, q, k)
        return self._matrix_fn(q, k, causal=causal, key_padding_mask=key_padding_mask)

    def extra_repr(self) -> str:
        return self.spec.name


def _keyword_options(fn: Callable, fixed=()) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(all option names, the required ones) of a variant's function or constructor."""
    skip = {"self", "q", "k", "v", "causal", "key_padding_mask", *fixed}
    params = [p for p in inspect.signature(fn).parameters.values()
              if p.name not in skip and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
    return tuple(p.name for p in params), tuple(p.name for p in params if p.default is p.empty)


def _add(spec: AttentionSpec, origin: str, check_options: dict | None) -> None:
    """Register ``spec``; a variant from outside this package (``origin``: its module) is checked first."""
    if spec.name in _REGISTRY:
        raise ValueError(f"attention {spec.name!r} is registered twice")
    _REGISTRY[spec.name] = spec
    if is_builtin(origin):  # the suite's own variants are held to the contract by its tests
        return
    try:
        run_check("attention", check_attention, spec, check_options)
    except BaseException:
        del _REGISTRY[spec.name]  # a refused variant leaves no trace
        raise


def is_builtin(module_name: str) -> bool:
    """Usage: is_builtin(fn.__module__) -> True for this suite's own attention modules."""
    return module_name.startswith("models.")


def register_function(name: str, forward_fn: Callable, matrix_fn: Callable, *, description: str,
                      causal: bool, padding: bool, exact: bool, fixed: dict | None = None,
                      check_options: dict | None = None, **flags) -> None:
    """Usage: register_function("dot", dot_attention, dot_matrix, description=..., causal=True, padding=True,
    exact=True). ``fixed`` binds options that define the variant (an ablation's feature map, say). A function
    from outside this package is checked against its claims first (check.py; ``check_options``: the options it
    needs to be built for that check); a false claim raises a one-line ContractError and registers nothing."""
    fixed = dict(fixed or {})
    options, required = _keyword_options(forward_fn, fixed)

    def build(**options_given):
        spec = _REGISTRY[name]
        return FunctionAttention(spec, forward_fn, matrix_fn, {**fixed, **options_given})

    _add(AttentionSpec(name, description, build, options, required, causal, padding, exact, **flags),
         forward_fn.__module__, check_options)


def register_module(name: str, module_cls: type[nn.Module], *, description: str, causal: bool, padding: bool,
                    exact: bool, check_options: dict | None = None, **flags) -> None:
    """Usage: register_module("linformer", Linformer, description=..., causal=False, padding=True, exact=False).
    Checked as register_function's variants are, with its ``matrix`` method where it has one."""

    def build(**options_given):
        module = module_cls(**options_given)
        module.spec = _REGISTRY[name]
        return module

    options, required = _keyword_options(module_cls.__init__)
    _add(AttentionSpec(name, description, build, options, required, causal, padding, exact, **flags),
         module_cls.__module__, check_options)


def kernel_ran(name: str, device: str) -> str | None:
    """Usage: kernel_ran("linrec", "cpu") -> "compiled": what its spec's kernel probe reports for that device;
    None for a variant without kernels of its own, and for a name that is not an attention (a mixer)."""
    spec = _REGISTRY.get(name)
    return spec.kernel(device) if spec is not None and spec.kernel is not None else None


def attention_names() -> list[str]:
    """Usage: attention_names() -> every registered name, in registration order."""
    return list(_REGISTRY)


def get_spec(name: str) -> AttentionSpec:
    """Usage: get_spec("linrec").causal. An unknown name raises a ValueError that lists the valid names."""
    if not isinstance(name, str) or name not in _REGISTRY:
        raise AttentionInputError(f"unknown attention {name!r}; valid names: {', '.join(_REGISTRY)}")
    return _REGISTRY[name]


def get_attention(name: str, **options) -> nn.Module:
    """Usage: get_attention("performer", head_dim=16, seed=3). Context options (head_dim, max_len, seed) are
    dropped when the variant does not use them; any other unknown option is an error naming the valid ones."""
    spec = get_spec(name)
    unknown = [o for o in options if o not in spec.option_names and o not in CONTEXT_OPTIONS]
    if unknown:
        valid = ", ".join(spec.option_names) or "none"
        raise AttentionInputError(f"attention {name!r} has no option {', '.join(unknown)}; its options: {valid}")
    missing = [o for o in spec.required_options if o not in options]
    if missing:
        raise AttentionInputError(f"attention {name!r} needs option {', '.join(missing)} (for example "
                                  f"get_attention({name!r}, {missing[0]}=...))")
    return spec.build(**{o: val for o, val in options.items() if o in spec.option_names})


@functools.lru_cache(maxsize=None)
def _cached_reason(name: str, device_type: str) -> str | None:
    spec = get_spec(name)
    if spec.availability is not None:  # the variant's own probe gives the most exact reason
        reason = spec.availability(device_type)
        if reason is not None:
            return reason
    if device_type not in spec.devices:
        return f"{name} runs on {'/'.join(spec.devices)} only, not {device_type}"
    return None


def unavailable_reason(name: str, device: str | torch.device = "cpu") -> str | None:
    """Usage: unavailable_reason("xformers", "cpu") -> why it cannot run there, or None when it can."""
    device_type = torch.device(device).type
    return _cached_reason(name, device_type)


def list_attentions(device: str | torch.device = "cpu") -> list[dict]:
    """Usage: pandas.DataFrame(list_attentions()) -> one row per variant: description, capabilities, availability."""
    rows = []
    for spec in _REGISTRY.values():
        reason = unavailable_reason(spec.name, device)
        rows.append({
            "name": spec.name,
            "causal": spec.causal,
            "padding": spec.padding,
            "exact": spec.exact,
            "ignores_masks": spec.ignores_masks,
            "learned": spec.learned,
            "devices": "/".join(spec.devices),
            "options": ", ".join(spec.option_names),
            f"available_on_{torch.device(device).type}": "yes" if reason is None else f"no: {reason}",
            "description": spec.description,
        })
    return rows
