"""models/mixers/scan.py: the chunked and in-place loop scans against the sequential reference, with gradients."""
from __future__ import annotations

import pytest
import torch

from models.mixers.scan import chunk_length, chunked_scan, loop_scan, sequential_scan


def operands(T: int, complex_: bool = False, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(2, T, 3, 4, generator=g, dtype=torch.float64) * 0.98 + 0.01  # decays in (0, 1)
    b = torch.randn(2, T, 3, 4, generator=g, dtype=torch.float64)
    if complex_:
        a = a * torch.exp(1j * torch.rand(2, T, 3, 4, generator=g, dtype=torch.float64))
        b = torch.complex(b, torch.randn(2, T, 3, 4, generator=g, dtype=torch.float64))
    return a.requires_grad_(), b.requires_grad_()


def by_hand(a, b):
    h, out = torch.zeros_like(b[:, 0]), []
    for t in range(b.shape[1]):
        h = a[:, t] * h + b[:, t]
        out.append(h)
    return torch.stack(out, 1)


@pytest.mark.parametrize("T", [1, 5, 16, 67], ids=lambda t: f"T{t}")
@pytest.mark.parametrize("scan", [chunked_scan, loop_scan], ids=["chunked", "loop"])
def test_scans_equal_the_sequential_loop_with_gradients(scan, T):
    a, b = operands(T)
    expected = sequential_scan(a, b)
    got = scan(a, b)
    assert torch.allclose(got, expected, atol=1e-12) and torch.allclose(expected, by_hand(a, b), atol=1e-12)
    weights = torch.randn_like(got)
    grads = torch.autograd.grad((got * weights).sum(), (a, b))
    reference = torch.autograd.grad((expected * weights).sum(), (a, b))
    assert all(torch.allclose(x, y, atol=1e-11) for x, y in zip(grads, reference))


def test_loop_scan_passes_gradcheck():
    a, b = operands(6)
    assert torch.autograd.gradcheck(loop_scan, (a, b))


def test_chunked_scan_takes_complex_decays_and_uneven_chunks():
    a, b = operands(23, complex_=True)
    assert torch.allclose(chunked_scan(a, b, chunk=4), by_hand(a, b), atol=1e-12)


def test_loop_scan_refuses_complex_in_one_line():
    a, b = operands(3, complex_=True)
    with pytest.raises(TypeError, match="loop_scan takes real tensors"):
        loop_scan(a, b)


def test_loop_scan_broadcasts_the_decay():
    a, b = operands(9)
    shared = a[:, :, :1, :1].detach()  # one decay per step for every state
    assert torch.allclose(loop_scan(shared, b), by_hand(shared.expand_as(b), b), atol=1e-12)


@pytest.mark.parametrize("T, expected", [(1, 8), (64, 8), (4096, 64), (16384, 128)])
def test_chunk_length_is_a_power_of_two_near_sqrt_t(T, expected):
    assert chunk_length(T) == expected
