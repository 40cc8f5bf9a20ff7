"""Sequential recommenders that take the attention by registry name, plus the popularity floor.

Usage:
    from models.backbones import build_model
    model = build_model("sasrec", num_items=1349, attention="linrec", max_len=50, hidden=64, heads=2)

What each can do (objectives, causal policy, one-pass training, a [MASK] slot) is its BackboneSpec (registry.py).
Each model has ``predict(item_seq, lengths) -> (B, num_items)`` scores for items 1..num_items and, when
trainable, ``encode(item_seq) -> (B, T, hidden)`` and ``item_scores(h, items=None)``.
"""
from __future__ import annotations

from .bert4rec import BERT4Rec
from .pop import Pop
from .registry import BackboneSpec, backbone_names, build_model, get_backbone, register_backbone
from .sasrec import SASRec

register_backbone("sasrec", SASRec, description="SASRec (Kang & McAuley 2018): left-to-right, next-item objectives",
                  objectives=("last", "all"), default_objective="last", direction="left-to-right", trainable=True,
                  one_pass=True)
register_backbone("bert4rec", BERT4Rec, description="BERT4Rec (Sun et al. 2019): bidirectional, cloze objective",
                  objectives=("cloze",), default_objective="cloze", direction="bidirectional", trainable=True,
                  mask_slot=True, model_options=("mask_ratio",))
register_backbone("pop", Pop, description="most popular items: the floor every model must beat",
                  objectives=("last",), default_objective="last", direction="none", trainable=False)
MODELS = {name: get_backbone(name).build for name in backbone_names()}  # the built-in ones, by name

__all__ = ["BERT4Rec", "BackboneSpec", "MODELS", "Pop", "SASRec", "backbone_names", "build_model", "get_backbone",
           "register_backbone"]
