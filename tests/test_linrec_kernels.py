"""The fused LinRec kernels (models/attention/linrec_kernels.py): the compiled and the eager pass give the same
features and gradients (masks, chunk padding, strided views), a failed compile falls back to eager with one
warning and loses nothing, only CPU tensors are compiled, and the environment switch turns compiling off."""
from __future__ import annotations

import warnings

import pytest
import torch

from conftest import make_mask
from models.attention import kernel_ran
from models.attention import linrec_kernels as kernels
from models.attention.linrec import linrec_attention
from models.attention.linrec_causal import linrec_causal

EPS = 1e-6


@pytest.fixture
def fresh_kernels(monkeypatch):
    """Compiling on, no kernel compiled yet in this test's view; the module's state is restored afterwards."""
    monkeypatch.setitem(kernels._state, "enabled", True)
    monkeypatch.setitem(kernels._state, "why", "")
    monkeypatch.setattr(kernels, "_compiled", {})
    return kernels


def require_compiled():
    """Skip, with the reason, where the compiled kernel did not run: comparing eager with eager proves nothing."""
    if kernels.kernel_path() != "compiled":
        pytest.skip(f"no compiled kernel ran here ({kernels.kernel_path()})")


def inputs(B=3, T=11, H=2, D=8, dtype=torch.float32, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(B, T, H, D, generator=gen, dtype=torch.float64).to(dtype)


@pytest.mark.parametrize("length_extra", [0, 5], ids=["L=T", "L=T+5"])
@pytest.mark.parametrize("padded", [False, True], ids=["nopad", "pad"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["fp32", "fp64"])
def test_compiled_features_equal_the_eager_ones(fresh_kernels, padded, length_extra, dtype):
    x = inputs(dtype=dtype)
    x[0, 3] = -50.0  # the ELU saturated at -1 (its gradient e^x ~ 0); and below, an all-zero row clamps the norm
    x[1, 4] = 0.0
    mask = make_mask(T=11) if padded else None
    length = 11 + length_extra
    compiled = kernels.features(x, mask, EPS, length)
    require_compiled()
    eager = kernels._features_eager(x, mask, EPS, length)
    for got, want in zip(compiled, eager):
        assert got.shape == want.shape and got.is_contiguous()
        torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-7)
    assert (compiled[0][:, :, 11:] == 0).all()  # the chunk padding rows are zero


@pytest.mark.parametrize("strided", [False, True], ids=["contiguous", "strided-view"])
@pytest.mark.parametrize("padded", [False, True], ids=["nopad", "pad"])
def test_compiled_feature_backward_equals_the_eager_one(fresh_kernels, padded, strided):
    x = inputs()
    x[1, 4] = 0.0  # a clamped norm: no projection
    mask = make_mask(T=11) if padded else None
    x_hat, norm = kernels._features_eager(x, mask, EPS, 16 if strided else 11)
    x_hat = x_hat[:, :, :11]  # (B, H, T, D), a strided view of the chunk-padded buffer when strided
    grad = torch.randn(3, 2, 11, 8, generator=torch.Generator().manual_seed(1))  # (B, H, T, D)
    compiled, eager = (torch.zeros(3, 2, 16 if strided else 11, 8) for _ in range(2))
    compiled, eager = compiled[:, :, :11], eager[:, :, :11]  # strided: views of a longer buffer, as causal has
    compiled.copy_(grad), eager.copy_(grad)
    got = kernels.features_backward(x_hat, norm, compiled, EPS, mask)
    require_compiled()
    kernels._features_backward_eager(x_hat, norm, eager, EPS, mask, None)
    assert got.shape == (3, 11, 2, 8) and got.data_ptr() == compiled.data_ptr()  # written in place, (B, T, H, D)
    torch.testing.assert_close(compiled, eager, rtol=1e-5, atol=1e-6)
    if padded:
        assert (got[mask] == 0).all()


@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
def test_the_attention_is_the_same_compiled_or_eager(fresh_kernels, causal):
    q, k, v = (inputs(seed=s, T=37).requires_grad_() for s in range(3))
    mask = make_mask(T=37)
    grad_out = inputs(seed=3, T=37)

    def run():
        out = (linrec_causal(q, k, v, causal=True, key_padding_mask=mask, chunk_size=8) if causal
               else linrec_attention(q, k, v, key_padding_mask=mask))
        return [out.detach(), *torch.autograd.grad(out, (q, k, v), grad_out)]

    compiled = run()
    require_compiled()
    kernels._state["enabled"] = False
    for got, want in zip(compiled, run()):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_a_failed_compile_falls_back_to_eager_with_one_warning(fresh_kernels, monkeypatch):
    def broken_compile(fn, **options):
        def run(*args):
            raise RuntimeError("InvalidCxxCompiler: no working C++ compiler found\nmore detail")
        return run

    monkeypatch.setattr(kernels.torch, "compile", broken_compile)
    x = inputs()
    with pytest.warns(RuntimeWarning, match="torch.compile failed, using eager PyTorch"):
        got = kernels.features(x, None, EPS)
    torch.testing.assert_close(got[0], kernels._features_eager(x, None, EPS, 11)[0])
    assert kernels.kernel_path() == "eager: RuntimeError: InvalidCxxCompiler: no working C++ compiler found"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no second warning, no second try
        q, k, v = (inputs(seed=s).requires_grad_() for s in range(3))
        out = linrec_attention(q, k, v)
        out.sum().backward()
    assert q.grad is not None and torch.isfinite(q.grad).all()


def test_an_error_of_the_call_itself_is_raised_not_hidden(fresh_kernels):
    wrong_mask = torch.zeros(3, 12, dtype=torch.bool)  # T + 1 columns: eager fails too, and its error is raised
    with pytest.raises(RuntimeError, match="size"):
        kernels.features(inputs(), wrong_mask, EPS)
    assert kernels.kernel_path() == "compiled"  # the call was wrong, not the compiler: compiling stays on


def test_only_cpu_tensors_are_compiled(fresh_kernels, monkeypatch):
    def must_not_compile(fn, **options):
        raise AssertionError("a non-CPU tensor reached torch.compile")

    monkeypatch.setattr(kernels.torch, "compile", must_not_compile)
    x_hat, norm = kernels.features(torch.randn(2, 5, 2, 4, device="meta"), None, EPS)
    assert x_hat.device.type == "meta" and x_hat.shape == (2, 2, 5, 4)
    assert kernels.kernel_path() == "compiled"  # nothing failed: CPU tensors would still be compiled


@pytest.mark.parametrize("value, wanted", [(None, True), ("1", True), ("0", False), ("off", False),
                                           (" False ", False), ("no", False)])
def test_the_environment_switch(value, wanted):
    environ = {} if value is None else {"LINREC_COMPILE": value}
    assert kernels.compile_wanted(environ) is wanted


def test_switched_off_the_kernels_never_compile(fresh_kernels, monkeypatch):
    monkeypatch.setitem(kernels._state, "enabled", False)
    monkeypatch.setitem(kernels._state, "why", "LINREC_COMPILE=0 in the environment")
    monkeypatch.setattr(kernels.torch, "compile", lambda fn, **options: pytest.fail("compiled while switched off"))
    q, k, v = (inputs(seed=s) for s in range(3))
    linrec_attention(q, k, v)
    assert kernels.kernel_path() == "eager: LINREC_COMPILE=0 in the environment"


def test_the_comparisons_skip_with_the_reason_where_nothing_compiled(fresh_kernels, monkeypatch):
    monkeypatch.setitem(kernels._state, "enabled", False)
    monkeypatch.setitem(kernels._state, "why", "RuntimeError: InvalidCxxCompiler")
    with pytest.raises(pytest.skip.Exception, match="no compiled kernel ran here .eager: RuntimeError"):
        require_compiled()


def test_past_the_recompile_limit_the_kernels_say_they_run_eager(fresh_kernels, monkeypatch):
    import torch._dynamo

    torch._dynamo.reset()
    monkeypatch.setattr(kernels, "RECOMPILE_LIMIT", 1)
    shapes = [(1, 11, 1, 8), (3, 11, 2, 8), (2, 5, 1, 8)]  # size-1 dims are specialised: each shape recompiles
    with torch._dynamo.config.patch(recompile_limit=1, fail_on_recompile_limit_hit=True):
        first = kernels.features(torch.randn(*shapes[0]), None, EPS)
        require_compiled()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            later = [kernels.features(torch.randn(*shape), None, EPS) for shape in shapes[1:]]
    path = kernels.kernel_path()
    assert path.startswith("eager: ") and "ecompile" in path, f"still {path!r} past the recompile limit"
    assert kernel_ran("linrec", "cpu") == path and kernel_ran("linrec_causal", "cpu") == path  # their specs' probe
    assert kernel_ran("dot", "cpu") is None and kernel_ran("linrec_triton", "cpu") == "triton-interpreter"
    assert [got[0].shape[0] for got in (first, *later)] == [1, 3, 2]  # the eager fallback still computed them
    torch._dynamo.reset()
