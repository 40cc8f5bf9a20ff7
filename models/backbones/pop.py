"""Most-popular reference model: every user gets the same scores, the item's count in the training data.

Usage:
    model = Pop(num_items=1349)
    model.fit(train_items)                       # 1-D tensor of the item ids seen in training (0 = padding, ignored)
    scores = model.predict(item_seq, lengths)    # (B, num_items), identical rows

A sanity floor for reports: a sequential model that does not beat it has learned nothing about order or taste.
"""
from __future__ import annotations

import torch
from torch import nn


class Pop(nn.Module):
    causal = True
    mask_respected = True

    def __init__(self, num_items: int, max_len: int = 1, **_ignored):
        super().__init__()
        self.num_items, self.max_len, self.history_len = num_items, max_len, max_len
        self.register_buffer("counts", torch.zeros(num_items))

    def fit(self, train_items: torch.Tensor) -> "Pop":
        items = train_items[train_items > 0]
        self.counts = torch.bincount(items - 1, minlength=self.num_items).to(self.counts)
        return self

    def predict(self, item_seq: torch.Tensor, lengths: torch.Tensor, padded: bool | None = None) -> torch.Tensor:
        return self.counts.expand(item_seq.shape[0], -1)
