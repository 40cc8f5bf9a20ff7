"""Every variant against its own naive O(T^2) formula (its implicit matrix times V), in float64: outputs and grads."""
from __future__ import annotations

import pytest
import torch

from conftest import DEVICES, build, causal_modes, make_mask, make_qkv, refused_as_the_contract_says, runnable

CASES = [pytest.param(name, causal, padded,
                      id=f"{name}-{'causal' if causal else 'full'}-{'pad' if padded else 'nopad'}")
         for name in runnable("cpu") for causal in causal_modes(name) for padded in (False, True)]


def naive_output(attn, q, k, v, causal, mask):
    weights = attn.matrix(q, k, causal=causal, key_padding_mask=mask)  # (B, H, T, T)
    return torch.einsum("bhij,bjhd->bihd", weights, v)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name,causal,padded", CASES)
def test_output_and_gradients_match_naive_reference(name, causal, padded, device):
    attn = build(name, device)
    q, k, v = make_qkv(T=70, device=device, requires_grad=True)  # 70 > one 64-position chunk
    mask = make_mask(T=70, device=device) if padded else None
    if refused_as_the_contract_says(attn, device, q, k, v, causal=causal, key_padding_mask=mask):
        return  # float64 into a fused CUDA kernel; test_exact covers these in bf16
    grad_out = torch.randn_like(q)

    fast = attn(q, k, v, causal=causal, key_padding_mask=mask)
    fast_grads = torch.autograd.grad((fast * grad_out).sum(), (q, k, v))
    slow = naive_output(attn, q, k, v, causal, mask)
    slow_grads = torch.autograd.grad((slow * grad_out).sum(), (q, k, v))

    assert fast.shape == q.shape and fast.dtype == q.dtype
    torch.testing.assert_close(fast, slow, rtol=1e-9, atol=1e-10)
    for label, got, want in zip("qkv", fast_grads, slow_grads):
        torch.testing.assert_close(got, want, rtol=1e-8, atol=1e-9, msg=lambda m: f"grad {label}: {m}")


@pytest.mark.parametrize("name", ["linrec_causal", "linear_elu", "cosformer", "performer"])
@pytest.mark.parametrize("chunk_size", [1, 5, 64, 1000], ids=lambda c: f"chunk{c}")
def test_causal_chunking_is_exact_for_any_chunk_size(name, chunk_size):
    attn = build(name, chunk_size=chunk_size)
    q, k, v = make_qkv(T=23)
    mask = make_mask(T=23)
    got = attn(q, k, v, causal=True, key_padding_mask=mask)
    torch.testing.assert_close(got, naive_output(attn, q, k, v, True, mask), rtol=1e-9, atol=1e-10)


def test_dot_matches_a_row_by_row_softmax():
    """dot is the oracle of the exact variants, so it gets its own independent check: one row at a time."""
    q, k, v = make_qkv(B=3, T=9)
    mask = make_mask(B=3, T=9)
    out = build("dot")(q, k, v, causal=True, key_padding_mask=mask)
    for b in range(3):
        for h in range(q.shape[2]):
            for i in range(9):
                if mask[b, i]:
                    assert torch.all(out[b, i, h] == 0)
                    continue
                keys = [j for j in range(i + 1) if not mask[b, j]]
                logits = torch.stack([q[b, i, h] @ k[b, j, h] for j in keys]) / q.shape[-1] ** 0.5
                want = (torch.softmax(logits, 0)[:, None] * v[b, keys, h]).sum(0)
                torch.testing.assert_close(out[b, i, h], want, rtol=1e-12, atol=1e-12)
