"""The gla mixer's own facts: options, fla's dims and gate, the recurrence by hand, the matrix, the chunked form's
stability, and fla-core's naive reference where it imports.

The contract every mixer meets (fast path = naive loop, causality, padding, bf16, recall) is in test_mixers.py.
"""
from __future__ import annotations

import pytest
import torch

from models.mixers import MixerInputError, build_mixer, get_mixer_spec
from models.mixers.gated import chunked_gated, recurrent_gated


def gla(hidden=8, heads=2, **options):
    torch.manual_seed(0)
    return build_mixer("gla", hidden=hidden, heads=heads, **options).double()


@pytest.mark.parametrize("options, message", [
    ({"expand_k": 0}, "expand_k must be a positive number"),
    ({"expand_k": True}, "expand_k must be a positive number"),
    ({"expand_v": "1"}, "expand_v must be a positive number"),
    ({"expand_k": 0.3}, "expand_k=0.3 gives hidden·expand_k = 2.4, not a positive integer"),
    ({"expand_k": 0.375}, "hidden·expand_k 3 is not divisible by the number of heads 2"),
    ({"heads": 3}, "hidden 8 is not divisible by the number of heads 3"),
    ({"heads": 0}, "heads must be a positive integer"),
    ({"gate_low_rank": 0}, "gate_low_rank must be a positive integer"),
    ({"gate_low_rank": 2.5}, "gate_low_rank must be a positive integer"),
    ({"gate_logit_normalizer": 0}, "gate_logit_normalizer must be a positive number"),
    ({"norm_eps": -1e-5}, "norm_eps must be a positive number"),
    ({"chunk": 0}, "chunk must be a positive integer"),
], ids=lambda v: str(v))
def test_bad_options_are_one_line(options, message):
    with pytest.raises(MixerInputError, match=message) as error:
        build_mixer("gla", hidden=8, **{"heads": 2, **options})
    assert "\n" not in str(error.value)


def test_dims_and_gate_follow_fla_defaults():
    mixer = gla(hidden=64, heads=4)
    assert (mixer.q_proj.out_features, mixer.k_proj.out_features, mixer.v_proj.out_features) == (32, 32, 64)
    assert (mixer.head_k, mixer.head_v, mixer.scale) == (8, 16, 8 ** -0.5)
    low, up = mixer.gk_proj
    assert (low.out_features, low.bias, up.in_features, up.out_features) == (16, None, 16, 32)
    assert up.bias is not None and mixer.q_proj.bias is None and mixer.o_proj.bias is None
    assert torch.equal(mixer.norm.weight, torch.ones(16, dtype=torch.float64))  # one RMSNorm weight per head dim
    spec = get_mixer_spec("gla")
    assert spec.family == "gated linear attention" and spec.matrix and spec.state.startswith("fixed")


def test_gates_are_logsigmoid_over_the_normaliser():
    mixer = gla()
    x = torch.randn(1, 5, 8, dtype=torch.float64)
    _, _, _, log_gate = mixer.heads_of(x)
    expected = torch.nn.functional.logsigmoid(mixer.gk_proj(x)) / 16
    torch.testing.assert_close(log_gate, expected.view(1, 5, 2, 2), rtol=0, atol=0)
    assert (log_gate < 0).all()


def hand_gla(q, k, v, alpha, scale):
    """o_t = scale Σ_{s<=t} (Σ_d q_td k_sd Π_{s<i<=t} α_id) v_s, scalar by scalar (one batch, one head)."""
    T, K = q.shape
    out = torch.zeros(T, v.shape[1], dtype=q.dtype)
    for t in range(T):
        for s in range(t + 1):
            weight = 0.0
            for d in range(K):
                decay = 1.0
                for i in range(s + 1, t + 1):
                    decay *= float(alpha[i, d])
                weight += float(q[t, d]) * float(k[s, d]) * decay
            out[t] += scale * weight * v[s]
    return out


@pytest.mark.parametrize("chunk", [1, 2, 4], ids=lambda c: f"chunk{c}")
def test_loop_and_chunks_equal_the_formula_by_hand(chunk):
    g = torch.Generator().manual_seed(3)
    T, K, V = 5, 3, 2
    q, k, v = (torch.randn(1, T, 1, d, generator=g, dtype=torch.float64) for d in (K, K, V))
    log_gate = -torch.rand(1, T, 1, K, generator=g, dtype=torch.float64)
    expected = hand_gla(q[0, :, 0], k[0, :, 0], v[0, :, 0], log_gate[0, :, 0].exp(), 0.7)
    torch.testing.assert_close(recurrent_gated(q, k, v, log_gate, 0.7)[0, :, 0], expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(chunked_gated(q, k, v, log_gate, 0.7, chunk)[0, :, 0], expected, rtol=1e-12,
                               atol=1e-12)


def test_chunks_stay_finite_under_fast_decays():
    """Log-gates down to -50 a step: within a chunk of 64 the cumulative log-gate reaches about -1600, so a
    factorisation q·exp(b_t) k·exp(-b_s) would overflow even float64 (exp(1600) = inf)."""
    g = torch.Generator().manual_seed(4)
    q, k, v = (torch.randn(1, 200, 2, 4, generator=g, dtype=torch.float64) for _ in range(3))
    log_gate = -50 * torch.rand(1, 200, 2, 4, generator=g, dtype=torch.float64)
    fast, slow = chunked_gated(q, k, v, log_gate, 0.5, 64), recurrent_gated(q, k, v, log_gate, 0.5)
    assert torch.isfinite(fast).all()
    torch.testing.assert_close(fast, slow, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("padded", [False, True], ids=["full", "right-padded"])
def test_matrix_times_values_is_the_output_before_the_norm(padded):
    mixer = gla(path="naive")
    x = torch.randn(2, 9, 8, dtype=torch.float64)
    mask = torch.zeros(2, 9, dtype=torch.bool)
    if padded:
        mask[1, 6:] = True
    q, k, v, log_gate = mixer.heads_of(x.masked_fill(mask[..., None], 0))
    o = recurrent_gated(q, k, v, log_gate, mixer.scale)  # (B, T, H, Dv)
    weights = mixer.matrix(x, key_padding_mask=mask if padded else None)  # (B, H, T, T)
    assert weights.shape == (2, 2, 9, 9) and torch.equal(weights.triu(1), torch.zeros_like(weights))
    real = ~mask
    torch.testing.assert_close((weights @ v.transpose(1, 2)).transpose(1, 2)[real], o[real], rtol=1e-10,
                               atol=1e-12)
    if padded:
        assert torch.equal(weights[1, :, 6:], torch.zeros_like(weights[1, :, 6:]))
        assert torch.equal(weights[1, :, :, 6:], torch.zeros_like(weights[1, :, :, 6:]))


def test_fla_naive_reference_agrees():
    naive = pytest.importorskip("fla.ops.gla.naive", reason="fla-core is not installed (optional reference)")
    g = torch.Generator().manual_seed(5)
    q, k, v = (torch.randn(2, 37, 2, d, generator=g) for d in (4, 4, 8))
    log_gate = torch.nn.functional.logsigmoid(torch.randn(2, 37, 2, 4, generator=g)) / 16
    reference, _ = naive.naive_recurrent_gla(q, k, v, log_gate)  # (B, T, H, Dv), scale Dk^-0.5
    for ours in (recurrent_gated(q, k, v, log_gate, 4 ** -0.5), chunked_gated(q, k, v, log_gate, 4 ** -0.5, 8)):
        torch.testing.assert_close(ours, reference, rtol=1e-5, atol=1e-5)
