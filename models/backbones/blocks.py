"""Transformer blocks shared by SASRec and BERT4Rec, with the token mixer taken by registry name.

Usage:
    encoder = TransformerEncoder("linrec", hidden=64, heads=2, inner=256, layers=2, dropout=0.2, max_len=50)
    encoder = TransformerEncoder("mamba", hidden=64, ..., mixer_options={"d_state": 32})
    h = encoder(x, causal=True, key_padding_mask=item_seq == 0)   # x, h: (B, T, hidden)

An attention runs inside ``MultiHeadAttention`` (query/key/value projections, dense); any other mixer
(models/mixers) owns its projections and runs inside ``MixerBlock``; both blocks then apply the same dropout,
residual and LayerNorm, and the same feed-forward follows, so only the token mixer changes between cells.

The blocks follow RecBole's ``layers.py`` (which the official LinRec code replaces in place): post-LN residual
blocks ``LayerNorm(x + Dropout(Dense(Attention(x))))`` then ``LayerNorm(h + Dropout(W2 act(W1 h)))``. One
deliberate difference: no dropout on attention probabilities, because linear attentions never form them; only the
hidden dropout is applied, identically for every variant, so the comparison stays like for like.
"""
from __future__ import annotations

import torch
from torch import nn

from models.attention import get_attention
from models.mixers import MixerInputError, build_mixer, get_mixer_spec, mixer_names

ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU}
BLOCKS = ("controlled", "published")  # the SASRec frame for every mixer, or the mixer's paper's own block


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
                 layer_norm_eps: float = 1e-12, options: dict | None = None):
        super().__init__()
        if hidden % heads:
            raise ValueError(f"hidden size {hidden} is not divisible by the number of heads {heads}")
        self.heads, self.head_dim = heads, hidden // heads
        self.query, self.key, self.value = (nn.Linear(hidden, hidden) for _ in range(3))
        self.attention = get_attention(attention, head_dim=self.head_dim, max_len=max_len, seed=seed,
                                       **(options or {}))
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


class MixerBlock(nn.Module):
    """Usage: MixerBlock("mamba", hidden=64, heads=2, dropout=0.2, max_len=50)(x, causal=True,
    key_padding_mask=m) -> LayerNorm(x + Dropout(Mixer(x))), the frame MultiHeadAttention gives an attention.
    ``residual=False`` drops the residual (Mamba4Rec's one-layer block)."""

    def __init__(self, mixer: str, hidden: int, heads: int, dropout: float, max_len: int, seed: int = 0,
                 options: dict | None = None, residual: bool = True, layer_norm_eps: float = 1e-12):
        super().__init__()
        self.mixer = build_mixer(mixer, hidden=hidden, heads=heads, max_len=max_len, seed=seed, **(options or {}))
        self.residual = residual
        self.dropout = Dropout(dropout)
        self.norm = nn.LayerNorm(hidden, eps=layer_norm_eps)

    def forward(self, x: torch.Tensor, *, causal: bool, key_padding_mask: torch.Tensor | None) -> torch.Tensor:
        mixed = self.dropout(self.mixer(x, causal=causal, key_padding_mask=key_padding_mask))
        return self.norm(x + mixed if self.residual else mixed)

    def implicit_matrix(self, x: torch.Tensor, *, causal: bool, key_padding_mask=None) -> torch.Tensor:
        """Usage: block.implicit_matrix(x, causal=True) -> (B, H, T, T), for mixers that have one."""
        if not self.mixer.spec.matrix:
            raise MixerInputError(f"mixer {self.mixer.spec.name!r} has no (T x T) matrix to draw: it is a "
                                  f"{self.mixer.spec.family}; heatmaps need an attention or a mixer with one")
        return self.mixer.matrix(x, causal=causal, key_padding_mask=key_padding_mask)


def token_mixer_block(mixer: str, hidden: int, heads: int, dropout: float, max_len: int, seed: int,
                      options: dict | None = None, residual: bool = True) -> nn.Module:
    """Usage: token_mixer_block("linrec", 64, 2, 0.2, 50, seed=0) -> MultiHeadAttention for an attention (options
    go to the attention), MixerBlock for any other mixer."""
    if get_mixer_spec(mixer).attention is None:
        return MixerBlock(mixer, hidden, heads, dropout, max_len, seed, options, residual)
    if not residual:
        raise MixerInputError(f"attention {mixer!r} always runs with its residual (MultiHeadAttention)")
    return MultiHeadAttention(mixer, hidden, heads, dropout, max_len, seed=seed, options=options)


class TransformerEncoder(nn.Module):
    """Usage: see the module docstring. ``layers`` post-LN blocks; each layer gets its own mixer instance. The
    ModuleList keeps the name ``attentions`` (also ``mixers``) so state dicts keep their keys."""

    def __init__(self, mixer: str, hidden: int, heads: int, inner: int, layers: int, dropout: float,
                 max_len: int, activation: str = "gelu", seed: int = 0, mixer_options: dict | None = None,
                 residual: bool = True):
        super().__init__()
        self.spec = get_mixer_spec(mixer)
        self.attentions = nn.ModuleList(
            token_mixer_block(mixer, hidden, heads, dropout, max_len, seed + i, mixer_options, residual)
            for i in range(layers))
        self.feed_forwards = nn.ModuleList(FeedForward(hidden, inner, dropout, activation) for _ in range(layers))

    @property
    def mixers(self) -> nn.ModuleList:
        return self.attentions

    def forward(self, x: torch.Tensor, *, causal: bool, key_padding_mask: torch.Tensor | None) -> torch.Tensor:
        for x in self.layer_outputs(x, causal=causal, key_padding_mask=key_padding_mask):
            pass
        return x

    def layer_outputs(self, x: torch.Tensor, *, causal: bool, key_padding_mask: torch.Tensor | None):
        """Usage: for h in encoder.layer_outputs(x, causal=True, key_padding_mask=m): ... each block's (B, T, hidden)
        output, first to last, one at a time (forward keeps only the last; RecBole's encoder returns them all)."""
        for mixer, feed_forward in zip(self.attentions, self.feed_forwards):
            x = feed_forward(mixer(x, causal=causal, key_padding_mask=key_padding_mask))
            yield x

    @torch.no_grad()
    def implicit_matrices(self, x: torch.Tensor, *, causal: bool, key_padding_mask=None) -> list[torch.Tensor]:
        """Usage: encoder.implicit_matrices(x, causal=True) -> one (B, H, T, T) matrix per layer."""
        matrices = []
        for mixer, feed_forward in zip(self.attentions, self.feed_forwards):
            matrices.append(mixer.implicit_matrix(x, causal=causal, key_padding_mask=key_padding_mask))
            x = feed_forward(mixer(x, causal=causal, key_padding_mask=key_padding_mask))
        return matrices


class SequenceEmbedding(nn.Module):
    """Usage: SequenceEmbedding(num_rows, hidden, max_len, dropout)(item_seq) -> (B, T, hidden):
    item embedding (row 0 = padding) plus learned positions counted from the window's first slot, LN, dropout.
    ``published=True``: Mamba4Rec's and LRURec's embedding: no positions (the recurrence orders the items), and
    dropout before the LayerNorm."""

    def __init__(self, num_rows: int, hidden: int, max_len: int, dropout: float, published: bool = False):
        super().__init__()
        self.max_len, self.published = max_len, published
        self.items = nn.Embedding(num_rows, hidden, padding_idx=0)
        self.positions = None if published else nn.Embedding(max_len, hidden)
        self.norm = nn.LayerNorm(hidden, eps=1e-12)
        self.dropout = Dropout(dropout)

    def forward(self, item_seq: torch.Tensor) -> torch.Tensor:
        T = item_seq.shape[1]
        if T > self.max_len:
            raise ValueError(f"input window of {T} items is longer than the model's max_len {self.max_len}")
        if self.published:
            return self.norm(self.dropout(self.items(item_seq)))  # (B, T, hidden)
        positions = torch.arange(T, device=item_seq.device)
        x = self.items(item_seq) + self.positions(positions)[None]  # (B, T, hidden)
        return self.dropout(self.norm(x))


def resolve_mixer(attention: str | None, mixer: str | None) -> str:
    """Usage: resolve_mixer(None, "mamba") -> "mamba": the token mixer, given as ``mixer`` or as ``attention`` (the
    older name, for attentions); both given and different, neither, or unknown: one line."""
    if mixer is not None and attention is not None and mixer != attention:
        raise MixerInputError(f"give the token mixer once: attention={attention!r} and mixer={mixer!r} differ")
    name = mixer if mixer is not None else attention
    if name is None:
        raise MixerInputError("no token mixer given: pass mixer=NAME (or attention=NAME); see python -m bench list")
    get_mixer_spec(name)  # an unknown name: one line with the valid ones
    return name


def block_frame(mixer: str, block: str, layers: int) -> tuple[bool, bool]:
    """Usage: block_frame("mamba", "published", layers=1) -> (published embedding, residual) = (True, False).
    "published" is the block of the mixer's paper (Mamba4Rec for mamba, LRURec for lru): embedding without
    positions, dropout before its LayerNorm, and Mamba4Rec's single layer without a residual; same feed-forward."""
    if block not in BLOCKS:
        raise MixerInputError(f"unknown block {block!r}; valid: {', '.join(BLOCKS)}")
    if block == "controlled":
        return False, True
    paper = get_mixer_spec(mixer).paper_block
    if paper is None:
        with_paper = [n for n in mixer_names() if get_mixer_spec(n).paper_block]
        raise MixerInputError(f"block 'published' is a paper's own block; mixer {mixer!r} has none (those with one: "
                              f"{', '.join(with_paper) or 'none'}); use block='controlled'")
    return True, not (paper == "Mamba4Rec" and layers == 1)


class SequenceModel(nn.Module):
    """Usage: subclass with ``self.embedding``, ``self.encoder`` and ``self.causal`` set; gives ``encode`` and
    ``implicit_matrices``, shared by SASRec and BERT4Rec."""

    def encode(self, item_seq: torch.Tensor, padded: bool | None = None) -> torch.Tensor:
        """Usage: model.encode(item_seq, padded) -> (B, T, hidden), with the padding mask built from item id 0.
        ``padded``: whether any window is padded, when the caller knows it on the host (see padding_mask)."""
        return self.encoder(self.embedding(item_seq), causal=self.causal,
                            key_padding_mask=padding_mask(item_seq, padded))

    def mixer_kernel_path(self, device="cpu") -> str | None:
        """Usage: model.mixer_kernel_path("cpu") -> the code path a non-attention mixer runs ("chunked", ...);
        None for an attention (its kernels report themselves)."""
        block = self.encoder.mixers[0]
        return block.mixer.kernel_path(device) if isinstance(block, MixerBlock) else None

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
