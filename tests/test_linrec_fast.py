"""The fast LinRec paths (linrec_fast.py, linrec_causal_fast.py) against an independent naive formula and against
the plain-autograd oracles: outputs and gradients, padding, chunking, bf16, the clamped norm, and what they save."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from conftest import make_mask
from models.attention.linrec import linrec_attention, linrec_official
from models.attention.linrec_causal import linrec_causal
from models.attention.linrec_causal_fast import LinRecCausalFunction
from models.attention.linrec_fast import LinRecFunction


def naive_linrec(q, k, v, mask, causal, eps=1e-6):
    """out = (Q^ K^T / sqrt(D)) V written out in float64 over the (B, H, T, T) matrix, nothing shared with the
    code under test."""
    q, k, v = (x.double() for x in (q, k, v))

    def feature(x):
        u = F.elu(x)
        return u / u.norm(dim=-1, keepdim=True).clamp_min(eps)

    weights = torch.einsum("bihd,bjhd->bhij", feature(q), feature(k)) / q.shape[-1] ** 0.5  # (B, H, T, T)
    T = q.shape[1]
    if causal:
        weights = weights * torch.ones(T, T, dtype=torch.float64).tril()
    if mask is not None:
        weights = weights.masked_fill(mask[:, None, None, :], 0.0).masked_fill(mask[:, None, :, None], 0.0)
    return torch.einsum("bhij,bjhd->bihd", weights, v)


def qkv(B=3, T=37, H=2, D=16, dtype=torch.float32, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(B, T, H, D, generator=gen).to(dtype).requires_grad_() for _ in range(3)]


def fast(q, k, v, mask, causal, chunk=None):
    if causal:
        return linrec_causal(q, k, v, causal=True, key_padding_mask=mask, chunk_size=chunk)
    return linrec_attention(q, k, v, key_padding_mask=mask)


def outputs_and_grads(fn, inputs, grad_out):
    out = fn(*inputs)
    return [out.detach()] + list(torch.autograd.grad(out, inputs, grad_out.to(out.dtype)))


CASES = [pytest.param(causal, padded, chunk, id=f"{'causal' if causal else 'full'}-{'pad' if padded else 'nopad'}"
                      + (f"-C{chunk}" if chunk else ""))
         for causal, chunks in ((False, [None]), (True, [None, 5, 16, 64])) for padded in (False, True)
         for chunk in chunks]


@pytest.mark.parametrize("causal, padded, chunk", CASES)
def test_fp32_fast_path_matches_the_naive_formula(causal, padded, chunk):
    q, k, v = qkv()
    mask = make_mask(T=37) if padded else None
    grad_out = torch.randn(q.shape, generator=torch.Generator().manual_seed(1))
    got = outputs_and_grads(lambda a, b, c: fast(a, b, c, mask, causal, chunk), (q, k, v), grad_out)
    want = outputs_and_grads(lambda a, b, c: naive_linrec(a, b, c, mask, causal), (q, k, v), grad_out)
    for label, g, w in zip(["out", "dq", "dk", "dv"], got, want):
        assert g.dtype == torch.float32
        torch.testing.assert_close(g.double(), w.double(), rtol=1e-5, atol=1e-6, msg=lambda m: f"{label}: {m}")


@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
def test_fast_path_equals_the_autograd_oracle_within_1e5(causal):
    q, k, v = qkv(B=4, T=100, H=4, D=16)
    mask = torch.zeros(4, 100, dtype=torch.bool)
    mask[1, 60:] = True
    grad_out = torch.randn(q.shape, generator=torch.Generator().manual_seed(2))
    oracle = (lambda a, b, c: linrec_causal(a, b, c, causal=True, key_padding_mask=mask, fast=False)) if causal \
        else (lambda a, b, c: linrec_attention(a, b, c, key_padding_mask=mask, fast=False))
    got = outputs_and_grads(lambda a, b, c: fast(a, b, c, mask, causal), (q, k, v), grad_out)
    want = outputs_and_grads(oracle, (q, k, v), grad_out)
    for g, w in zip(got, want):
        assert ((g - w).norm() / w.norm()).item() < 1e-5


@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
def test_bf16_inputs_give_bf16_outputs_close_to_the_formula(causal):
    q, k, v = qkv(dtype=torch.bfloat16)
    mask = make_mask(T=37)
    grad_out = torch.randn(q.shape, generator=torch.Generator().manual_seed(3))
    got = outputs_and_grads(lambda a, b, c: fast(a, b, c, mask, causal), (q, k, v), grad_out)
    want = outputs_and_grads(lambda a, b, c: naive_linrec(a, b, c, mask, causal), (q, k, v), grad_out)
    for label, g, w in zip(["out", "dq", "dk", "dv"], got, want):
        assert g.dtype == torch.bfloat16
        torch.testing.assert_close(g.double(), w.double(), rtol=3e-2, atol=3e-2, msg=lambda m: f"{label}: {m}")


@pytest.mark.parametrize("backward_inside", [False, True], ids=["backward-after", "backward-inside"])
@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
def test_under_cpu_autocast_the_fast_path_computes_in_float32(causal, backward_inside):
    """A bfloat16 autocast region (mixed-precision training) hands the attention bf16 projections: the Functions
    keep their own products in float32, and a backward run inside the region meets no bf16 product."""
    q, k, v = qkv(T=21)
    mask = make_mask(T=21)
    grad_out = torch.randn(q.shape, generator=torch.Generator().manual_seed(5))
    eye = torch.eye(q.shape[-1])
    leaves = [x.detach().requires_grad_() for x in (q, k, v)]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = fast(*(x @ eye for x in leaves), mask, causal)  # (B, T, H, D) bf16, as a Linear would give
        if backward_inside:
            grads = torch.autograd.grad(out, leaves, grad_out.to(out.dtype))
    if not backward_inside:
        grads = torch.autograd.grad(out, leaves, grad_out.to(out.dtype))
    assert out.dtype == torch.bfloat16
    want = outputs_and_grads(lambda a, b, c: naive_linrec(a, b, c, mask, causal), (q, k, v), grad_out)
    for label, g, w in zip(["out", "dq", "dk", "dv"], [out.detach(), *grads], want):
        torch.testing.assert_close(g.double(), w.double(), rtol=3e-2, atol=3e-2, msg=lambda m: f"{label}: {m}")


@pytest.mark.parametrize("function", ["full", "causal"])
def test_analytic_backward_passes_gradcheck(function):
    gen = torch.Generator().manual_seed(4)
    q, k, v = (torch.randn(2, 9, 2, 4, generator=gen, dtype=torch.float64, requires_grad=True) for _ in range(3))
    mask = torch.zeros(2, 9, dtype=torch.bool)
    mask[1, :3] = True
    if function == "full":
        assert torch.autograd.gradcheck(lambda a, b, c: LinRecFunction.apply(a, b, c, mask, 1e-6), (q, k, v))
    else:
        assert torch.autograd.gradcheck(lambda a, b, c: LinRecCausalFunction.apply(a, b, c, mask, 1e-6, 4),
                                        (q, k, v))


@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
def test_a_zero_vector_takes_the_clamped_norm_branch_like_autograd(causal):
    q, k, v = (x.detach().double() for x in qkv(B=2, T=6, H=1, D=4))
    q[0, 2] = 0.0  # ELU(0) = 0: the norm is clamped to eps, no NaN
    k[1, 4] = 0.0
    inputs = [x.requires_grad_() for x in (q, k, v)]
    grad_out = torch.randn(q.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    got = outputs_and_grads(lambda a, b, c: fast(a, b, c, None, causal), inputs, grad_out)
    oracle = (lambda a, b, c: linrec_causal(a, b, c, causal=True, fast=False)) if causal \
        else (lambda a, b, c: linrec_attention(a, b, c, fast=False))
    want = outputs_and_grads(oracle, inputs, grad_out)
    for g, w in zip(got, want):
        assert torch.isfinite(g).all()
        torch.testing.assert_close(g, w, rtol=1e-9, atol=1e-9)


def saved_bytes(fn, inputs) -> int:
    """Bytes of distinct storages autograd keeps for the backward of fn(*inputs), inputs excluded."""
    storages = {}
    own = {x.untyped_storage().data_ptr() for x in inputs}

    def pack(t):
        storage = t.untyped_storage()
        if storage.data_ptr() not in own:
            storages[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn(*inputs)
    return sum(storages.values())


def test_the_fast_path_keeps_far_less_for_backward_than_the_official_formulation():
    inputs = qkv(B=4, T=64, H=8, D=16)
    official = saved_bytes(linrec_official, inputs)
    fast_saved = saved_bytes(lambda a, b, c: linrec_attention(a, b, c), inputs)
    one_input = inputs[0].numel() * 4
    assert fast_saved <= 3.5 * one_input  # Q^, K^, V in the head layout, the norms and the (D, D) states
    assert fast_saved <= 0.65 * official  # measured: 3.4 against 5.4 inputs' worth


def test_a_second_derivative_is_refused_not_silently_wrong():
    q, k, v = qkv(B=1, T=5, H=1, D=4)
    out = linrec_attention(q, k, v)
    grad_out = torch.ones_like(out, requires_grad=True)  # a Hessian-vector product needs the graph of the grad
    (grad_q,) = torch.autograd.grad(out, q, grad_out, create_graph=True)
    with pytest.raises(RuntimeError, match="differentiate twice"):
        grad_q.sum().backward()


@pytest.mark.parametrize("shape", [(2, 6, 1, 4), (1, 1, 2, 4), (2, 5, 3, 4)], ids=["H1", "T1", "H3"])
@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
def test_inputs_and_the_incoming_gradient_are_never_written(shape, causal):
    gen = torch.Generator().manual_seed(6)
    q, k, v, grad_out = (torch.randn(shape, generator=gen, dtype=torch.float64) for _ in range(4))
    before = [x.clone() for x in (q, k, v, grad_out)]
    inputs = [x.requires_grad_() for x in (q, k, v)]
    got = outputs_and_grads(lambda a, b, c: fast(a, b, c, None, causal), inputs, grad_out)
    for x, saved in zip((q, k, v, grad_out), before):
        assert torch.equal(x.detach(), saved)
    want = outputs_and_grads(lambda a, b, c: naive_linrec(a, b, c, None, causal), inputs, grad_out)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("chunks", [1, 2, 5, 17], ids=["n1", "n2", "n5", "n17"])
@pytest.mark.parametrize("reverse", [False, True], ids=["earlier", "later"])
def test_chunk_prefix_states_are_exclusive_sums_within_each_head(chunks, reverse):
    from models.attention.linrec_causal_fast import chunk_prefix_states

    bh, C, D = 3, 4, 2
    left, right = torch.randn(bh * chunks, C, D), torch.randn(bh * chunks, C, D)
    products = (left.transpose(1, 2) @ right).view(bh, chunks, D, D)  # (B*H, n, D, D)
    if reverse:
        inclusive = products.flip(1).cumsum(1).flip(1)
        expected = torch.cat([inclusive[:, 1:], torch.zeros_like(inclusive[:, :1])], dim=1)
    else:
        inclusive = products.cumsum(1)
        expected = torch.cat([torch.zeros_like(inclusive[:, :1]), inclusive[:, :-1]], dim=1)
    got = chunk_prefix_states(left, right, bh, reverse=reverse)
    torch.testing.assert_close(got.view(bh, chunks, D, D), expected)  # no sum crosses from one head to the next


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 8, 9, 15, 16, 17, 37, 256])
@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
def test_two_level_running_sums_equal_cumsum(n, reverse):
    """Every grouping case: too few chunks to group, whole groups, and leftovers at the end (or the front)."""
    from models.attention.linrec_causal_fast import running_sums_

    x = torch.randn(3, n, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(n))
    expected = x.flip(1).cumsum(1).flip(1) if reverse else x.cumsum(1)
    running_sums_(x, reverse)
    torch.testing.assert_close(x, expected)
