"""The work one profiling cell measures, built once with its inputs so that only the work itself is timed.

Usage:
    step = build_step(cell)      # inputs, module (and optimiser) built here, on cell.device in cell.dtype
    result = step()               # one call of the measured work; it returns what it computed (see below)

Modes at ``level="attention"`` (one attention call on (B, T, H, D) inputs):
    fwd     forward with autograd recording (inputs require grad), as in training; no backward
    fwdbwd  forward, then backward to q, k, v (and the variant's own parameters, if it has any)
    infer   forward under ``torch.inference_mode``
At ``level="mixer"`` the same three modes run one token-mixer block (models/backbones/blocks.py) on (B, T, d)
hidden states; fwdbwd differentiates the input and the block's parameters.
Modes at ``level="model"`` (SASRec or BERT4Rec on B windows of T random item ids, no padding):
    fwd     training-mode forward and loss (CE over all items: at the last position for SASRec, as in RecBole;
            at the masked positions for BERT4Rec)
    fwdbwd  one whole training step: forward, loss, backward and the Adam update
    infer   eval-mode full-ranking scores of every item for each window, under ``torch.inference_mode``
A step returns what it computed, so tests can check it: the attention output (fwd, infer) or the gradients
(fwdbwd); at model level the loss (fwd, fwdbwd) or the scores (infer). Timing and memory drop it at once.
At model level a dtype other than float32 runs under ``torch.autocast`` (parameters and optimiser stay fp32),
which is how mixed-precision training is done; at attention level the inputs themselves are in that dtype.
"""
from __future__ import annotations

import contextlib

import torch

from models.attention import AttentionUnavailable, AttentionUnsupported, get_attention
from models.backbones import build_model, get_backbone
from models.backbones.blocks import token_mixer_block
from models.mixers import get_mixer_spec, mixer_unavailable_reason

from ..train.batches import with_host_facts
from ..train.config import parse_mixer_options
from ..train.loop import compute_loss, to_device
from .cells import DTYPES, ProfileCell


def check_runnable(cell: ProfileCell) -> None:
    """Usage: check_runnable(cell). Raises AttentionUnavailable / AttentionUnsupported with the reason."""
    reason = mixer_unavailable_reason(cell.variant, cell.device)
    if reason is not None:
        raise AttentionUnavailable(reason)
    spec = get_mixer_spec(cell.variant)
    if cell.causal and not spec.causal:
        raise AttentionUnsupported(f"{cell.variant} cannot run causally (it has no causal form)")
    if not cell.causal and not spec.bidirectional:
        raise AttentionUnsupported(f"{cell.variant} is causal only (a left-to-right {spec.family}): it has no "
                                   f"bidirectional form")
    if cell.level == "model" and get_backbone(cell.model).direction == "bidirectional" and cell.causal:
        raise AttentionUnsupported(f"{cell.model} is bidirectional: a causal {cell.model} cell is not a {cell.model}")


def build_step(cell: ProfileCell, model=None):
    """Usage: see module docstring. Raises AttentionUnavailable / AttentionUnsupported / RuntimeError.
    ``model`` (model level): step this model (from model_for(cell)) instead of building one."""
    check_runnable(cell)
    torch.manual_seed(cell.seed)
    if cell.level == "attention":
        return _attention_step(cell)
    if cell.level == "mixer":
        return _mixer_step(cell)
    return _model_step(cell, model)


def _random(shape, generator: torch.Generator, cell: ProfileCell, requires_grad: bool) -> torch.Tensor:
    tensor = torch.randn(shape, generator=generator).to(device=cell.device, dtype=DTYPES[cell.dtype])
    return tensor.requires_grad_(requires_grad)


def _attention_step(cell: ProfileCell):
    generator = torch.Generator().manual_seed(cell.seed)
    attention = get_attention(cell.variant, head_dim=cell.D, max_len=cell.T, seed=cell.seed,
                              **parse_mixer_options(cell.options))
    attention = attention.to(device=cell.device, dtype=DTYPES[cell.dtype])
    shape = (cell.B, cell.T, cell.H, cell.D)
    training = cell.mode != "infer"
    q, k, v = (_random(shape, generator, cell, training) for _ in range(3))  # (B, T, H, D) each

    if cell.mode == "infer":
        def step():
            with torch.inference_mode():
                return attention(q, k, v, causal=cell.causal)
        return step

    if cell.mode == "fwd":
        def step():
            return attention(q, k, v, causal=cell.causal)  # the graph is recorded, then freed with the output
        return step

    grad_out = _random(shape, generator, cell, False)
    wrt = (q, k, v, *(p for p in attention.parameters() if p.requires_grad))

    def step():
        out = attention(q, k, v, causal=cell.causal)
        return torch.autograd.grad(out, wrt, grad_out)
    return step


def _mixer_step(cell: ProfileCell):
    """One token-mixer block on (B, T, d) hidden states; fwdbwd differentiates the input and every parameter."""
    generator = torch.Generator().manual_seed(cell.seed)
    block = token_mixer_block(cell.variant, cell.d, cell.H, 0.0, cell.T, seed=cell.seed,
                              options=parse_mixer_options(cell.options))
    block = block.to(device=cell.device, dtype=DTYPES[cell.dtype])
    training = cell.mode != "infer"
    x = _random((cell.B, cell.T, cell.d), generator, cell, training)  # (B, T, d)

    def forward():
        return block(x, causal=cell.causal, key_padding_mask=None)

    if cell.mode == "infer":
        block.eval()

        def step():
            with torch.inference_mode():
                return forward()
        return step
    if cell.mode == "fwd":
        return forward
    grad_out = _random(x.shape, generator, cell, False)
    wrt = (x, *(p for p in block.parameters() if p.requires_grad))

    def step():
        return torch.autograd.grad(forward(), wrt, grad_out)
    return step


def _model_batch(cell: ProfileCell, model, generator: torch.Generator) -> dict:
    """Random full-length windows: (B, T) item ids in 1..items, with the targets the model's objective needs."""
    item_seq = torch.randint(1, cell.items + 1, (cell.B, cell.T), generator=generator)
    lengths = torch.full((cell.B,), cell.T)
    if not get_backbone(cell.model).mask_slot:  # next-item targets; a [MASK] model predicts masked positions
        batch = {"item_seq": item_seq, "lengths": lengths,
                 "target": torch.randint(1, cell.items + 1, (cell.B,), generator=generator)}
    else:
        masked = torch.rand(item_seq.shape, generator=generator) < model.mask_ratio
        masked[:, -1] = True  # every window has a target, as the trainer guarantees
        batch = {"item_seq": torch.where(masked, model.mask_token, item_seq), "lengths": lengths,
                 "target": torch.where(masked, item_seq, 0)}
    return to_device(with_host_facts(batch), cell.device)  # what the step needs to know, known before it runs


def _inference_batch(cell: ProfileCell, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(item_seq, lengths) for ``predict``: BERT4Rec keeps the last slot free for its [MASK]."""
    item_seq = torch.randint(1, cell.items + 1, (cell.B, cell.T), generator=generator)
    history = cell.T - 1 if get_backbone(cell.model).mask_slot else cell.T
    item_seq[:, history:] = 0
    return item_seq.to(cell.device), torch.full((cell.B,), history, device=cell.device)


def model_for(cell: ProfileCell):
    """Usage: model = model_for(cell) -> the cell's SASRec or BERT4Rec (inner size 4d), on the cell's device."""
    options = {"causal": cell.causal} if get_backbone(cell.model).direction == "left-to-right" else {}
    return build_model(cell.model, num_items=cell.items, attention=cell.variant, max_len=cell.T, hidden=cell.d,
                       heads=cell.H, inner=4 * cell.d, layers=cell.layers, seed=cell.seed,
                       mixer_options=parse_mixer_options(cell.options), **options).to(cell.device)


def _model_step(cell: ProfileCell, model=None):
    generator = torch.Generator().manual_seed(cell.seed)
    model = model if model is not None else model_for(cell)
    dtype = DTYPES[cell.dtype]
    autocast = (torch.autocast(cell.device, dtype=dtype) if dtype != torch.float32 else contextlib.nullcontext())
    objective = get_backbone(cell.model).default_objective

    if cell.mode == "infer":
        model.eval()
        item_seq, lengths = _inference_batch(cell, generator)

        def step():
            with torch.inference_mode(), autocast:
                return model.predict(item_seq, lengths, padded=False)  # full windows (BERT4Rec: with its [MASK])
        return step

    model.train()
    batch = _model_batch(cell, model, generator)
    if cell.mode == "fwd":
        def step():
            with autocast:
                return compute_loss(model, batch, objective, "ce", generator)
        return step

    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        optimizer.zero_grad(set_to_none=True)
        with autocast:
            loss = compute_loss(model, batch, objective, "ce", generator)
        loss.backward()
        optimizer.step()
        return loss.detach()
    return step
