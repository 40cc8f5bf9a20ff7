"""Every mixer that is not an attention, held to the mixer contract (models/mixers/registry.py).

Fast path against the naive loop in float64 (outputs and every gradient), causality, right padding, bf16, one-line
errors, and a recall task that a model without token mixing cannot learn. Family-specific checks (options, the
reference libraries) live beside each family's tests.
"""
from __future__ import annotations

import pytest
import torch
from torch import nn

from models.backbones import SASRec
from models.mixers import MixerInputError, build_mixer, get_mixer_spec, is_attention, mixer_names

MIXERS = [name for name in mixer_names() if not is_attention(name)]
HIDDEN, HEADS = 8, 2


def make(name: str, T: int = 40, dtype=torch.float64, **options) -> nn.Module:
    torch.manual_seed(0)
    return build_mixer(name, hidden=HIDDEN, heads=HEADS, max_len=T, **options).to(dtype)


def inputs(T: int, B: int = 2, dtype=torch.float64, seed: int = 1) -> torch.Tensor:
    return torch.randn(B, T, HIDDEN, generator=torch.Generator().manual_seed(seed), dtype=dtype)


@pytest.mark.parametrize("T", [1, 7, 40, 130], ids=lambda t: f"T{t}")
@pytest.mark.parametrize("name", MIXERS)
def test_fast_path_equals_naive_loop_with_gradients(name, T):
    mixer = make(name, T)
    x = inputs(T).requires_grad_()
    mask = torch.zeros(2, T, dtype=torch.bool)
    mask[0, T // 2 + 1:] = True  # one right-padded row
    results = []
    for path in ("auto", "naive"):
        mixer.path = path
        mixer.zero_grad()
        x.grad = None
        y = mixer(x, causal=True, key_padding_mask=mask)
        (y * torch.linspace(-1, 1, y.numel(), dtype=y.dtype).view_as(y)).sum().backward()
        results.append((y.detach(), x.grad.clone(), [p.grad.clone() for p in mixer.parameters()]))
    (y_fast, dx_fast, dp_fast), (y_naive, dx_naive, dp_naive) = results
    torch.testing.assert_close(y_fast, y_naive, rtol=1e-9, atol=1e-10)
    torch.testing.assert_close(dx_fast, dx_naive, rtol=1e-9, atol=1e-10)
    for fast, naive in zip(dp_fast, dp_naive):
        torch.testing.assert_close(fast, naive, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("name", MIXERS)
def test_future_items_never_change_past_outputs(name):
    T, cut = 50, 23
    mixer = make(name, T)
    x = inputs(T)
    changed = x.clone()
    changed[:, cut + 1:] = torch.randn_like(changed[:, cut + 1:]) * 5
    y, y_changed = mixer(x, causal=True), mixer(changed, causal=True)
    torch.testing.assert_close(y[:, :cut + 1], y_changed[:, :cut + 1], rtol=0, atol=1e-12)
    assert not torch.allclose(y[:, cut + 1:], y_changed[:, cut + 1:])  # the future does change the future


@pytest.mark.parametrize("name", MIXERS)
def test_right_padding_never_changes_real_outputs(name):
    T, length = 30, 17
    mixer = make(name, T)
    x = inputs(T, B=1)
    padded = x.clone()
    padded[:, length:] = float("nan")  # whatever padding holds, it never reaches a real output
    mask = torch.zeros(1, T, dtype=torch.bool)
    mask[:, length:] = True
    y = mixer(padded, causal=True, key_padding_mask=mask)
    torch.testing.assert_close(y[:, :length], mixer(x[:, :length], causal=True), rtol=1e-12, atol=1e-12)
    assert torch.equal(y[:, length:], torch.zeros_like(y[:, length:]))


@pytest.mark.parametrize("name", MIXERS)
def test_bf16_runs_close_to_float32(name):
    T = 64
    mixer = make(name, T, dtype=torch.float32)
    x = inputs(T, dtype=torch.float32)
    reference = mixer(x, causal=True)
    y = mixer.to(torch.bfloat16)(x.bfloat16(), causal=True)
    assert y.dtype == torch.bfloat16 and torch.isfinite(y).all()
    error = (y.float() - reference).norm() / reference.norm()
    assert error < 0.05, f"{name}: bf16 relative error {error:.3f}"


@pytest.mark.parametrize("name", MIXERS)
def test_spec_says_what_the_mixer_can_do(name):
    spec = get_mixer_spec(name)
    assert spec.causal and spec.state and spec.family and spec.description
    mixer = make(name)
    assert mixer.kernel_path("cpu") and mixer.spec is spec
    assert sum(p.numel() for p in mixer.parameters() if p.requires_grad) > 0
    if not spec.bidirectional:
        with pytest.raises(MixerInputError, match="causal only"):
            mixer(inputs(5), causal=False)


@pytest.mark.parametrize("name", MIXERS)
def test_bad_inputs_and_options_are_one_line(name):
    mixer = make(name)
    for bad, message in [(torch.randn(2, 5, HIDDEN + 1, dtype=torch.float64), "must be \\(B, T, hidden"),
                         (torch.randn(5, HIDDEN, dtype=torch.float64), "must be \\(B, T, hidden"),
                         (torch.ones(2, 5, HIDDEN, dtype=torch.long), "floating dtype")]:
        with pytest.raises(MixerInputError, match=message):
            mixer(bad, causal=True)
    with pytest.raises(MixerInputError, match="key_padding_mask must be a bool"):
        mixer(inputs(5), causal=True, key_padding_mask=torch.zeros(2, 5))
    with pytest.raises(MixerInputError, match="has no option nope"):
        build_mixer(name, hidden=HIDDEN, nope=1)
    with pytest.raises(MixerInputError, match="has no path 'fastest'"):
        build_mixer(name, hidden=HIDDEN, heads=HEADS, path="fastest")


def recall_batch(generator: torch.Generator, batch: int, T: int, K: int, vocab: int) -> torch.Tensor:
    """Windows whose item t+1 repeats item t+1-K: the next item is the one K-1 steps before the current one."""
    start = torch.randint(1, vocab + 1, (batch, K), generator=generator)
    return start.repeat(1, -(-T // K) + 1)[:, :T + 1]  # (B, T + 1)


class NoMixing(nn.Module):
    """The control: the block without its mixer (each position sees only its own item and position)."""

    def forward(self, x, *, causal, key_padding_mask=None):
        return torch.zeros_like(x)


def recall_accuracy(model: SASRec, T: int, K: int, vocab: int, steps: int) -> float:
    generator = torch.Generator().manual_seed(0)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(steps):
        seq = recall_batch(generator, 32, T, K, vocab)
        logits = model.item_scores(model.encode(seq[:, :-1]))  # (B, T, vocab)
        loss = nn.functional.cross_entropy(logits[:, K - 1:].reshape(-1, vocab), seq[:, K:].reshape(-1) - 1)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    model.eval()
    seq = recall_batch(generator, 256, T, K, vocab)
    with torch.no_grad():
        predicted = model.item_scores(model.encode(seq[:, :-1])).argmax(-1) + 1
    return (predicted[:, K - 1:] == seq[:, K:]).float().mean().item()


def recall_model(name: str, T: int, vocab: int) -> SASRec:
    torch.manual_seed(0)
    return SASRec(vocab, mixer=name, max_len=T, hidden=32, heads=2, inner=64, layers=1, dropout=0.0)


@pytest.mark.parametrize("name", MIXERS)
def test_recall_task_is_learned(name):
    T, K, vocab = 16, 4, 12
    assert recall_accuracy(recall_model(name, T, vocab), T, K, vocab, steps=500) > 0.9


def test_recall_task_needs_token_mixing():
    T, K, vocab = 16, 4, 12
    model = recall_model("gru", T, vocab)
    for block in model.encoder.mixers:
        block.mixer = NoMixing()
    assert recall_accuracy(model, T, K, vocab, steps=300) < 0.3
