"""The Triton LinRec kernels (models/attention/linrec_triton*.py) against float64 references: outputs and
gradients, with and without padding, odd T, T=1, D in {16, 32, 64}, fp32 and bf16; on CPU under Triton's
interpreter (conftest switches it on where there is no GPU). And where they cannot run, they say why."""
from __future__ import annotations

import pytest
import torch

import models.attention.linrec_triton as linrec_triton
from conftest import make_mask
from models.attention import AttentionUnsupported, get_attention, unavailable_reason

pytestmark = pytest.mark.skipif(unavailable_reason("linrec_triton", "cpu") is not None
                                and not torch.cuda.is_available(),
                                reason=f"no Triton here: {unavailable_reason('linrec_triton', 'cpu')}")
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
KERNELS = [pytest.param("linrec_triton", False, id="noncausal"),
           pytest.param("linrec_causal_triton", True, id="causal"),
           pytest.param("linrec_causal_triton", False, id="causal-variant-run-noncausal")]
REFERENCE = {"linrec_triton": "linrec_autograd", "linrec_causal_triton": "linrec_causal_autograd"}
# The interpreter casts fp32 to bf16 by truncation, a GPU rounds to nearest, so its bf16 errors are larger (measured
# here: 1.4x to 3.6x eager bf16's largest error).
BF16_FACTOR = 2 if DEVICE == "cuda" else 4


def inputs(B, T, H, D, dtype, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [(torch.randn(B, T, H, D, generator=gen, dtype=torch.float64) * 1.5).to(device=DEVICE, dtype=dtype)
            for _ in range(4)]  # q, k, v, and the output gradient


def run(name, causal, tensors, mask):
    q, k, v, grad_out = (x.detach().requires_grad_(i < 3) for i, x in enumerate(tensors))
    out = get_attention(name)(q, k, v, causal=causal, key_padding_mask=mask)
    return [out, *torch.autograd.grad(out, (q, k, v), grad_out)]


@pytest.mark.parametrize("name, causal", KERNELS)
@pytest.mark.parametrize("T, D", [(1, 16), (17, 16), (70, 16), (17, 32), (33, 64)],
                         ids=["T1-D16", "T17-D16", "T70-D16", "T17-D32", "T33-D64"])
@pytest.mark.parametrize("padded", [False, True], ids=["nopad", "pad"])
def test_fp32_outputs_and_gradients_match_the_float64_reference(name, causal, T, D, padded):
    tensors = inputs(3, T, 2, D, torch.float32)
    mask = make_mask(B=3, T=T, device=DEVICE) if padded and T > 2 else None
    got = run(name, causal, tensors, mask)
    want = run(REFERENCE[name], causal, [x.double() for x in tensors], mask)
    for label, a, b in zip(("out", "dq", "dk", "dv"), got, want):
        assert a.dtype == torch.float32 and a.shape == b.shape
        torch.testing.assert_close(a.double(), b, rtol=1e-4, atol=2e-5, msg=lambda m: f"{label}: {m}")
    if mask is not None:
        assert all(torch.all(x[mask] == 0) for x in got), "padded positions: output and gradients exactly 0"


@pytest.mark.parametrize("name, causal", KERNELS[:2])
def test_bf16_is_as_close_to_the_truth_as_the_eager_path_in_bf16(name, causal):
    tensors = inputs(2, 40, 2, 32, torch.bfloat16)
    mask = make_mask(B=2, T=40, device=DEVICE)
    truth = run(REFERENCE[name], causal, [x.double() for x in tensors], mask)
    eager = run(REFERENCE[name], causal, tensors, mask)
    for label, got, eager_one, want in zip(("out", "dq", "dk", "dv"), run(name, causal, tensors, mask), eager, truth):
        assert got.dtype == torch.bfloat16
        error, eager_error = ((x.double() - want).abs().max() for x in (got, eager_one))
        assert error <= BF16_FACTOR * eager_error + 1e-3, f"{label}: {error:.3g}, eager bf16's {eager_error:.3g}"


def test_future_tokens_never_change_past_outputs():
    q, k, v, _ = inputs(2, 40, 2, 16, torch.float32)
    attn = get_attention("linrec_causal_triton")
    before = attn(q, k, v, causal=True)
    changed = [x.clone() for x in (q, k, v)]
    for x in changed:
        x[:, 21:] = torch.randn_like(x[:, 21:])
    after = attn(*changed, causal=True)
    torch.testing.assert_close(after[:, :21], before[:, :21], rtol=0, atol=1e-6)
    assert not torch.allclose(after[:, 21:], before[:, 21:])


def test_float64_is_refused_and_causal_linrec_triton_points_to_the_causal_kernel():
    q, k, v, _ = inputs(1, 8, 1, 16, torch.float32)
    with pytest.raises(AttentionUnsupported, match="take float32, bfloat16 or float16, not torch.float64"):
        get_attention("linrec_triton")(q.double(), k.double(), v.double())
    with pytest.raises(AttentionUnsupported, match="use linrec_causal_triton"):
        get_attention("linrec_triton")(q, k, v, causal=True)


@pytest.mark.parametrize("found, interpreted, device, reason", [
    (False, "1", "cpu", "triton is not installed"),
    (True, "0", "cpu", "only under Triton's interpreter (TRITON_INTERPRET=1"),
    (True, "1", "cpu", None),
], ids=["no-triton", "cpu-no-interpreter", "cpu-interpreter"])
def test_where_the_kernels_cannot_run_the_reason_says_why(monkeypatch, found, interpreted, device, reason):
    monkeypatch.setattr(linrec_triton.importlib.util, "find_spec", lambda name: object() if found else None)
    monkeypatch.setenv("TRITON_INTERPRET", interpreted)
    got = linrec_triton.triton_availability(device)
    assert got is None if reason is None else reason in got


@pytest.mark.parametrize("name, causal", KERNELS[:2])
def test_non_finite_padding_never_reaches_real_outputs_or_gradients(name, causal):
    tensors = inputs(3, 20, 2, 16, torch.float32)
    mask = make_mask(B=3, T=20, device=DEVICE)
    clean = run(name, causal, [x.masked_fill(mask[:, :, None, None], 0.0) if i < 3 else x
                               for i, x in enumerate(tensors)], mask)
    dirty = run(name, causal, [x.masked_fill(mask[:, :, None, None], float("nan")) if i < 3 else x
                               for i, x in enumerate(tensors)], mask)
    for a, b in zip(dirty, clean):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
        assert torch.all(a[mask] == 0)


@pytest.mark.parametrize("name, causal", KERNELS[:2])
def test_the_output_is_the_implicit_matrix_times_v(name, causal):
    q, k, v, _ = inputs(2, 20, 2, 16, torch.float32)
    mask = make_mask(B=2, T=20, device=DEVICE)
    attn = get_attention(name)
    weights = attn.matrix(q, k, causal=causal, key_padding_mask=mask)  # (B, H, T, T)
    torch.testing.assert_close(attn(q, k, v, causal=causal, key_padding_mask=mask),
                               torch.einsum("bhij,bjhd->bihd", weights, v), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("found, device, reason", [(False, "cuda", "flash-linear-attention is not installed"),
                                                   (True, "cpu", "run on CUDA only")], ids=["no-fla", "cpu"])
def test_the_fla_variant_says_why_it_cannot_run(monkeypatch, found, device, reason):
    import models.attention.linrec_fla as linrec_fla

    monkeypatch.setattr(linrec_fla.importlib.util, "find_spec", lambda name: object() if found else None)
    assert reason in linrec_fla.fla_availability(device)
