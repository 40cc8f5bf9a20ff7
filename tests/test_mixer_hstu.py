"""The hstu mixer's own facts: options, the reference layer's initialisation, the relative bias, the matrix, the
bidirectional run, and the pointwise attention by hand.

The contract every mixer meets (fast path = naive loop, causality, padding, bf16, recall) is in test_mixers.py.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from models.backbones import SASRec
from models.mixers import MixerInputError, build_mixer
from models.mixers.hstu import blocked_attention, naive_attention, relative_bias

HIDDEN, HEADS = 8, 2


def hstu(max_len: int = 12, **options):
    torch.manual_seed(0)
    return build_mixer("hstu", hidden=HIDDEN, heads=HEADS, max_len=max_len, **options).double()


def inputs(T: int, B: int = 2, seed: int = 1) -> torch.Tensor:
    return torch.randn(B, T, HIDDEN, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def randomise_biases(mixer):
    """The backbone zeroes Linear biases; random ones make padded rows' SiLU(b1) non-zero, a harder case."""
    with torch.no_grad():
        mixer.in_proj.bias.normal_(0, 0.5)
        mixer.out_proj.bias.normal_(0, 0.5)
    return mixer


@pytest.mark.parametrize("options, message", [
    ({"heads": 0}, "heads must be a positive integer"),
    ({"heads": 3}, "hidden 8 is not divisible by the number of heads 3"),
    ({"max_len": 0}, "max_len must be a positive integer"),
    ({"max_len": 2.5}, "max_len must be a positive integer"),
    ({"hidden": True}, "hidden must be a positive integer"),
], ids=["heads-0", "heads-not-dividing", "max_len-0", "max_len-float", "hidden-bool"])
def test_bad_options_are_one_line(options, message):
    with pytest.raises(MixerInputError, match=message) as error:
        build_mixer("hstu", **{"hidden": HIDDEN, "heads": HEADS, "max_len": 10, **options})
    assert "\n" not in str(error.value)


def test_window_longer_than_max_len_is_one_line():
    mixer = hstu(max_len=6)
    for call in (lambda: mixer(inputs(7), causal=True), lambda: mixer.matrix(inputs(7))):
        with pytest.raises(MixerInputError, match="T=7 items, more than max_len=6") as error:
            call()
        assert "\n" not in str(error.value)
    assert mixer(inputs(6), causal=True).shape == (2, 6, HIDDEN)


def test_initialisation_is_the_reference_layers():
    torch.manual_seed(0)
    mixer = build_mixer("hstu", hidden=64, heads=2, max_len=2000)
    assert mixer.head_dim == 32 and mixer.in_proj.out_features == 4 * 64  # U, V, Q, K of H·D = hidden each
    assert mixer.rab.shape == (2 * 2000 - 1,)  # one table for every head, signed distances -(N-1)..(N-1)
    assert mixer.rab.std().item() == pytest.approx(0.02, rel=0.05) and abs(mixer.rab.mean().item()) < 0.002
    assert mixer.kernel_path("cpu") == mixer.kernel_path("cuda") == "blocked"
    mixer.path = "naive"
    assert mixer.kernel_path("cpu") == "naive"


def test_backbone_init_keeps_the_position_bias():
    torch.manual_seed(0)
    model = SASRec(20, mixer="hstu", max_len=500, hidden=16, heads=2, layers=1)
    mixer = model.encoder.mixers[0].mixer
    assert mixer.rab.std().item() == pytest.approx(0.02, rel=0.1)  # not re-initialised by init_weights
    assert torch.equal(mixer.in_proj.bias, torch.zeros_like(mixer.in_proj.bias))  # the Linear ones are


def test_relative_bias_depends_only_on_distance():
    max_len, T = 9, 6
    table = torch.randn(2 * max_len - 1, dtype=torch.float64)
    bias = relative_bias(table, T, max_len)
    for i in range(T):
        for j in range(T):
            assert bias[i, j] == table[max_len - 1 + j - i]
            if i + 1 < T and j + 1 < T:
                assert bias[i + 1, j + 1] == bias[i, j]  # Toeplitz: shifting both positions changes nothing
    assert bias[0, 0] == table[max_len - 1]  # distance 0 sits in the middle of the table


def test_bias_alone_sets_the_weights_when_queries_are_zero():
    """With Q = 0 (W1's Q rows and bias 0) every score is rab[j - i]: A[i, j] = SiLU(rab[j - i]) / N."""
    max_len, T = 10, 7
    mixer = hstu(max_len=max_len)
    with torch.no_grad():
        mixer.in_proj.weight[2 * HIDDEN:3 * HIDDEN] = 0  # the Q block
        mixer.in_proj.bias.zero_()
        mixer.rab.normal_()
    weights = mixer.matrix(inputs(T), causal=False)
    want = F.silu(relative_bias(mixer.rab, T, max_len)) / max_len  # (T, T)
    torch.testing.assert_close(weights, want.expand(2, HEADS, T, T), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("causal", [True, False], ids=["causal", "bidirectional"])
@pytest.mark.parametrize("path", ["auto", "naive"])
def test_matrix_rows_reproduce_the_output_before_the_norm(path, causal):
    T = 9
    mixer = randomise_biases(hstu(path=path))
    x = inputs(T)
    mask = torch.zeros(2, T, dtype=torch.bool)
    mask[1, 5:] = True
    x = x.masked_fill(mask[..., None], float("nan"))
    weights = mixer.matrix(x, causal=causal, key_padding_mask=mask)  # (B, H, T, T)
    assert weights.shape == (2, HEADS, T, T)
    clean = x.masked_fill(mask[..., None], 0)
    u, v, q, k = mixer.projections(clean)
    mixed = mixer.attend(v, q, k, causal, mask)  # (B, T, hidden)
    want = torch.einsum("bhij,bjhd->bihd", weights, v).reshape(2, T, HIDDEN)
    real = ~mask
    torch.testing.assert_close(mixed[real], want[real], rtol=1e-12, atol=1e-14)
    assert torch.equal(weights[1, :, :, 5:], torch.zeros_like(weights[1, :, :, 5:]))  # padded keys
    if causal:
        assert torch.equal(weights.triu(1), torch.zeros_like(weights))  # no key after its query


def test_forward_matches_the_formula_by_hand():
    """T = 3, one head: y_i = W2 (LN(sum_j SiLU(q_i·k_j + rab[j - i]) / N v_j) ⊙ u_i) + b2, scalar loops."""
    torch.manual_seed(3)
    max_len, T, d = 4, 3, 4
    mixer = build_mixer("hstu", hidden=d, heads=1, max_len=max_len).double()
    randomise_biases(mixer)
    x = torch.randn(1, T, d, dtype=torch.float64)
    for path in ("auto", "naive"):
        mixer.path = path
        for causal in (True, False):
            h = F.silu(x[0] @ mixer.in_proj.weight.T + mixer.in_proj.bias)  # (T, 4d)
            u, v, q, k = h[:, :d], h[:, d:2 * d], h[:, 2 * d:3 * d], h[:, 3 * d:]
            rows = []
            for i in range(T):
                acc = torch.zeros(d, dtype=torch.float64)
                for j in range(i + 1 if causal else T):
                    score = sum(q[i, c] * k[j, c] for c in range(d)) + mixer.rab[max_len - 1 + j - i]
                    acc = acc + F.silu(score) / max_len * v[j]
                normed = (acc - acc.mean()) / torch.sqrt(acc.var(unbiased=False) + 1e-6)
                rows.append(mixer.out_proj.weight @ (normed * u[i]) + mixer.out_proj.bias)
            got = mixer(x, causal=causal)[0]
            torch.testing.assert_close(got, torch.stack(rows), rtol=1e-10, atol=1e-12)


def test_bidirectional_run_sees_the_future_and_differs_from_causal():
    T, cut = 10, 4
    mixer = hstu()
    x = inputs(T)
    y_causal, y_both = mixer(x, causal=True), mixer(x, causal=False)
    assert y_both.shape == (2, T, HIDDEN) and not torch.allclose(y_causal, y_both)
    torch.testing.assert_close(y_causal[:, -1], y_both[:, -1])  # the last query sees every key either way
    changed = x.clone()
    changed[:, cut + 1:] += 3
    assert not torch.allclose(mixer(changed, causal=False)[:, :cut + 1], y_both[:, :cut + 1])


@pytest.mark.parametrize("path", ["auto", "naive"])
def test_bidirectional_padding_never_reaches_real_outputs(path):
    T, length = 12, 7
    mixer = randomise_biases(hstu(path=path))
    x = inputs(T, B=1)
    padded = x.clone()
    padded[:, length:] = float("nan")
    mask = torch.zeros(1, T, dtype=torch.bool)
    mask[:, length:] = True
    y = mixer(padded, causal=False, key_padding_mask=mask)
    torch.testing.assert_close(y[:, :length], mixer(x[:, :length], causal=False), rtol=1e-12, atol=1e-12)
    assert torch.equal(y[:, length:], torch.zeros_like(y[:, length:]))


def test_bidirectional_fast_path_equals_naive_loop_with_gradients():
    T = 11
    mixer = randomise_biases(hstu(max_len=T))
    x = inputs(T).requires_grad_()
    mask = torch.zeros(2, T, dtype=torch.bool)
    mask[0, 6:] = True
    results = []
    for path in ("auto", "naive"):
        mixer.path = path
        mixer.zero_grad()
        x.grad = None
        y = mixer(x, causal=False, key_padding_mask=mask)
        (y * torch.linspace(-1, 1, y.numel(), dtype=y.dtype).view_as(y)).sum().backward()
        results.append([y.detach(), x.grad.clone()] + [p.grad.clone() for p in mixer.parameters()])
    for fast, naive in zip(*results):
        torch.testing.assert_close(fast, naive, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("causal", [True, False], ids=["causal", "bidirectional"])
@pytest.mark.parametrize("block", [1, 3, 5, 64], ids=lambda b: f"block{b}")
def test_query_blocks_equal_the_naive_loop_with_gradients(block, causal):
    """Several query blocks, a short last one, and padding inside a block (test_mixers.py's T <= 130 is one)."""
    B, T, H, D, max_len = 2, 13, 2, 3, 16
    generator = torch.Generator().manual_seed(2)
    q, k, v = (torch.randn(B, T, H, D, generator=generator, dtype=torch.float64).requires_grad_() for _ in range(3))
    table = torch.randn(2 * max_len - 1, generator=generator, dtype=torch.float64).requires_grad_()
    mask = torch.zeros(B, T, dtype=torch.bool)
    mask[1, 8:] = True
    results = []
    for run in (lambda: blocked_attention(q, k, v, table, max_len, causal, mask, block=block),
                lambda: naive_attention(q, k, v, table, max_len, causal, mask)):
        out = run()
        grads = torch.autograd.grad((out * torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)).sum(),
                                    (q, k, v, table))
        results.append((out, *grads))
    for fast, naive in zip(*results):
        torch.testing.assert_close(fast, naive, rtol=1e-9, atol=1e-10)
