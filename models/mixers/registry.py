"""The token-mixer registry: every registered attention, plus the mixers that are not attentions.

Usage:
    from models.mixers import build_mixer, get_mixer_spec, mixer_names
    spec = get_mixer_spec("mamba")                  # spec.causal, spec.bidirectional, spec.state, spec.matrix
    mixer = build_mixer("mamba", hidden=64, heads=2, max_len=50, d_state=16)
    y = mixer(x, causal=True, key_padding_mask=m)   # x, y: (B, T, hidden); no residual, norm or dropout

The mixer contract (for every name here that is not an attention):
- ``forward(x, *, causal, key_padding_mask) -> y`` with x, y (B, T, hidden), one floating dtype; the block around
  it (models/backbones/blocks.py) adds dropout, the residual and the LayerNorm, the same for every mixer;
- ``key_padding_mask``: (B, T) bool, True = padding; the output at a padded position is exactly 0 and padded
  inputs never reach a real position (right padding: a causal mixer's real outputs never see them anyway);
- ``causal=True``: the output at t depends only on inputs at positions <= t;
- ``kernel_path(device) -> str``: the code path that runs there (``path="auto"`` picks it; ``path="naive"`` is the
  sequential reference every fast path is tested against);
- where ``spec.matrix``: ``matrix(x, causal=..., key_padding_mask=...) -> (B, H, T, T)``, the weights applied to
  the values, for heatmaps.

An attention name is a mixer too: the backbone wraps it in today's query/key/value projections
(``MultiHeadAttention``), so its cells keep their ids and numbers; ``get_mixer_spec`` describes it from its
attention spec.
"""
from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass, field
from typing import Callable

from torch import nn

from models.attention import AttentionInputError, attention_names, get_spec, unavailable_reason
from models.attention.check import run_check
from models.attention.registry import is_builtin

from .check import check_mixer

# Options every mixer receives from the backbone; the one that does not use one is simply not given it.
CONTEXT_OPTIONS = ("hidden", "heads", "max_len", "seed")
PATH_OPTION = "path"


class MixerInputError(AttentionInputError):
    """Raised for a mixer's bad options or inputs (a ValueError, so the command line prints it in one line)."""


@dataclass(frozen=True)
class MixerSpec:
    """One token mixer: how to build it and what it can do."""

    name: str
    description: str
    family: str  # "attention", "state space", "linear recurrence", "gated linear attention", ...
    causal: bool  # can run causally
    bidirectional: bool  # can run over the whole window (BERT4Rec)
    state: str  # what inference keeps per layer for a history of T items, d = hidden, H = heads
    matrix: bool  # has an explicit (B, H, T, T) matrix (heatmaps)
    build: Callable[..., nn.Module] | None = field(default=None, compare=False)  # None for an attention
    option_names: tuple[str, ...] = ()
    required_options: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()  # code paths the ``path`` option accepts besides "auto"
    paper_block: str | None = None  # the published recommender whose block backbones offer as block="published"
    attention: str | None = None  # the attention name, for mixers that are attentions
    devices: tuple[str, ...] = ("cpu", "cuda")
    ignores_masks: bool = False


_MIXERS: dict[str, MixerSpec] = {}


def register_mixer(name: str, module_cls: type[nn.Module], *, description: str, family: str, causal: bool,
                   bidirectional: bool, state: str, matrix: bool, paths: tuple[str, ...] = ("naive",),
                   paper_block: str | None = None, check_options: dict | None = None, **flags) -> None:
    """Usage: register_mixer("gru", GRUMixer, description=..., family="recurrent", causal=True,
    bidirectional=False, state="d", matrix=False). The constructor's keyword arguments are the mixer's options.
    A mixer from outside this package is checked against its claims first (check.py; ``check_options``: the
    options it needs to be built for that check); a false claim raises a one-line ContractError and registers
    nothing."""
    if name in _MIXERS or name in attention_names():
        raise ValueError(f"mixer {name!r} is registered twice (or is already an attention)")
    skip = {"self", *CONTEXT_OPTIONS}
    params = [p for p in inspect.signature(module_cls.__init__).parameters.values()
              if p.name not in skip and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
    context = tuple(p for p in CONTEXT_OPTIONS if p in inspect.signature(module_cls.__init__).parameters)

    def build(**options):
        module = module_cls(**options)
        module.spec = _MIXERS[name]
        return module

    _MIXERS[name] = MixerSpec(name, description, family, causal, bidirectional, state, matrix, build,
                              tuple(p.name for p in params) + context,
                              tuple(p.name for p in params if p.default is p.empty), tuple(paths), paper_block,
                              **flags)
    if is_builtin(module_cls.__module__):  # the suite's own mixers are held to the contract by its tests
        return
    try:
        run_check("mixer", check_mixer, _MIXERS[name], check_options)
    except BaseException:
        del _MIXERS[name]  # a refused mixer leaves no trace
        raise


@functools.lru_cache(maxsize=None)
def _attention_mixer_spec(name: str) -> MixerSpec:
    spec = get_spec(name)
    return MixerSpec(name, spec.description, "attention", causal=spec.causal, bidirectional=True,
                     state=attention_state(spec), matrix=True, option_names=spec.option_names,
                     required_options=spec.required_options, attention=name, devices=spec.devices,
                     ignores_masks=spec.ignores_masks)


def attention_state(spec) -> str:
    """Usage: attention_state(get_spec("dot")) -> "grows: 2·d per item": what inference keeps per layer. Exact
    attentions keep every key and value; causal linear ones one (D x D) state per head; the others (LinRec's keys
    are normalised over the window, Linformer projects over positions) recompute over the whole window. A spec that
    says its own (``state``) is taken at its word."""
    if spec.state:
        return spec.state
    if spec.exact:
        return "grows: 2·d per item (keys, values)"
    if spec.causal:
        return "fixed: d·D (a D x D state per head)"
    return "window: recomputed over the whole window"


def mixer_names() -> list[str]:
    """Usage: mixer_names() -> every attention name, then every other mixer, in registration order."""
    return attention_names() + list(_MIXERS)


def get_mixer_spec(name: str) -> MixerSpec:
    """Usage: get_mixer_spec("lru").causal. An unknown name raises a one-line MixerInputError listing the valid."""
    if isinstance(name, str) and name in _MIXERS:
        return _MIXERS[name]
    if isinstance(name, str) and name in attention_names():
        return _attention_mixer_spec(name)
    raise MixerInputError(f"unknown mixer {name!r}; valid names: {', '.join(mixer_names())}")


def is_attention(name: str) -> bool:
    """Usage: is_attention("linrec") -> True; is_attention("mamba") -> False (unknown names raise)."""
    return get_mixer_spec(name).attention is not None


def build_mixer(name: str, **options) -> nn.Module:
    """Usage: build_mixer("lru", hidden=64, heads=2, max_len=50, r_min=0.9). Context options (hidden, heads,
    max_len, seed) are dropped where the mixer does not use them; any other unknown option is a one-line error."""
    spec = get_mixer_spec(name)
    if spec.attention is not None:
        raise MixerInputError(f"{name!r} is an attention: the backbone builds it inside MultiHeadAttention")
    unknown = [o for o in options if o not in spec.option_names and o not in CONTEXT_OPTIONS]
    if unknown:
        raise MixerInputError(f"mixer {name!r} has no option {', '.join(unknown)}; its options: "
                              f"{', '.join(o for o in spec.option_names if o not in CONTEXT_OPTIONS) or 'none'}")
    path = options.get(PATH_OPTION, "auto")
    if PATH_OPTION in spec.option_names and path not in ("auto", *spec.paths):
        raise MixerInputError(f"mixer {name!r} has no path {path!r}; valid: auto, {', '.join(spec.paths)}")
    return spec.build(**{o: v for o, v in options.items() if o in spec.option_names})


def mixer_unavailable_reason(name: str, device="cpu") -> str | None:
    """Usage: mixer_unavailable_reason("xformers", "cpu") -> why it cannot run there, or None when it can."""
    spec = get_mixer_spec(name)
    if spec.attention is not None:
        return unavailable_reason(name, device)
    device_type = getattr(device, "type", str(device).split(":")[0])
    return None if device_type in spec.devices else f"{name} runs on {'/'.join(spec.devices)} only"


def check_causal(spec: MixerSpec, causal: bool, where: str) -> None:
    """Usage: check_causal(spec, causal=False, where="BERT4Rec"): one line when the mixer cannot run that way."""
    if not causal and not spec.bidirectional:
        raise MixerInputError(f"mixer {spec.name!r} is causal only (a left-to-right {spec.family}): {where} reads "
                              f"the whole window in both directions; use it in SASRec or pick a bidirectional mixer")
    if causal and not spec.causal:
        raise MixerInputError(f"mixer {spec.name!r} cannot run causally; use causal='auto' or a causal variant")
