"""The contract's invariants: no future leaks under causal, padding never changes real outputs, padded rows are 0.
And the documented exception: linrec_official leaks both, so its mask-ignoring label stays true."""
from __future__ import annotations

import pytest
import torch

from conftest import DEVICES, build, make_mask, make_qkv, refused_as_the_contract_says, runnable
from models.attention import get_spec

CAUSAL = [n for n in runnable("cpu") if get_spec(n).causal]
PADDING = [n for n in runnable("cpu") if get_spec(n).padding]
T = 70  # spans two 64-position chunks


def _fresh_after(t, tensors, seed):
    gen = torch.Generator().manual_seed(seed)
    out = []
    for x in tensors:
        x = x.clone()
        x[:, t + 1:] = torch.randn(x[:, t + 1:].shape, generator=gen, dtype=torch.float64).to(x) * 3.0
        out.append(x)
    return out


def _fresh_at(mask, tensors, seed):
    gen = torch.Generator().manual_seed(seed)
    out = []
    for x in tensors:
        x = x.clone()
        noise = torch.randn(x.shape, generator=gen, dtype=torch.float64).to(x) * 5.0
        out.append(torch.where(mask[:, :, None, None], noise, x))
    return out


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("padded", [False, True], ids=["nopad", "pad"])
@pytest.mark.parametrize("name", CAUSAL)
@pytest.mark.parametrize("t", [0, 10, 63, 64, 68])
def test_future_tokens_never_change_past_outputs(name, t, padded, device):
    attn = build(name, device)
    q, k, v = make_qkv(T=T, device=device)
    mask = make_mask(T=T, device=device) if padded else None
    if refused_as_the_contract_says(attn, device, q, k, v, causal=True, key_padding_mask=mask):
        return
    before = attn(q, k, v, causal=True, key_padding_mask=mask)
    after = attn(*_fresh_after(t, (q, k, v), seed=t), causal=True, key_padding_mask=mask)
    torch.testing.assert_close(after[:, :t + 1], before[:, :t + 1], rtol=0, atol=1e-12)
    assert not torch.allclose(after[:, t + 2:], before[:, t + 2:]) or t + 2 >= T  # the change was real


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", PADDING)
def test_padded_tokens_never_change_real_outputs(name, device):
    attn = build(name, device)
    mask = make_mask(T=T, device=device)
    q, k, v = make_qkv(T=T, device=device)
    if refused_as_the_contract_says(attn, device, q, k, v, key_padding_mask=mask):
        return
    for causal in ([False, True] if get_spec(name).causal else [False]):
        before = attn(q, k, v, causal=causal, key_padding_mask=mask)
        after = attn(*_fresh_at(mask, (q, k, v), seed=1), causal=causal, key_padding_mask=mask)
        real = ~mask
        torch.testing.assert_close(after[real], before[real], rtol=0, atol=1e-12)
        assert torch.all(after[mask] == 0) and torch.all(before[mask] == 0), "padded query rows must be exactly 0"


def _filled_at(mask, tensors, value):
    return [x.detach().masked_fill(mask[:, :, None, None], value).requires_grad_() for x in tensors]


@pytest.mark.parametrize("fill", [float("nan"), float("inf")], ids=["nan", "inf"])
@pytest.mark.parametrize("name", PADDING)
def test_non_finite_padding_never_reaches_real_outputs_or_gradients(name, fill):
    attn = build(name)
    mask = make_mask(T=T)
    clean = _filled_at(mask, make_qkv(T=T), 0.0)
    dirty = _filled_at(mask, make_qkv(T=T), fill)
    for causal in ([False, True] if get_spec(name).causal else [False]):
        outputs = [attn(*qkv, causal=causal, key_padding_mask=mask) for qkv in (clean, dirty)]
        torch.testing.assert_close(outputs[1][~mask], outputs[0][~mask], rtol=0, atol=1e-12)
        assert torch.all(outputs[1][mask] == 0), "padded query rows must be exactly 0, whatever they held"
        for qkv, out in zip((clean, dirty), outputs):
            for x in qkv:
                x.grad = None
            out.sum().backward()
        for x_clean, x_dirty in zip(clean, dirty):
            torch.testing.assert_close(x_dirty.grad[~mask], x_clean.grad[~mask], rtol=0, atol=1e-12)
            assert torch.all(x_dirty.grad[mask] == 0)
        assert all(torch.isfinite(p.grad).all() for p in attn.parameters() if p.grad is not None)
        weights = attn.matrix(*dirty[:2], causal=causal, key_padding_mask=mask)
        torch.testing.assert_close(weights, attn.matrix(*clean[:2], causal=causal, key_padding_mask=mask),
                                   rtol=0, atol=1e-12)


def test_linrec_official_leaks_the_future_and_reads_padding():
    """The official code ignores masks. If this test ever fails, its label (ignores_masks) is wrong."""
    spec = get_spec("linrec_official")
    assert spec.ignores_masks and not spec.causal and not spec.padding
    attn = build("linrec_official")
    q, k, v = make_qkv(T=20)
    before = attn(q, k, v, causal=True)
    after = attn(*_fresh_after(9, (q, k, v), seed=3), causal=True)
    assert (after[:, :10] - before[:, :10]).abs().max() > 1e-3, "future tokens should leak into the past"

    mask = make_mask(T=20)
    before = attn(q, k, v, key_padding_mask=mask)
    after = attn(*_fresh_at(mask, (q, k, v), seed=4), key_padding_mask=mask)
    assert (after[~mask] - before[~mask]).abs().max() > 1e-3, "padded tokens should leak into real outputs"
    assert (before[mask] != 0).any(), "official code does not zero padded rows"
