"""The profiling grid: one named cell per (variant, mode, causal, length, dtype), checked before anything runs.

Usage:
    cells = make_grid(GridSpec(variants=["dot", "linrec"], lengths=[64, 128], level="attention",
                               modes=["fwdbwd"], causal="off", dtypes=["float32"], device="cpu", tokens=8192))
    cells[0].cell_id() -> "attention-dot-fwdbwd-T64-B128-float32-cpu-3f2a9c1e"

A cell is one measured configuration. At ``level="attention"`` it is one attention call on (B, T, H, D) inputs;
at ``level="mixer"`` one token-mixer block on (B, T, d) hidden states, d = H * D (an attention with its query, key,
value and output projections, any other mixer with its own; dropout, residual and LayerNorm alike); at
``level="model"`` it is one SASRec or BERT4Rec step (training or inference) with hidden size d = H * D.
The batch is either fixed (``batch``) or a token budget (``tokens``: B = tokens // T, so every length does the
same token work). Every check that can fail (unknown variant, bad length, a budget below one sequence, a dtype
the device lacks) runs in ``check_grid`` before the first measurement.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

import torch

from models.attention import get_spec
from models.backbones import backbone_names, get_backbone
from models.backbones.sasrec import resolve_causal
from models.mixers import get_mixer_spec

from ..environment import check_device
from .spec import CAUSAL_CHOICES, LEVELS, MODES, GridSpec

DTYPES = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
          "float16": torch.float16, "fp16": torch.float16}


@dataclass(frozen=True)
class ProfileCell:
    """One measured configuration; everything a row needs to be read alone."""

    level: str
    variant: str
    mode: str
    causal: bool
    T: int
    B: int
    H: int
    D: int
    dtype: str
    device: str
    batch_policy: str  # "fixed" or "tokens"
    tokens: int | None = None
    model: str | None = None  # model level only
    layers: int | None = None
    items: int | None = None
    seed: int = 0
    options: str = ""  # the mixer's options, "key=value,..." (bench.train.config.mixer_options_text); "" for none

    @property
    def d(self) -> int:
        return self.H * self.D

    def cell_id(self) -> str:
        """Usage: cell.cell_id() -> a readable prefix plus a hash of every field, stable across runs."""
        fields = {k: v for k, v in asdict(self).items() if k != "options" or v}  # no options: the ids cells had
        digest = hashlib.sha1(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:8]
        what = self.variant if self.level != "model" else f"{self.model}-{self.variant}"
        causal = "-causal" if self.causal else ""
        return f"{self.level}-{what}-{self.mode}{causal}-T{self.T}-B{self.B}-{self.dtype}-{self.device}-{digest}"

    def label(self) -> str:
        """Usage: cell.label() -> "linrec fwdbwd T=512 B=16": what a progress bar shows."""
        causal = " causal" if self.causal else ""
        model = f"{self.model}/" if self.model else ""
        options = f" ({self.options})" if self.options else ""
        return f"{model}{self.variant}{options} {self.mode}{causal} T={self.T} B={self.B} {self.dtype}"

    def as_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "ProfileCell":
        return cls(**json.loads(text))


def canonical_dtype(name: str) -> str:
    """Usage: canonical_dtype("bf16") -> "bfloat16". Unknown names raise a one-line ValueError."""
    if name not in DTYPES:
        raise ValueError(f"unknown dtype {name!r}; valid: float32 (fp32), bfloat16 (bf16), float16 (fp16)")
    return str(DTYPES[name]).removeprefix("torch.")


def batch_for(T: int, batch: int | None, tokens: int | None) -> int:
    """Usage: batch_for(512, None, 8192) -> 16. A token budget below one sequence is a one-line ValueError."""
    if batch is not None:
        return batch
    if tokens is None or tokens < T:
        raise ValueError(f"--tokens {tokens} cannot hold one sequence of length {T}; raise --tokens to at least {T} "
                         f"or use --batch")
    return tokens // T


def dtype_problem(device: str, dtype: str) -> str | None:
    """Usage: dtype_problem("cuda", "bfloat16") -> why the device cannot run that dtype, or None when it can.
    Probed for real: a small matmul, softmax and backward in that dtype on that device."""
    torch_dtype = DTYPES[dtype]
    if device == "cuda" and torch_dtype == torch.bfloat16 and not torch.cuda.is_bf16_supported():
        return f"this GPU ({torch.cuda.get_device_name(0)}) has no bfloat16 support"
    try:
        x = torch.randn(4, 8, 8, device=device).to(torch_dtype).requires_grad_()
        torch.softmax(x @ x.transpose(1, 2), dim=-1).sum().backward()
    except (RuntimeError, TypeError) as err:
        return str(err).strip().splitlines()[0]
    return None


def check_grid(spec: GridSpec) -> None:
    """Usage: check_grid(spec). Raises a one-line ValueError for the first problem found, before any measurement."""
    check_device(spec.device)
    if spec.level not in LEVELS:
        raise ValueError(f"unknown level {spec.level!r}; valid: {', '.join(LEVELS)}")
    for mode in spec.modes:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; valid: {', '.join(MODES)}")
    if spec.causal not in CAUSAL_CHOICES:
        raise ValueError(f"unknown causal setting {spec.causal!r}; valid: {', '.join(CAUSAL_CHOICES)}")
    if spec.level == "model" and spec.model not in trainable_backbones():
        raise ValueError(f"unknown model {spec.model!r}; valid: {', '.join(trainable_backbones())}")
    if not spec.variants or not spec.lengths:
        raise ValueError("give at least one variant and one length")
    for name in spec.variants:  # an unknown name raises, listing the valid ones
        get_spec(name) if spec.level == "attention" else get_mixer_spec(name)
    for T in spec.lengths:
        if isinstance(T, bool) or not isinstance(T, int) or T < 1:
            raise ValueError(f"sequence lengths must be positive integers, got {T!r}")
        if spec.level == "model" and get_backbone(spec.model).mask_slot and T < 2:
            raise ValueError(f"{spec.model} needs T >= 2 (one past item and the [MASK])")
        batch_for(T, spec.batch, spec.tokens)
    for value, what in ((spec.batch, "--batch"), (spec.heads, "--heads"), (spec.head_dim, "--head-dim"),
                        (spec.layers, "--layers"), (spec.items, "--items")):
        if value is not None and value < 1:
            raise ValueError(f"{what} must be a positive integer, got {value}")
    for dtype in spec.dtypes:
        problem = dtype_problem(spec.device, canonical_dtype(dtype))
        if problem:
            raise ValueError(f"dtype {canonical_dtype(dtype)} cannot run on {spec.device}: {problem}")


def trainable_backbones() -> list[str]:
    """Usage: trainable_backbones() -> ["sasrec", "bert4rec", ...]: the backbones a model-level cell can profile."""
    return [name for name in backbone_names() if get_backbone(name).trainable]


def causal_settings(spec: GridSpec, variant: str) -> tuple[bool, ...]:
    """Usage: causal_settings(spec, "dot") -> (False,) or (False, True). "auto" is non-causal for a bare attention,
    causal where the mixer can be at mixer level, and at model level the model's own choice (SASRec causal where
    the variant can be; BERT4Rec never)."""
    if spec.causal == "auto":
        if spec.level == "attention":
            return (False,)
        left_to_right = spec.level == "mixer" or get_backbone(spec.model).direction == "left-to-right"
        return (resolve_causal(variant, "auto"),) if left_to_right else (False,)
    return {"off": (False,), "on": (True,), "both": (False, True)}[spec.causal]


def make_grid(spec: GridSpec) -> list[ProfileCell]:
    """Usage: make_grid(spec) -> cells ordered by length, then dtype, variant, mode and causal: the short, cheap
    lengths of every variant finish first, so an interrupted sweep still compares variants side by side."""
    check_grid(spec)
    model_level = spec.level == "model"
    policy = "fixed" if spec.batch is not None else "tokens"
    cells = []
    for T in sorted(dict.fromkeys(spec.lengths)):
        for dtype in dict.fromkeys(canonical_dtype(d) for d in spec.dtypes):
            for variant in dict.fromkeys(spec.variants):
                for mode in dict.fromkeys(spec.modes):
                    for causal in causal_settings(spec, variant):
                        cells.append(ProfileCell(
                            spec.level, variant, mode, causal, T, batch_for(T, spec.batch, spec.tokens), spec.heads,
                            spec.head_dim, dtype, spec.device, policy, spec.tokens if policy == "tokens" else None,
                            spec.model if model_level else None, spec.layers if model_level else None,
                            spec.items if model_level else None, spec.seed, spec.options))
    return cells
