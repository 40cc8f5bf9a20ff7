"""The retnet mixer's own facts: options, fla's dims, the decays γ_h, rotary positions, retention by hand, the
matrix, and fla-core's naive references where they import.

The contract every mixer meets (fast path = naive loop, causality, padding, bf16, recall) is in test_mixers.py.
"""
from __future__ import annotations

import pytest
import torch

from models.mixers import MixerInputError, build_mixer, get_mixer_spec
from models.mixers.gated import chunked_gated, recurrent_gated
from models.mixers.retnet import decay_logs, rotary


def retnet(hidden=8, heads=2, **options):
    torch.manual_seed(0)
    return build_mixer("retnet", hidden=hidden, heads=heads, **options).double()


@pytest.mark.parametrize("options, message", [
    ({"expand_k": -1}, "expand_k must be a positive number"),
    ({"expand_v": None}, "expand_v must be a positive number"),
    ({"expand_v": 0.3}, "expand_v=0.3 gives hidden·expand_v = 2.4, not a positive integer"),
    ({"expand_k": 0.75}, "hidden·expand_k 6 is not divisible by the number of heads 4"),
    ({"expand_k": 0.5, "heads": 4}, "key dim per head hidden·expand_k/heads = 1 must be even"),
    ({"heads": 3}, "hidden 8 is not divisible by the number of heads 3"),
    ({"norm_eps": 0}, "norm_eps must be a positive number"),
    ({"chunk": -2}, "chunk must be a positive integer"),
], ids=lambda v: str(v))
def test_bad_options_are_one_line(options, message):
    with pytest.raises(MixerInputError, match=message) as error:
        build_mixer("retnet", hidden=8, **{"heads": 4 if "expand_k" in options else 2, **options})
    assert "\n" not in str(error.value)


def test_dims_follow_fla_defaults():
    mixer = retnet(hidden=64, heads=4)
    assert (mixer.q_proj.out_features, mixer.k_proj.out_features, mixer.v_proj.out_features) == (64, 64, 128)
    assert (mixer.head_k, mixer.head_v, mixer.scale) == (16, 32, 0.25)
    assert all(m.bias is None for m in (mixer.q_proj, mixer.k_proj, mixer.v_proj, mixer.g_proj, mixer.o_proj))
    spec = get_mixer_spec("retnet")
    assert spec.family == "retention" and spec.matrix and spec.state.startswith("fixed")


def test_decays_are_one_minus_two_to_the_minus_five_minus_h():
    gammas = decay_logs(4).exp()
    torch.testing.assert_close(gammas, torch.tensor([1 - 1 / 32, 1 - 1 / 64, 1 - 1 / 128, 1 - 1 / 256],
                                                    dtype=torch.float64), rtol=1e-15, atol=0)


def test_rotary_scores_depend_only_on_the_distance():
    g = torch.Generator().manual_seed(1)
    q, k = torch.randn(1, 1, 1, 6, generator=g, dtype=torch.float64), torch.randn(1, 1, 1, 6, generator=g,
                                                                                 dtype=torch.float64)
    T = 12
    rq, rk = rotary(q.expand(1, T, 1, 6)), rotary(k.expand(1, T, 1, 6))  # the same q, k at every position
    scores = (rq[0, :, 0] @ rk[0, :, 0].T)  # (T, T): q at t against k at s
    for distance in (0, 3, 7):
        diagonal = scores.diagonal(-distance)
        torch.testing.assert_close(diagonal, diagonal[:1].expand_as(diagonal), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(rq[0, 0], q[0, 0], rtol=0, atol=0)  # position 0 is not turned
    torch.testing.assert_close(rq.norm(dim=-1), q.norm(dim=-1).expand(1, T, 1), rtol=1e-12, atol=1e-12)


def test_retention_by_hand():
    g = torch.Generator().manual_seed(2)
    T, K, V, gamma = 6, 2, 3, 0.8
    q, k, v = (torch.randn(1, T, 1, d, generator=g, dtype=torch.float64) for d in (K, K, V))
    log_gate = torch.full((1, 1, 1, 1), gamma, dtype=torch.float64).log()
    expected = torch.zeros(T, V, dtype=torch.float64)
    for t in range(T):
        for s in range(t + 1):
            expected[t] += 0.5 * gamma ** (t - s) * float(q[0, t, 0] @ k[0, s, 0]) * v[0, s, 0]
    torch.testing.assert_close(recurrent_gated(q, k, v, log_gate, 0.5)[0, :, 0], expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(chunked_gated(q, k, v, log_gate, 0.5, 4)[0, :, 0], expected, rtol=1e-12,
                               atol=1e-12)


@pytest.mark.parametrize("padded", [False, True], ids=["full", "right-padded"])
def test_matrix_times_values_is_the_output_before_the_norm(padded):
    mixer = retnet(path="naive")
    x = torch.randn(2, 9, 8, dtype=torch.float64)
    mask = torch.zeros(2, 9, dtype=torch.bool)
    if padded:
        mask[0, 4:] = True
    q, k, v, log_gate = mixer.heads_of(x.masked_fill(mask[..., None], 0))
    o = recurrent_gated(q, k, v, log_gate, mixer.scale)  # (B, T, H, Dv)
    weights = mixer.matrix(x, key_padding_mask=mask if padded else None)  # (B, H, T, T)
    assert weights.shape == (2, 2, 9, 9) and torch.equal(weights.triu(1), torch.zeros_like(weights))
    real = ~mask
    torch.testing.assert_close((weights @ v.transpose(1, 2)).transpose(1, 2)[real], o[real], rtol=1e-10,
                               atol=1e-12)
    if padded:
        assert torch.equal(weights[0, :, :, 4:], torch.zeros_like(weights[0, :, :, 4:]))


def test_fla_naive_references_agree():
    pytest.importorskip("fla", reason="fla-core is not installed (optional reference)")
    from fla.modules.rotary.ops import rotary_embedding_ref
    from fla.ops.retention.naive import naive_retention
    g = torch.Generator().manual_seed(3)
    H, T, K, V = 3, 40, 4, 8
    q, k, v = (torch.randn(2, T, H, d, generator=g) for d in (K, K, V))
    log_gate = decay_logs(H, torch.float32).view(1, 1, H, 1)
    reference = naive_retention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)).transpose(1, 2)
    for ours in (recurrent_gated(q, k, v, log_gate, K ** -0.5), chunked_gated(q, k, v, log_gate, K ** -0.5, 16)):
        torch.testing.assert_close(ours, reference, rtol=1e-4, atol=1e-4)
    angle = torch.arange(T, dtype=torch.float32)[:, None] * 10000.0 ** (-torch.arange(0, K, 2) / K)  # (T, K/2)
    torch.testing.assert_close(rotary(q), rotary_embedding_ref(q, angle.cos(), angle.sin()), rtol=1e-5, atol=1e-5)
