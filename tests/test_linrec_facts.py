"""Facts about LinRec and its neighbours that are easy to get wrong (the official code's maths, its ignored masks)."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from conftest import build, make_mask, make_qkv
from models.attention.dot import dot_matrix


def official_transcription(q, k, v):
    """The official layer's steps in its own layouts: heads first, keys transposed to (B, H, D, T),
    1 / norm multiplied in by einsum, then Q^ (K^ V) / sqrt(D)."""
    query = q.permute(0, 2, 1, 3)  # (B, H, T, D)
    key = k.permute(0, 2, 3, 1)  # (B, H, D, T)
    value = v.permute(0, 2, 1, 3)  # (B, H, T, D)
    elu_q, elu_k = F.elu(query), F.elu(key)
    q_inv = 1 / torch.norm(elu_q, dim=3, p=2)  # (B, H, T)
    k_inv = 1 / torch.norm(elu_k, dim=2, p=2)  # (B, H, T)
    q_hat = torch.einsum("mnij,mni->mnij", elu_q, q_inv)
    k_hat = torch.einsum("mnij,mnj->mnij", elu_k, k_inv)
    context = torch.matmul(q_hat, torch.matmul(k_hat, value)) / q.shape[-1] ** 0.5  # (B, H, T, D)
    return context.permute(0, 2, 1, 3)  # (B, T, H, D)


def test_linrec_official_is_the_official_computation():
    q, k, v = make_qkv(T=17)
    torch.testing.assert_close(build("linrec_official")(q, k, v), official_transcription(q, k, v),
                               rtol=1e-12, atol=1e-12)


def test_linrec_without_padding_equals_official():
    q, k, v = make_qkv(T=17)
    torch.testing.assert_close(build("linrec")(q, k, v), build("linrec_official")(q, k, v), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(build("linrec_causal")(q, k, v), build("linrec")(q, k, v), rtol=1e-12, atol=1e-12)


def test_linrec_weights_are_scaled_cosines_not_probabilities():
    q, k, _ = make_qkv(T=40)
    weights = build("linrec").matrix(q, k)
    assert (weights < 0).any(), "ELU features can be negative, so can the weights"
    assert weights.abs().max() <= q.shape[-1] ** -0.5 + 1e-12, "|cosine| / sqrt(D) <= 1 / sqrt(D)"
    assert (weights.sum(-1) - 1).abs().max() > 0.1, "no denominator: rows do not sum to 1"


def test_sequence_axis_normalisation_gives_unit_key_columns_over_real_positions():
    from models.attention.linrec import linrec_features
    q, k, _ = make_qkv(T=12)
    mask = make_mask(T=12)
    q_hat, k_hat = linrec_features(q, k, mask, norm="seq")
    torch.testing.assert_close(k_hat.norm(dim=1), torch.ones_like(k_hat[:, 0]), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(q_hat.norm(dim=-1), torch.ones_like(q_hat[..., 0]), rtol=1e-12, atol=1e-12)
    assert torch.all(k_hat[mask] == 0)


@pytest.mark.parametrize("name", ["dot", "linear_elu", "efficient", "performer", "cosformer"])
def test_normalised_variants_have_rows_that_sum_to_one(name):
    q, k, _ = make_qkv(T=25)
    mask = make_mask(T=25)
    weights = build(name).matrix(q, k, key_padding_mask=mask)
    real_rows = ~mask[:, None, :].expand(-1, weights.shape[1], -1)
    torch.testing.assert_close(weights.sum(-1)[real_rows], torch.ones(int(real_rows.sum()), dtype=torch.float64))
    assert (weights >= 0).all()


def test_performer_approximates_softmax_attention():
    """FAVOR+ is an unbiased estimator of the softmax kernel: with many features it must come close."""
    q, k, _ = (x * 0.5 for x in make_qkv(B=2, T=10))
    approx = build("performer", num_features=8192).matrix(q, k)
    exact = dot_matrix(q, k)
    assert (approx - exact).abs().max() < 0.03
    few = build("performer", num_features=8).matrix(q, k)
    assert (few - exact).abs().max() > (approx - exact).abs().max(), "more features must approximate better"


def test_cosformer_reweighting_decays_with_distance():
    """With identical tokens everywhere, the weight of key j for query i falls as |i - j| grows."""
    x = torch.ones(1, 9, 1, 4, dtype=torch.float64)
    weights = build("cosformer").matrix(x, x)[0, 0]
    assert torch.all(weights[4, :4].diff() > 0) and torch.all(weights[4, 4:].diff() < 0)


def test_linformer_implicit_matrix_ignores_padded_columns():
    q, k, _ = make_qkv(T=11)
    mask = make_mask(T=11)
    weights = build("linformer").matrix(q, k, key_padding_mask=mask)
    assert torch.all(weights.permute(0, 2, 1, 3)[mask] == 0)  # padded query rows
    assert torch.all(weights.transpose(1, 3)[mask] == 0)  # padded key columns
