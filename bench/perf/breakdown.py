"""Where a model's training step spends its time: attention, feed-forward, item scoring, optimiser, the rest.

Usage:
    steps = breakdown_steps(cell)      # cell: a model-level "fwdbwd" ProfileCell; {"total": step, "attention": ...}
    times = time_breakdown(cell)       # {"total": ms, "attention": ms, ..., "rest": ms} (medians)

Method: each part is the very module of the built model, timed alone (forward and backward, on inputs of the
shapes it sees inside the step, built outside the timed call), and multiplied by the number of layers where it
repeats; ``rest`` is the whole step minus the parts (embeddings, the q/k/v and output projections, layer norms,
dropout, the loss's gather): honest about what was not isolated, and it can come out slightly negative when the
parts' own timing noise exceeds it. The optimiser part is one Adam step over every parameter with gradients set.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..profile.cells import ProfileCell
from ..profile.steps import build_step, model_for
from ..profile.timing import time_step

PARTS = ("attention", "feed_forward", "item_scoring", "optimiser")


def _leaf(shape, generator) -> torch.Tensor:
    return torch.randn(shape, generator=generator).requires_grad_()


def breakdown_steps(cell: ProfileCell) -> dict:
    """Usage: see module docstring. Each value is a no-argument callable running one part once."""
    if cell.level != "model" or cell.mode != "fwdbwd" or cell.model != "sasrec" or cell.device != "cpu":
        raise ValueError("a breakdown is of a SASRec training step on CPU: level model, mode fwdbwd")
    model = model_for(cell)
    total = build_step(cell, model)
    generator = torch.Generator().manual_seed(cell.seed)
    block = model.encoder.attentions[0]
    q, k, v = (_leaf((cell.B, cell.T, cell.H, cell.D), generator) for _ in range(3))  # (B, T, H, D)
    grad_attention = torch.randn(cell.B, cell.T, cell.H, cell.D, generator=generator)
    hidden = _leaf((cell.B, cell.T, cell.d), generator)  # (B, T, d)
    grad_hidden = torch.randn(cell.B, cell.T, cell.d, generator=generator)
    last = _leaf((cell.B, cell.d), generator)  # (B, d): the last position of each window
    target = torch.randint(0, cell.items, (cell.B,), generator=generator)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for parameter in model.parameters():
        parameter.grad = torch.zeros_like(parameter)

    def attention():
        out = block.attention(q, k, v, causal=model.causal, key_padding_mask=None)
        torch.autograd.grad(out, [q, k, v], grad_attention)

    def feed_forward():
        out = model.encoder.feed_forwards[0](hidden)
        torch.autograd.grad(out, [hidden, *model.encoder.feed_forwards[0].parameters()], grad_hidden)

    def item_scoring():
        loss = F.cross_entropy(model.item_scores(last), target)
        torch.autograd.grad(loss, [last, model.embedding.items.weight])

    return {"total": total, "attention": attention, "feed_forward": feed_forward, "item_scoring": item_scoring,
            "optimiser": optimizer.step}


def time_breakdown(cell: ProfileCell, warmup: int = 2, repeats: int = 10, max_seconds: float = 20.0) -> dict:
    """Usage: see module docstring. Milliseconds (medians); attention and feed-forward count every layer."""
    steps = breakdown_steps(cell)
    times = {name: time_step(step, cell.device, warmup, repeats, max_seconds)["median"]
             for name, step in steps.items()}
    for repeated in ("attention", "feed_forward"):
        times[repeated] *= cell.layers
    times["rest"] = times["total"] - sum(times[part] for part in PARTS)
    return times
