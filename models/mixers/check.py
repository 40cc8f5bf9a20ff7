"""The mixer contract (registry.py), checked on a registering mixer instead of trusted (plug-ins: models/plugins.py).

Usage:
    check_mixer(spec, build_options={"kernel": 3})   # raises ContractError naming the first false claim

On small random inputs (B=2, T=7, hidden=8, 2 heads, float32, eval mode, no gradients) it checks, for each way the
spec says the mixer runs (``causal``, ``bidirectional``): the output is (B, T, hidden) and finite; causally, inputs
after t never change the output at t; with item 0 padded from t=4 on, whatever the padded inputs hold, real outputs
stay the same and padded outputs are exactly 0; ``matrix``: ``matrix(x, ...)`` is (B, heads, T, T).
"""
from __future__ import annotations

import torch

from models.attention.check import CUT, ContractError, close, later_changed

B, T, HIDDEN, HEADS = 2, 7, 8, 2  # T > CUT: the causal and padding checks change positions >= CUT


def check_mixer(spec, build_options: dict | None = None) -> None:
    """Usage: see module docstring. ``spec``: the MixerSpec being registered; ``build_options``: options it needs
    to be built at all (beyond hidden, heads, max_len and seed)."""
    context = {"hidden": HIDDEN, "heads": HEADS, "max_len": T, "seed": 0}
    options = {k: v for k, v in context.items() if k in spec.option_names} | dict(build_options or {})
    missing = [o for o in spec.required_options if o not in options]
    if missing:
        raise ContractError(f"mixer {spec.name!r}: cannot check its contract without option {', '.join(missing)}; "
                            f"register it with check_options={{{missing[0]!r}: ...}}")
    if not (spec.causal or spec.bidirectional):
        raise ContractError(f"mixer {spec.name!r} claims neither causal nor bidirectional: it cannot run at all")
    torch.manual_seed(0)
    module = spec.build(**options).eval()
    x = torch.randn(B, T, HIDDEN, generator=torch.Generator().manual_seed(0))
    modes = [causal for causal, claimed in ((True, spec.causal), (False, spec.bidirectional)) if claimed]
    with torch.no_grad():
        for causal in modes:
            check_output(spec, module, x, causal)
            if causal and not spec.ignores_masks:
                check_causal_claim(spec, module, x)
            if not spec.ignores_masks:
                check_padding_claim(spec, module, x, causal)
            if spec.matrix:
                check_matrix_shape(spec, module, x, causal)


def check_output(spec, module, x, causal: bool) -> None:
    y = module(x, causal=causal, key_padding_mask=None)
    if not isinstance(y, torch.Tensor) or y.shape != x.shape:
        got = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
        raise ContractError(f"mixer {spec.name!r}: output shape {got}, expected (B, T, hidden) = {tuple(x.shape)}")
    if not torch.isfinite(y).all():
        raise ContractError(f"mixer {spec.name!r}: non-finite output on finite inputs (causal={causal})")


def check_causal_claim(spec, module, x) -> None:
    before = module(x, causal=True, key_padding_mask=None)[:, :CUT]
    after = module(*later_changed(x), causal=True, key_padding_mask=None)[:, :CUT]
    if not close(after, before):
        raise ContractError(f"mixer {spec.name!r} claims causal=True, but changing positions >= {CUT} changed the "
                            f"outputs before them; register it with causal=False")


def check_padding_claim(spec, module, x, causal: bool) -> None:
    mask = torch.zeros(B, T, dtype=torch.bool)
    mask[0, CUT:] = True  # item 0 right-padded, item 1 full
    y = module(x, causal=causal, key_padding_mask=mask)
    changed = module(*later_changed(x), causal=causal, key_padding_mask=mask)
    if not close(changed[0, :CUT], y[0, :CUT]):
        raise ContractError(f"mixer {spec.name!r}: what padded positions hold changed the real outputs "
                            f"(causal={causal}); every mixer must honour key_padding_mask")
    if y[0, CUT:].abs().max().item() != 0.0:
        raise ContractError(f"mixer {spec.name!r}: its outputs at padded positions are not exactly 0 "
                            f"(causal={causal})")


def check_matrix_shape(spec, module, x, causal: bool) -> None:
    weights = module.matrix(x, causal=causal, key_padding_mask=None) if callable(getattr(module, "matrix", None)) \
        else None
    if not isinstance(weights, torch.Tensor) or weights.dim() != 4 or weights.shape[0] != B \
            or weights.shape[2:] != (T, T):
        raise ContractError(f"mixer {spec.name!r} claims matrix=True, but matrix(x) is "
                            f"{tuple(getattr(weights, 'shape', ())) or 'missing'}, expected (B, H, T, T)")
