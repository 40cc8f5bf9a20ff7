"""Transformer blocks shared by SASRec and BERT4Rec, with the attention taken by registry name.

Usage:
    encoder = TransformerEncoder("linrec", hidden=64, heads=2, inner=256, layers=2, dropout=0.2, max_len=50)
    h = encoder(x, causal=True, key_padding_mask=item_seq == 0)   # x, h: (B, T, hidden)

The blocks follow RecBole's ``layers.py`` (which the official LinRec code replaces in place): post-LN residual
blocks ``LayerNorm(x + Dropout(Dense(Attention(x))))`` then ``LayerNorm(h + Dropout(W2 act(W1 h)))``. One
deliberate difference: no dropout on attention probabilities, because linear attentions never form them; only the
hidden dropout is applied, identically for every variant, so the comparison stays like for like.
"""
from __future__ import annotations

import torch
from torch import nn

from models.attention import get_attention, get_spec

ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU}


class Dropout(nn.Dropout):
    """Usage: Dropout(0.2)(x): nn.Dropout with a cheaper mask on CPU: one int32 per element from torch's generator
    (uniform on [0, 2^31)), kept where it is >= round(p * 2^31), so P(keep) = 1 - p to within 2^-31; kept values
    are scaled by 1 / (1 - p) as nn.Dropout's are. PyTorch's CPU bernoulli_ costs about 7 ns an element on the
    reference 2-core CPU against about 2.5 ns for this mask, and made dropout about a fifth of a SASRec training
    step (d=128, T=2048, 8,192 tokens); with this mask the step ran 1.10-1.14x faster. Other devices, p = 0 and
    p = 1 take nn.Dropout's own path."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or x.device.type != "cpu" or self.p in (0.0, 1.0):
            return super().forward(x)
        keep = torch.empty(x.shape, dtype=torch.int32).random_() >= round(self.p * 2 ** 31)
        return torch.where(keep, x * (1.0 / (1.0 - self.p)), 0.0)


class MultiHeadAttention(nn.Module):
    """Usage: MultiHeadAttention("dot", hidden=64, heads=2, dropout=0.2, max_len=50)(x, causal=True,
    key_padding_mask=m). Projects x to (B, T, H, D) queries, keys and values, applies the named attention, then
    dense, dropout, residual and LayerNorm."""

    def __init__(self, attention: str, hidden: int, heads: int, dropout: float, max_len: int, seed: int = 0,
                 layer_norm_eps: float = 1e-12):
        super().__init__()
        if hidden % heads:
            raise ValueError(f"hidden size {hidden} is not divisible by the number of heads {heads}")
        self.heads, self.head_dim = heads, hidden // heads
        self.query, self.key, self.value = (nn.Linear(hidden, hidden) for _ in range(3))
        self.attention = get_attention(attention, head_dim=self.head_dim, max_len=max_len, seed=seed)
        self.dense = nn.Linear(hidden, hidden)
        self.dropout = Dropout(dropout)
        self.norm = nn.LayerNorm(hidden, eps=layer_norm_eps)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        B, T, _ = x.shape
        return x.view(B, T, self.heads, self.head_dim)  # (B, T, H, D)

    def forward(self, x: torch.Tensor, *, causal: bool, key_padding_mask: torch.Tensor | None) -> torch.Tensor:
        q, k, v = (self.split_heads(proj(x)) for proj in (self.query, self.key, self.value))
        context = self.attention(q, k, v, causal=causal, key_padding_mask=key_padding_mask)  # (B, T, H, D)
        context = context.reshape(x.shape)  # (B, T, hidden)
        return self.norm(x + self.dropout(self.dense(context)))

    def implicit_matrix(self, x: torch.Tensor, *, causal: bool, key_padding_mask=None) -> torch.Tensor:
        """Usage: layer.implicit_matrix(x, causal=True) -> (B, H, T, T), the weights this layer applies to V."""
        q, k = self.split_heads(self.query(x)), self.split_heads(self.key(x))
        return self.attention.matrix(q, k, causal=causal, key_padding_mask=key_padding_mask)


class FeedForward(nn.Module):
    """Usage: FeedForward(64, 256, dropout=0.2, activation="gelu")(h) -> LayerNorm(h + Dropout(W2 act(W1 h)))."""

    def __init__(self, hidden: int, inner: int, dropout: float, activation: str = "gelu", layer_norm_eps=1e-12):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; valid: {', '.join(ACTIVATIONS)}")
        self.net = nn.Sequential(nn.Linear(hidden, inner), ACTIVATIONS[activation](), nn.Linear(inner, hidden),
                                 Dropout(dropout))
        self.norm = nn.LayerNorm(hidden, eps=layer_norm_eps)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.norm(h + self.net(h))


class TransformerEncoder(nn.Module):
    """Usage: see the module docstring. ``layers`` post-LN blocks; each layer gets its own attention instance."""

    def __init__(self, attention: str, hidden: int, heads: int, inner: int, layers: int, dropout: float,
                 max_len: int, activation: str = "gelu", seed: int = 0):
        super().__init__()
        self.spec = get_spec(attention)
        self.attentions = nn.ModuleList(
            MultiHeadAttention(attention, hidden, heads, dropout, max_len, seed=seed + i) for i in range(layers))
        self.feed_forwards = nn.ModuleList(FeedForward(hidden, inner, dropout, activation) for _ in range(layers))

    def forward(self, x: torch.Tensor, *, causal: bool, key_padding_mask: torch.Tensor | None) -> torch.Tensor:
        for attention, feed_forward in zip(self.attentions, self.feed_forwards):
            x = feed_forward(attention(x, causal=causal, key_padding_mask=key_padding_mask))
        return x

    @torch.no_grad()
    def implicit_matrices(self, x: torch.Tensor, *, causal: bool, key_padding_mask=None) -> list[torch.Tensor]:
        """Usage: encoder.implicit_matrices(x, causal=True) -> one (B, H, T, T) matrix per layer."""
        matrices = []
        for attention, feed_forward in zip(self.attentions, self.feed_forwards):
            matrices.append(attention.implicit_matrix(x, causal=causal, key_padding_mask=key_padding_mask))
            x = feed_forward(attention(x, causal=causal, key_padding_mask=key_padding_mask))
        return matrices


class SequenceEmbedding(nn.Module):
    """Usage: SequenceEmbedding(num_rows, hidden, max_len, dropout)(item_seq) -> (B, T, hidden):
    item embedding (row 0 = padding) plus learned positions counted from the window's first slot, LN, dropout."""

    def __init__(self, num_rows: int, hidden: int, max_len: int, dropout: float):
        super().__init__()
        self.max_len = max_len
        self.items = nn.Embedding(num_rows, hidden, padding_idx=0)
        self.positions = nn.Embedding(max_len, hidden)
        self.norm = nn.LayerNorm(hidden, eps=1e-12)
        self.dropout = Dropout(dropout)

    def forward(self, item_seq: torch.Tensor) -> torch.Tensor:
        T = item_seq.shape[1]
        if T > self.max_len:
            raise ValueError(f"input window of {T} items is longer than the model's max_len {self.max_len}")
        positions = torch.arange(T, device=item_seq.device)
        x = self.items(item_seq) + self.positions(positions)[None]  # (B, T, hidden)
        return self.dropout(self.norm(x))


class SequenceModel(nn.Module):
    """Usage: subclass with ``self.embedding``, ``self.encoder`` and ``self.causal`` set; gives ``encode`` and
    ``implicit_matrices``, shared by SASRec and BERT4Rec."""

    def encode(self, item_seq: torch.Tensor, padded: bool | None = None) -> torch.Tensor:
        """Usage: model.encode(item_seq, padded) -> (B, T, hidden), with the padding mask built from item id 0.
        ``padded``: whether any window is padded, when the caller knows it on the host (see padding_mask)."""
        return self.encoder(self.embedding(item_seq), causal=self.causal,
                            key_padding_mask=padding_mask(item_seq, padded))

    @torch.no_grad()
    def implicit_matrices(self, item_seq: torch.Tensor) -> list[torch.Tensor]:
        """Usage: model.eval(); model.implicit_matrices(item_seq) -> one (B, H, T, T) matrix per layer."""
        return self.encoder.implicit_matrices(self.embedding(item_seq), causal=self.causal,
                                              key_padding_mask=padding_mask(item_seq))


def padding_mask(item_seq: torch.Tensor, padded: bool | None = None) -> torch.Tensor | None:
    """Usage: padding_mask(item_seq, padded) -> (B, T) bool, True where the id is 0 (padding); None when nothing
    is padded. ``padded`` given (the trainer knows its windows' lengths on the host) decides without reading the
    mask back; None reads it, which on CUDA waits for the device (a host synchronisation)."""
    if padded is False:
        return None
    mask = item_seq == 0
    return mask if padded or bool(mask.any()) else None


def init_weights(module: nn.Module, std: float = 0.02) -> None:
    """Usage: model.apply(init_weights). RecBole's initialisation: N(0, 0.02) weights, zero biases, unit LayerNorm.
    As in RecBole, the padding row of an embedding is drawn too (and then never updated): it matters only to
    attentions that ignore the padding mask, such as linrec_official, which see padded tokens as RecBole's did."""
    if isinstance(module, (nn.Linear, nn.Embedding)):
        module.weight.data.normal_(0.0, std)
    if isinstance(module, nn.LayerNorm):
        module.weight.data.fill_(1.0)
        module.bias.data.zero_()
    if isinstance(module, nn.Linear) and module.bias is not None:
        module.bias.data.zero_()
