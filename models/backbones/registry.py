"""The backbone registry: what each recommender can do, said once in its spec instead of checked by name.

Usage:
    from models.backbones import get_backbone, register_backbone
    spec = get_backbone("bert4rec")     # spec.objectives, spec.direction, spec.mask_slot, spec.trainable, ...
    model = spec.build(num_items=1349, attention="dot", max_len=50)

``direction`` is the backbone's causal policy: "left-to-right" (SASRec: each position reads only the past, causal
wherever the token mixer can be), "bidirectional" (BERT4Rec: never causal) or "none" (Pop: no token mixer at all).
A plug-in backbone registers here as the built-in ones do (models/plugins.py loads it).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

DIRECTIONS = ("left-to-right", "bidirectional", "none")


@dataclass(frozen=True)
class BackboneSpec:
    """One registered backbone: how to build it and what it allows."""

    name: str
    build: Callable
    description: str
    objectives: tuple[str, ...]  # the training objectives it allows (bench/train/config.py)
    default_objective: str
    direction: str  # its causal policy: DIRECTIONS
    trainable: bool  # learns by gradient descent (Pop counts instead)
    one_pass: bool = False  # objective "last" may run as one pass per sequence (a causal model: every prefix at once)
    mask_slot: bool = False  # predicts from a [MASK] appended after the history: its window holds T - 1 items
    model_options: tuple[str, ...] = ()  # training settings it takes beyond the shared ones (BERT4Rec: mask_ratio)

    def __post_init__(self):
        if self.direction not in DIRECTIONS:
            raise ValueError(f"backbone {self.name!r}: direction {self.direction!r}; valid: {', '.join(DIRECTIONS)}")
        if self.default_objective not in self.objectives:
            raise ValueError(f"backbone {self.name!r}: default objective {self.default_objective!r} is not one of "
                             f"its objectives ({', '.join(self.objectives)})")

    @property
    def mixes(self) -> bool:
        """Whether it has a token mixer (an attention or mixer name that matters)."""
        return self.direction != "none"


_BACKBONES: dict[str, BackboneSpec] = {}


def register_backbone(name: str, build: Callable, **facts) -> None:
    """Usage: register_backbone("sasrec", SASRec, description=..., objectives=("last", "all"),
    default_objective="last", direction="left-to-right", trainable=True, one_pass=True)."""
    if name in _BACKBONES:
        raise ValueError(f"backbone {name!r} is registered twice")
    _BACKBONES[name] = BackboneSpec(name, build, **facts)


def backbone_names() -> list[str]:
    """Usage: backbone_names() -> ["sasrec", "bert4rec", "pop", ...], in registration order."""
    return list(_BACKBONES)


def get_backbone(name: str) -> BackboneSpec:
    """Usage: get_backbone("sasrec").one_pass. An unknown name is a one-line ValueError listing the valid ones."""
    if not isinstance(name, str) or name not in _BACKBONES:
        raise ValueError(f"unknown model {name!r}; valid: {', '.join(_BACKBONES)}")
    return _BACKBONES[name]


def build_model(name: str, **options):
    """Usage: build_model("bert4rec", num_items=..., attention="dot", max_len=50). Unknown names list the valid ones."""
    return get_backbone(name).build(**options)
