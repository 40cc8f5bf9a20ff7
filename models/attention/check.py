"""The attention contract, checked on a registering variant instead of trusted (plug-ins: models/plugins.py).

Usage:
    check_attention(spec, build_options={"rank": 4})   # raises ContractError naming the first false claim

On small random inputs (B=2, T=7, H=2, D=8, float32, eval mode, no gradients) it checks what the spec claims:
the output has the input's shape and is finite; ``causal``: positions after t never change the output at t;
``padding``: whatever padded positions hold, real outputs stay the same and padded outputs are exactly 0;
a ``matrix`` method: ``matrix(q, k) @ v`` equals the output, with and without padding (and causally, where causal).
A spec that declares ``ignores_masks`` (faithful official code) is held to the shape and matrix claims only.
"""
from __future__ import annotations

import torch

from .contract import AttentionInputError

B, T, H, D = 2, 7, 2, 8
CUT = 4  # the causal check changes positions >= CUT; the padding check pads item 0 from CUT on


class ContractError(AttentionInputError):
    """A registering variant's claim that its own outputs contradict (one line: the variant and the claim)."""


def close(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Usage: close(out, reference): equal up to float32 rounding, relative to the output's size."""
    return bool(torch.allclose(a, b, rtol=1e-4, atol=1e-5 * max(1.0, b.abs().max().item())))


def sample_inputs(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Usage: q, k, v = sample_inputs() -> three (B, T, H, D) float32 tensors, the same for every check."""
    generator = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(B, T, H, D, generator=generator) for _ in range(3))


def later_changed(*tensors: torch.Tensor) -> list[torch.Tensor]:
    """Usage: later_changed(q, k, v) (or a mixer's x): copies whose positions >= CUT (dim 1) hold other values."""
    generator, changed = torch.Generator().manual_seed(1), []  # the same change on every call: deterministic
    for t in tensors:
        t = t.clone()
        t[:, CUT:] = 5.0 * torch.randn(t[:, CUT:].shape, generator=generator, dtype=t.dtype) + 3.0
        changed.append(t)
    return changed


def check_attention(spec, build_options: dict | None = None) -> None:
    """Usage: see module docstring. ``spec``: the AttentionSpec being registered; ``build_options``: options the
    variant needs to be built at all (beyond head_dim, max_len and seed)."""
    context = {"head_dim": D, "max_len": T, "seed": 0}
    options = {k: v for k, v in context.items() if k in spec.option_names} | dict(build_options or {})
    missing = [o for o in spec.required_options if o not in options]
    if missing:
        raise ContractError(f"attention {spec.name!r}: cannot check its contract without option "
                            f"{', '.join(missing)}; register it with check_options={{{missing[0]!r}: ...}}")
    module = spec.build(**options).eval()
    q, k, v = sample_inputs()
    modes = (False, True) if spec.causal else (False,)
    with torch.no_grad():
        for causal in modes:
            check_output(spec, module, q, k, v, causal)
            if causal and not spec.ignores_masks:
                check_causal_claim(spec, module, q, k, v)
            if spec.padding and not spec.ignores_masks:
                check_padding_claim(spec, module, q, k, v, causal)
            if callable(getattr(module, "matrix", None)):
                check_matrix_claim(spec, module, q, k, v, causal)


def check_output(spec, module, q, k, v, causal: bool) -> None:
    out = module(q, k, v, causal=causal, key_padding_mask=None)
    if not isinstance(out, torch.Tensor) or out.shape != v.shape:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ContractError(f"attention {spec.name!r}: output shape {got}, expected (B, T, H, D) = {tuple(v.shape)}")
    if not torch.isfinite(out).all():
        raise ContractError(f"attention {spec.name!r}: non-finite output on finite inputs (causal={causal})")


def check_causal_claim(spec, module, q, k, v) -> None:
    before = module(q, k, v, causal=True, key_padding_mask=None)[:, :CUT]
    after = module(*later_changed(q, k, v), causal=True, key_padding_mask=None)[:, :CUT]
    if not close(after, before):
        raise ContractError(f"attention {spec.name!r} claims causal=True, but changing positions >= {CUT} changed "
                            f"the outputs before them; register it with causal=False")


def padding_mask() -> torch.Tensor:
    """Usage: padding_mask() -> (B, T) bool: item 0 padded from CUT on, item 1 not padded."""
    mask = torch.zeros(B, T, dtype=torch.bool)
    mask[0, CUT:] = True
    return mask


def check_padding_claim(spec, module, q, k, v, causal: bool) -> None:
    mask = padding_mask()
    out = module(q, k, v, causal=causal, key_padding_mask=mask)
    changed = module(*later_changed(q, k, v), causal=causal, key_padding_mask=mask)
    if not close(changed[0, :CUT], out[0, :CUT]):
        raise ContractError(f"attention {spec.name!r} claims padding=True, but what padded positions hold changed "
                            f"the real outputs (causal={causal}); register it with padding=False")
    if out[0, CUT:].abs().max().item() != 0.0:
        raise ContractError(f"attention {spec.name!r} claims padding=True, but its outputs at padded positions are "
                            f"not exactly 0 (causal={causal})")


def check_matrix_claim(spec, module, q, k, v, causal: bool) -> None:
    masks = [None] + ([padding_mask()] if spec.padding and not spec.ignores_masks else [])
    for mask in masks:
        weights = module.matrix(q, k, causal=causal, key_padding_mask=mask)
        if not isinstance(weights, torch.Tensor) or weights.shape != (B, H, T, T):
            raise ContractError(f"attention {spec.name!r}: matrix() gives shape "
                                f"{tuple(getattr(weights, 'shape', ()))}, expected (B, H, T, T) = {(B, H, T, T)}")
        applied = torch.einsum("bhts,bshd->bthd", weights, v)  # (B, T, H, D)
        out = module(q, k, v, causal=causal, key_padding_mask=mask)
        real = slice(None) if mask is None else ~mask  # padded rows: the output is 0, the matrix row need not be
        if not close(applied[real], out[real]):
            raise ContractError(f"attention {spec.name!r}: matrix(q, k) @ v is not its output (causal={causal}, "
                                f"{'no padding' if mask is None else 'with padding'}); fix matrix() or drop it")


def run_check(kind: str, check, spec, check_options: dict | None) -> None:
    """Usage: run_check("mixer", check_mixer, spec, options): the check, with any crash of the registering code on
    the check's inputs turned into one ContractError line (the attention and mixer registries both use it)."""
    try:
        check(spec, check_options)
    except ContractError:
        raise
    except Exception as err:  # noqa: BLE001  (someone else's code: whatever it raises becomes one line)
        raise ContractError(f"{kind} {spec.name!r} failed on the contract check's inputs: "
                            f"{type(err).__name__}: {err}") from None
