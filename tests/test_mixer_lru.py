"""The lru mixer's own facts: options, LRURec's ring initialisation, the recurrence by hand, every path equal.

The contract every mixer meets (fast path = naive loop, causality, padding, bf16, recall) is in test_mixers.py.
"""
from __future__ import annotations

import math

import pytest
import torch

from models.mixers import MixerInputError, build_mixer
from models.mixers.lru import matmul_scan, ring_init
from models.mixers.scan import sequential_scan


def lru(**options):
    torch.manual_seed(0)
    return build_mixer("lru", hidden=8, **options).double()


@pytest.mark.parametrize("options, message", [
    ({"r_min": 0.9, "r_max": 0.9}, "0 <= r_min < r_max < 1"),
    ({"r_min": 0.95, "r_max": 0.5}, "0 <= r_min < r_max < 1"),
    ({"r_max": 1.0}, "0 <= r_min < r_max < 1"),
    ({"r_min": -0.1}, "0 <= r_min < r_max < 1"),
    ({"r_min": float("nan")}, "r_min must be a finite number"),
    ({"r_max": "0.9"}, "r_max must be a finite number"),
    ({"max_phase": 0}, "max_phase must be > 0"),
    ({"max_phase": -1.0}, "max_phase must be > 0"),
    ({"state_multiplier": 0}, "state_multiplier must be a positive integer"),
    ({"state_multiplier": 1.5}, "state_multiplier must be a positive integer"),
], ids=lambda v: "-".join(f"{k}={v}" for k, v in v.items()) if isinstance(v, dict) else None)
def test_bad_options_are_one_line(options, message):
    with pytest.raises(MixerInputError, match=message) as error:
        build_mixer("lru", hidden=8, **options)
    assert "\n" not in str(error.value)


def test_bidirectional_call_is_refused():
    with pytest.raises(MixerInputError, match="causal only"):
        lru()(torch.randn(1, 3, 8, dtype=torch.float64), causal=False)


@pytest.mark.parametrize("r_min, r_max, max_phase", [(0.8, 0.99, 2 * math.pi), (0.0, 0.5, math.pi / 10)],
                         ids=["lrurec", "wide-ring-small-phase"])
def test_ring_initialisation(r_min, r_max, max_phase):
    nu_log, theta_log, gamma_log = ring_init(4000, r_min, r_max, max_phase, torch.Generator().manual_seed(0))
    radius = torch.exp(-torch.exp(nu_log.double()))
    phase = torch.exp(theta_log.double())
    assert radius.min() >= r_min - 1e-6 and radius.max() <= r_max + 1e-6
    assert phase.min() >= 0 and phase.max() <= max_phase + 1e-6
    assert torch.allclose(torch.exp(gamma_log.double()), torch.sqrt(1 - radius ** 2), atol=1e-5)
    assert (radius ** 2).mean().item() == pytest.approx((r_min ** 2 + r_max ** 2) / 2, abs=0.02)  # |λ|² uniform


def test_state_size_and_parameters_follow_lrurec():
    m = build_mixer("lru", hidden=16)
    assert m.states == 32 and m.in_real.shape == (32, 16) and m.out_real.shape == (16, 32)
    weights = torch.cat([m.in_real.flatten(), m.in_imag.flatten(), m.out_real.flatten(), m.out_imag.flatten()])
    assert weights.abs().max() <= 0.04 and 0.01 < weights.std() < 0.02  # N(0, 0.02) cut at ±0.04


def test_recurrence_by_hand():
    """One state, three steps: h_t = λ h_{t-1} + γ (b x_t + c), y_t = Re(w h_t) + e."""
    m = build_mixer("lru", hidden=1, state_multiplier=1).double()
    with torch.no_grad():
        m.nu_log.fill_(math.log(0.3))
        m.theta_log.fill_(math.log(0.7))
        m.gamma_log.fill_(math.log(0.5))
        for p, v in [(m.in_real, 2.0), (m.in_imag, -1.0), (m.in_bias_real, 0.1), (m.in_bias_imag, 0.2),
                     (m.out_real, 0.5), (m.out_imag, 3.0), (m.out_bias_real, -0.25)]:
            p.fill_(v)
    lam = complex(math.exp(-0.3) * math.cos(0.7), math.exp(-0.3) * math.sin(0.7))
    x = [1.0, -2.0, 0.5]
    h, expected = 0j, []
    for x_t in x:
        h = lam * h + 0.5 * (complex(2.0, -1.0) * x_t + complex(0.1, 0.2))
        expected.append((complex(0.5, 3.0) * h).real - 0.25)
    for path in ("naive", "chunked", "auto"):
        m.path = path
        y = m(torch.tensor(x, dtype=torch.float64).reshape(1, 3, 1))
        assert torch.allclose(y.flatten(), torch.tensor(expected, dtype=torch.float64), atol=1e-12), path


@pytest.mark.parametrize("T, chunk", [(1, 4), (5, 4), (16, 4), (70, 4), (300, 8)], ids=lambda v: str(v))
def test_matmul_scan_equals_the_loop_at_every_depth(T, chunk):
    """T > chunk² solves the chunk ends by a second level of the same form."""
    g = torch.Generator().manual_seed(T)
    log_lambda = torch.complex(-torch.rand(6, generator=g, dtype=torch.float64),
                               torch.rand(6, generator=g, dtype=torch.float64) * 6)
    drive = torch.randn(2, T, 6, generator=g, dtype=torch.complex128)
    assert torch.allclose(matmul_scan(log_lambda, drive, chunk), sequential_scan(torch.exp(log_lambda), drive),
                          atol=1e-12)


def test_chunked_path_equals_naive_with_gradients():
    m = lru()
    x = torch.randn(2, 37, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(2), requires_grad=True)
    results = []
    for path in ("naive", "chunked"):
        m.path = path
        y = m(x)
        results.append((y, torch.autograd.grad(y.square().sum(), [x, *m.parameters()])))
    (y0, g0), (y1, g1) = results
    assert torch.allclose(y0, y1, atol=1e-12)
    assert all(torch.allclose(a, b, atol=1e-11) for a, b in zip(g0, g1))


def test_kernel_path_names_the_form():
    assert lru().kernel_path() == "chunked-matmul"
    assert lru(path="naive").kernel_path("cuda") == "naive"
