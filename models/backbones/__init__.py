"""Sequential recommenders that take the attention by registry name, plus the popularity floor.

Usage:
    from models.backbones import build_model
    model = build_model("sasrec", num_items=1349, attention="linrec", max_len=50, hidden=64, heads=2)

Each model has ``predict(item_seq, lengths) -> (B, num_items)`` scores for items 1..num_items and, when
trainable, ``encode(item_seq) -> (B, T, hidden)`` and ``item_scores(h, items=None)``.
"""
from __future__ import annotations

from .bert4rec import BERT4Rec
from .pop import Pop
from .sasrec import SASRec

MODELS = {"sasrec": SASRec, "bert4rec": BERT4Rec, "pop": Pop}


def build_model(name: str, **options):
    """Usage: build_model("bert4rec", num_items=..., attention="dot", max_len=50). Unknown names list the valid ones."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; valid: {', '.join(MODELS)}")
    return MODELS[name](**options)


__all__ = ["BERT4Rec", "MODELS", "Pop", "SASRec", "build_model"]
