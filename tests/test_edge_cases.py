"""Edge cases: T = 1, all-padding rows, zero vectors, bf16, large magnitudes, and bad input with clear errors."""
from __future__ import annotations

import pytest
import torch

from conftest import DEVICES, build, causal_modes, make_qkv, refused_as_the_contract_says, runnable
from models.attention import AttentionInputError, AttentionUnsupported, get_spec

ALL = runnable("cpu")
MASK_AWARE = [n for n in ALL if not get_spec(n).ignores_masks]
MODES = [pytest.param(n, c, id=f"{n}-{'causal' if c else 'full'}") for n in ALL for c in causal_modes(n)]


@pytest.mark.parametrize("name,causal", MODES)
def test_single_token(name, causal):
    attn = build(name)
    q, k, v = make_qkv(T=1)
    out = attn(q, k, v, causal=causal)
    want = torch.einsum("bhij,bjhd->bihd", attn.matrix(q, k, causal=causal), v)
    assert out.shape == q.shape
    torch.testing.assert_close(out, want, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("name", MASK_AWARE)
def test_all_padding_row_gives_zeros_not_nan(name):
    attn = build(name)
    q, k, v = make_qkv(B=2, T=6, requires_grad=True)
    mask = torch.zeros(2, 6, dtype=torch.bool)
    mask[1] = True
    for causal in causal_modes(name):
        out = attn(q, k, v, causal=causal, key_padding_mask=mask)
        assert torch.isfinite(out).all() and torch.all(out[1] == 0)
        grads = torch.autograd.grad(out.sum(), (q, k, v))
        assert all(torch.isfinite(g).all() for g in grads)
        weights = attn.matrix(q, k, causal=causal, key_padding_mask=mask)
        assert torch.isfinite(weights).all() and torch.all(weights[1] == 0)


@pytest.mark.parametrize("name", MASK_AWARE)
def test_zero_vectors_stay_finite(name):
    attn = build(name)
    q, k, v = (torch.zeros(2, 5, 2, 8, dtype=torch.float64, requires_grad=True) for _ in range(3))
    for causal in causal_modes(name):
        out = attn(q, k, v, causal=causal)
        assert torch.isfinite(out).all()
        assert all(torch.isfinite(g).all() for g in torch.autograd.grad(out.sum(), (q, k, v)))


def test_linrec_official_gives_nan_on_zero_vectors_like_the_official_code():
    """No epsilon in the official maths: ||ELU(0)|| = 0 divides by zero. linrec adds the epsilon."""
    q = torch.zeros(1, 3, 1, 4)
    assert torch.isnan(build("linrec_official")(q, q, q)).all()
    assert torch.all(build("linrec")(q, q, q) == 0)


@pytest.mark.parametrize("name,causal", MODES)
def test_bfloat16_inputs_are_close_to_the_float64_reference(name, causal):
    attn = build(name)
    q, k, v = make_qkv(T=40)
    want = torch.einsum("bhij,bjhd->bihd", attn.matrix(q, k, causal=causal), v)
    got = attn(*(x.bfloat16() for x in (q, k, v)), causal=causal)
    assert got.dtype == torch.bfloat16
    rel = (got.double() - want).norm() / want.norm()
    assert rel < 3e-2, f"relative error {rel:.3g}"


@pytest.mark.parametrize("name,causal", MODES)
@pytest.mark.parametrize("scale", [1e2, 1e4], ids=["x1e2", "x1e4"])
def test_large_magnitude_inputs_do_not_overflow(name, causal, scale):
    if get_spec(name).ignores_masks or name.startswith("linrec-id"):
        pytest.skip("no normalisation of the identity map: values grow as scale^3 by design")
    attn = build(name)
    q, k, v = (x.float() * scale for x in make_qkv(T=30))
    out = attn(q, k, v / scale, causal=causal)
    assert torch.isfinite(out).all(), f"{name} overflowed at scale {scale}"


def test_performer_features_would_overflow_without_stabiliser():
    """Guards the overflow test: the raw FAVOR+ exponent at these scales is far beyond float32's range."""
    attn = build("performer")
    q = make_qkv(T=30)[0].float() * 1e2
    x = q * q.shape[-1] ** -0.25
    raw = torch.einsum("bthd,md->bthm", x, attn.projection)
    assert raw.max() > 89  # exp(89) > float32 max
    assert torch.isfinite(attn(q, q, q, causal=False)).all() and torch.isfinite(attn(q, q, q, causal=True)).all()


BAD_INPUTS = {
    "k-shape": lambda q: (q, q[:, :-1], q, None),
    "v-shape": lambda q: (q, q, q[..., :4], None),
    "3d-q": lambda q: (q[:, :, 0], q, q, None),
    "int-dtype": lambda q: (q.long(), q.long(), q.long(), None),
    "mixed-dtype": lambda q: (q, q.float(), q, None),
    "mask-shape": lambda q: (q, q, q, torch.zeros(3, 10, dtype=torch.bool)),
    "mask-dtype": lambda q: (q, q, q, torch.zeros(3, 11, dtype=torch.float32)),
    "mask-not-tensor": lambda q: (q, q, q, [[False] * 11] * 3),
    "empty-T": lambda q: (q[:, :0], q[:, :0], q[:, :0], None),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
@pytest.mark.parametrize("name", ALL)
def test_bad_inputs_raise_a_value_error_naming_the_problem(name, case):
    q = make_qkv()[0]
    args = BAD_INPUTS[case](q)
    with pytest.raises(AttentionInputError) as info:
        build(name)(*args[:3], key_padding_mask=args[3])
    message = str(info.value)
    assert "\n" not in message and message.startswith(name)
    if case in ("k-shape", "v-shape", "mask-shape"):
        assert "(3, 11, 2, 8)" in message or "(3, 11)" in message, message


@pytest.mark.parametrize("name", [n for n in ALL if not get_spec(n).causal and not get_spec(n).ignores_masks])
def test_causal_asked_of_a_non_causal_variant_is_refused(name):
    q, k, v = make_qkv()
    with pytest.raises(AttentionUnsupported, match="causal"):
        build(name)(q, k, v, causal=True)
    with pytest.raises(AttentionUnsupported, match="causal"):
        build(name).matrix(q, k, causal=True)


def test_linformer_refuses_sequences_beyond_its_projection():
    attn = build("linformer", max_len=8)
    q, k, v = make_qkv(T=9)
    with pytest.raises(AttentionUnsupported, match="T=9 exceeds .* max_len=8"):
        attn(q, k, v)


@pytest.mark.parametrize("options,match", [
    ({"head_dim": 0}, "head_dim"), ({"head_dim": 8, "num_features": -1}, "num_features"),
    ({"head_dim": 8, "chunk_size": 0}, "chunk_size")], ids=["head_dim", "num_features", "chunk_size"])
def test_performer_rejects_bad_options(options, match):
    from models.attention.performer import Performer
    with pytest.raises(ValueError, match=match):
        Performer(**options)


def test_performer_rejects_a_head_dim_it_was_not_built_for():
    attn = build("performer")
    q = torch.randn(1, 4, 1, 16)
    with pytest.raises(ValueError, match="head_dim 8.*D = 16"):
        attn(q, q, q)


@pytest.mark.parametrize("name", ["linrec_causal", "linear_elu", "cosformer"])
@pytest.mark.parametrize("chunk_size", [0, -3, 2.5, True], ids=["zero", "negative", "float", "bool"])
def test_bad_chunk_sizes_are_refused(name, chunk_size):
    q, k, v = make_qkv()
    with pytest.raises(AttentionInputError, match="chunk_size must be a positive integer"):
        build(name, chunk_size=chunk_size)(q, k, v, causal=True)


@pytest.mark.parametrize("device", DEVICES)
def test_outputs_stay_on_the_input_device(device):
    for name in runnable(device):
        q, k, v = make_qkv(dtype=torch.float32, device=device)
        attn = build(name, device)
        if not refused_as_the_contract_says(attn, device, q, k, v):
            assert attn(q, k, v).device.type == device


@pytest.mark.parametrize("name", ALL)
def test_the_implicit_matrix_checks_its_inputs_like_the_forward(name):
    attn = build(name)
    q, k, _ = make_qkv(T=5)
    with pytest.raises(AttentionInputError, match="floating dtype"):
        attn.matrix(q.long(), k.long())
    with pytest.raises(AttentionInputError, match="bool tensor"):
        attn.matrix(q, k, key_padding_mask=torch.zeros(q.shape[:2]))
    with pytest.raises(AttentionInputError, match="same"):
        attn.matrix(q, k[:, :3])
