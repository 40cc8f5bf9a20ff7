"""SASRec (Kang & McAuley, 2018) as in RecBole and the official LinRec code, with any registered token mixer.

Usage:
    model = SASRec(num_items=1349, attention="linrec", max_len=50)
    model = SASRec(num_items=1349, mixer="mamba", max_len=50, mixer_options={"d_state": 32}, block="published")
    scores = model.predict(item_seq, lengths)          # item_seq: (B, T) right-padded with 0 -> (B, num_items)
    h = model.encode(item_seq)                         # (B, T, hidden), for the training objectives
    logits = model.item_scores(h[:, -1])               # (B, num_items): scores of items 1..num_items

Learned absolute positions counted from the first item of the window, post-LN blocks, and scores given by the
shared item embedding (item i's score is <h, E[i]>). Sequences are right-padded (RecBole's layout) and the
padding mask is built from item id 0.

Causality: ``causal="auto"`` (the default) runs the attention causally when the variant supports it and
bidirectionally over the window when it does not, as the official LinRec did inside RecBole's SASRec. Under the
``last`` objective that is leak-free (every position in the window is in the past); the trainer refuses the
``all`` objective unless the model is causal and its attention honours masks.
"""
from __future__ import annotations

import torch

from models.mixers import check_causal, get_mixer_spec

from .blocks import SequenceEmbedding, SequenceModel, TransformerEncoder, block_frame, init_weights, resolve_mixer


def resolve_causal(mixer: str, causal) -> bool:
    """Usage: resolve_causal("linrec", "auto") -> False. True/False are checked against what the mixer supports."""
    spec = get_mixer_spec(mixer)
    if causal == "auto":
        return spec.causal
    check_causal(spec, bool(causal), "SASRec with causal=False")
    return bool(causal)


class SASRec(SequenceModel):
    def __init__(self, num_items: int, attention: str | None = None, max_len: int = 50, hidden: int = 64,
                 heads: int = 2, inner: int = 256, layers: int = 2, dropout: float = 0.2, activation: str = "gelu",
                 causal="auto", seed: int = 0, mixer: str | None = None, mixer_options: dict | None = None,
                 block: str = "controlled"):
        super().__init__()
        self.mixer = resolve_mixer(attention, mixer)
        published, residual = block_frame(self.mixer, block, layers)
        self.num_items, self.max_len = num_items, max_len
        self.history_len = max_len  # how many past items one input window holds
        self.causal = resolve_causal(self.mixer, causal)
        self.mask_respected = not get_mixer_spec(self.mixer).ignores_masks
        self.embedding = SequenceEmbedding(num_items + 1, hidden, max_len, dropout, published)
        self.encoder = TransformerEncoder(self.mixer, hidden, heads, inner, layers, dropout, max_len, activation,
                                          seed, mixer_options, residual)
        self.apply(init_weights)

    def item_scores(self, h: torch.Tensor, items: torch.Tensor | None = None) -> torch.Tensor:
        """Usage: item_scores(h) -> (..., num_items) over items 1..num_items; item_scores(h, items) -> (..., k)
        for the given item ids (..., k), as BCE with sampled negatives needs."""
        if items is None:
            return h @ self.embedding.items.weight[1:].T
        return (h.unsqueeze(-2) * self.embedding.items(items)).sum(-1)

    def predict(self, item_seq: torch.Tensor, lengths: torch.Tensor, padded: bool | None = None) -> torch.Tensor:
        """Usage: predict(item_seq, lengths) -> (B, num_items), scores for the item after each window; ``padded``
        as in encode."""
        h = self.encode(item_seq, padded)
        last = h[torch.arange(h.shape[0], device=h.device), lengths - 1]  # (B, hidden)
        return self.item_scores(last)
