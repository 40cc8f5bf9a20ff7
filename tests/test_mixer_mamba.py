"""The mamba mixer's own facts: options, Mamba's initialisation, the scan by hand, and mambapy as outside reference.

The contract every mixer meets (fast path = naive loop, causality, padding, bf16, recall) is in test_mixers.py.
"""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from models.mixers import MixerInputError, build_mixer
from models.mixers.mamba import SCANS, dt_bias_init


def mamba(**options):
    torch.manual_seed(0)
    return build_mixer("mamba", hidden=8, **options).double()


@pytest.mark.parametrize("option, value, message", [
    ("d_state", 0, "d_state must be a positive integer"),
    ("d_state", -3, "d_state must be a positive integer"),
    ("d_conv", 0, "d_conv must be a positive integer"),
    ("expand", 1.5, "expand must be a positive integer"),
    ("expand", 0, "expand must be a positive integer"),
    ("expand", True, "expand must be a positive integer"),
    ("dt_rank", 0, "dt_rank must be a positive integer"),
], ids=lambda v: str(v))
def test_bad_options_are_one_line(option, value, message):
    with pytest.raises(MixerInputError, match=message) as error:
        build_mixer("mamba", hidden=8, **{option: value})
    assert "\n" not in str(error.value)


def test_bidirectional_call_is_refused():
    with pytest.raises(MixerInputError, match="causal only"):
        mamba()(torch.randn(1, 3, 8, dtype=torch.float64), causal=False)


def test_initialisation_is_mambas():
    m = build_mixer("mamba", hidden=64, d_state=32, expand=2)
    assert m.channels == 128 and m.dt_rank == 4  # ceil(64 / 16)
    A = -torch.exp(m.A_log)
    assert torch.allclose(A, -torch.arange(1, 33, dtype=torch.float32).expand(128, 32))  # S4D-real
    dt = F.softplus(m.dt_bias)
    assert dt.min() >= 1e-4 - 1e-9 and dt.max() <= 0.1 + 1e-6
    assert torch.equal(m.D, torch.ones(128))
    assert m.in_proj.bias is None and m.out_proj.bias is None and m.conv1d.bias is not None


def test_dt_bias_spreads_log_uniformly():
    dt = F.softplus(dt_bias_init(20000, torch.Generator().manual_seed(0)))
    logs = torch.log(dt)
    assert logs.mean().item() == pytest.approx((math.log(1e-3) + math.log(0.1)) / 2, abs=0.03)


def test_scan_matches_the_formula_by_hand():
    """Two steps, one channel, two states: h1 = Δ1 B1 u1, h2 = exp(Δ2 A) h1 + Δ2 B2 u2, y = C·h + D u."""
    u = torch.tensor([[[2.0], [3.0]]], dtype=torch.float64)  # (1, 2, 1)
    delta = torch.tensor([[[0.5], [0.25]]], dtype=torch.float64)
    A = torch.tensor([[-1.0, -2.0]], dtype=torch.float64)
    B = torch.tensor([[[1.0, 2.0], [0.5, -1.0]]], dtype=torch.float64)
    C = torch.tensor([[[1.0, 1.0], [2.0, 0.5]]], dtype=torch.float64)
    D = torch.tensor([0.1], dtype=torch.float64)
    h1 = 0.5 * 2.0 * torch.tensor([1.0, 2.0], dtype=torch.float64)
    h2 = torch.exp(0.25 * A[0]) * h1 + 0.25 * 3.0 * torch.tensor([0.5, -1.0], dtype=torch.float64)
    expected = torch.stack([h1.sum() + 0.2, (torch.tensor([2.0, 0.5], dtype=torch.float64) * h2).sum() + 0.3])
    for name in ("naive", "chunked", "loop"):
        assert torch.allclose(SCANS[name](u, delta, A, B, C, D)[0, :, 0], expected, atol=1e-12), name


def test_kernel_path_on_cpu_and_cuda_names():
    assert mamba().kernel_path("cpu") == "naive"  # the fastest on CPU where training runs (see mamba.py)
    assert mamba(path="chunked").kernel_path("cuda") == "chunked"
    assert mamba().kernel_path("cuda") in ("mamba-ssm", "loop (mamba-ssm not installed)")


@pytest.mark.parametrize("path", ["chunked", "loop"])
@pytest.mark.parametrize("T", [1, 9, 70], ids=lambda t: f"T{t}")
def test_materialising_scans_equal_the_step_loop_with_gradients(path, T):
    m = mamba()
    x = torch.randn(2, T, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(T), requires_grad=True)
    results = []
    for name in ("naive", path):
        m.path = name
        y = m(x)
        results.append((y, torch.autograd.grad((y * torch.cos(y)).sum(), [x, *m.parameters()])))
    (y0, g0), (y1, g1) = results
    assert torch.allclose(y0, y1, atol=1e-12)
    assert all(torch.allclose(a, b, atol=1e-10) for a, b in zip(g0, g1))


def copy_into_mambapy(ours, theirs) -> None:
    """Our weights into a mambapy MambaBlock: the same layers under its names (dt_proj holds our Δ projection)."""
    with torch.no_grad():
        theirs.in_proj.weight.copy_(ours.in_proj.weight)
        theirs.conv1d.weight.copy_(ours.conv1d.weight)
        theirs.conv1d.bias.copy_(ours.conv1d.bias)
        theirs.x_proj.weight.copy_(ours.x_proj.weight)
        theirs.dt_proj.weight.copy_(ours.dt_weight)
        theirs.dt_proj.bias.copy_(ours.dt_bias)
        theirs.A_log.copy_(ours.A_log)
        theirs.D.copy_(ours.D)
        theirs.out_proj.weight.copy_(ours.out_proj.weight)


@pytest.mark.parametrize("pscan", [False, True], ids=["mambapy-sequential", "mambapy-pscan"])
def test_block_equals_mambapy(pscan):
    mambapy = pytest.importorskip("mambapy.mamba", reason="mambapy (the outside reference) is not installed")
    config = mambapy.MambaConfig(d_model=16, n_layers=1, d_state=8, expand_factor=2, d_conv=4, pscan=pscan)
    theirs = mambapy.MambaBlock(config).double()
    ours = build_mixer("mamba", hidden=16, d_state=8, expand=2, d_conv=4).double()
    copy_into_mambapy(ours, theirs)
    x = torch.randn(2, 16, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(3), requires_grad=True)
    mine = ours(x, causal=True)
    reference = theirs(x)
    # mambapy computes A = -exp(A_log.float()) in float32, so agreement stops near 1e-11, not at float64 rounding
    assert torch.allclose(mine, reference, atol=1e-9, rtol=0)
    grad_mine, = torch.autograd.grad(mine.square().sum(), x)
    grad_ref, = torch.autograd.grad(reference.square().sum(), x)
    assert torch.allclose(grad_mine, grad_ref, atol=1e-8, rtol=0)
