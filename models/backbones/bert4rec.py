"""BERT4Rec (Sun et al., 2019) as in RecBole, with any bidirectional token mixer (every attention), run so.

Usage:
    model = BERT4Rec(num_items=1349, attention="linrec", max_len=50)
    scores = model.predict(item_seq, lengths)   # item_seq: (B, T) right-padded, T >= max(lengths) + 1 -> (B, num_items)
    h = model.encode(masked_seq)                # (B, T, hidden); cloze training scores h at the masked positions

Item id ``num_items + 1`` is the [MASK] token. Prediction writes [MASK] right after the last real item of each
window and scores that position, so a window holds at most ``max_len - 1`` past items (``history_len``).
The output head is RecBole's: dense, GELU, LayerNorm, then the shared item embedding plus a per-item bias.
"""
from __future__ import annotations

import torch
from torch import nn

from models.mixers import check_causal, get_mixer_spec

from .blocks import SequenceEmbedding, SequenceModel, TransformerEncoder, block_frame, init_weights, resolve_mixer


class BERT4Rec(SequenceModel):
    def __init__(self, num_items: int, attention: str | None = None, max_len: int = 50, hidden: int = 64,
                 heads: int = 2, inner: int = 256, layers: int = 2, dropout: float = 0.2, activation: str = "gelu",
                 mask_ratio: float = 0.2, seed: int = 0, mixer: str | None = None, mixer_options: dict | None = None,
                 block: str = "controlled"):
        super().__init__()
        self.mixer = resolve_mixer(attention, mixer)
        check_causal(get_mixer_spec(self.mixer), False, "BERT4Rec")
        published, residual = block_frame(self.mixer, block, layers)
        if not 0 < mask_ratio < 1:
            raise ValueError(f"mask_ratio must lie strictly between 0 and 1, got {mask_ratio}")
        if max_len < 2:
            raise ValueError(f"BERT4Rec needs max_len >= 2 (one past item and the [MASK]), got {max_len}")
        self.num_items, self.max_len = num_items, max_len
        self.history_len = max_len - 1
        self.mask_token, self.mask_ratio = num_items + 1, mask_ratio
        self.causal = False
        self.mask_respected = not get_mixer_spec(self.mixer).ignores_masks
        self.embedding = SequenceEmbedding(num_items + 2, hidden, max_len, dropout, published)
        self.encoder = TransformerEncoder(self.mixer, hidden, heads, inner, layers, dropout, max_len, activation,
                                          seed, mixer_options, residual)
        self.output = nn.Sequential(nn.Linear(hidden, hidden), nn.GELU(), nn.LayerNorm(hidden, eps=1e-12))
        self.output_bias = nn.Parameter(torch.zeros(num_items))
        self.apply(init_weights)

    def item_scores(self, h: torch.Tensor, items: torch.Tensor | None = None) -> torch.Tensor:
        """Usage: item_scores(h) -> (..., num_items); item_scores(h, items) -> (..., k) for item ids (..., k)."""
        z = self.output(h)
        if items is None:
            return z @ self.embedding.items.weight[1:self.num_items + 1].T + self.output_bias
        return (z.unsqueeze(-2) * self.embedding.items(items)).sum(-1) + self.output_bias[items - 1]

    def with_mask_appended(self, item_seq: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Usage: with_mask_appended(seq, lengths) -> seq with [MASK] written at position lengths (B, T). The free
        slot is checked where lengths are on the host (reading them from a GPU would wait for it)."""
        if lengths.device.type == "cpu" and item_seq.shape[1] <= int(lengths.max()):
            raise ValueError(f"BERT4Rec.predict needs a free slot after every window: width {item_seq.shape[1]}, "
                             f"longest window {int(lengths.max())} (windows hold at most history_len items)")
        seq = item_seq.clone()
        seq[torch.arange(seq.shape[0], device=seq.device), lengths] = self.mask_token
        return seq

    def predict(self, item_seq: torch.Tensor, lengths: torch.Tensor, padded: bool | None = None) -> torch.Tensor:
        """Usage: predict(item_seq, lengths) -> (B, num_items); ``padded``: whether any window, [MASK] included,
        is shorter than T (as in encode)."""
        seq = self.with_mask_appended(item_seq, lengths)
        h = self.encode(seq, padded)
        return self.item_scores(h[torch.arange(h.shape[0], device=h.device), lengths])  # (B, num_items)
