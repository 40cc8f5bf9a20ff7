"""Exact variants (sdpa and its forced backends, xformers where it runs) against dot, and the recorded backend."""
from __future__ import annotations

import pytest
import torch
from torch.profiler import profile

from conftest import DEVICES, build, refuses, make_mask, make_qkv, runnable
from models.attention import AttentionUnavailable, AttentionUnsupported, get_spec, unavailable_reason
from models.attention.sdpa import last_backend

LOW = [pytest.param(torch.bfloat16, id="bf16"), pytest.param(torch.float16, id="fp16"),
       pytest.param(torch.float32, id="fp32")]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", LOW)
@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
@pytest.mark.parametrize("padded", [False, True], ids=["nopad", "pad"])
def test_exact_variants_are_within_twice_dots_own_error(device, dtype, causal, padded):
    names = [n for n in runnable(device) if get_spec(n).exact and n != "dot"]
    q, k, v = make_qkv(B=2, T=96, H=2, D=16, device=device)
    mask = make_mask(B=2, T=96, device=device) if padded else None
    want = build("dot", device)(q, k, v, causal=causal, key_padding_mask=mask)  # float64 truth
    low = [x.to(dtype) for x in (q, k, v)]
    dot_error = (build("dot", device)(*low, causal=causal, key_padding_mask=mask).double() - want).abs().max()
    assert names, "no exact variant runs here"
    for name in names:
        if refuses(name, device, dtype, padded):
            with pytest.raises(AttentionUnsupported):
                build(name, device)(*low, causal=causal, key_padding_mask=mask)
            continue
        try:
            got = build(name, device)(*low, causal=causal, key_padding_mask=mask)
        except AttentionUnavailable as err:
            pytest.fail(f"{name} claims to be available on {device} but is not: {err}")
        error = (got.double() - want).abs().max()
        assert got.dtype == dtype
        assert error <= 2 * dot_error + 1e-7, f"{name}: error {error:.3g} vs dot's {dot_error:.3g}"


OPS = {"FLASH_ATTENTION": "_scaled_dot_product_flash_attention", "MATH": "_scaled_dot_product_attention_math",
       "EFFICIENT_ATTENTION": "_scaled_dot_product_efficient_attention",
       "CUDNN_ATTENTION": "_scaled_dot_product_cudnn_attention"}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ["sdpa", "sdpa_math", "sdpa_flash"])
@pytest.mark.parametrize("padded", [False, True], ids=["nopad", "pad"])
def test_recorded_sdpa_backend_is_the_kernel_that_ran(name, padded, device):
    dtype = torch.float32 if device == "cpu" else torch.bfloat16
    q, k, v = make_qkv(T=32, D=16, dtype=dtype, device=device)
    mask = make_mask(T=32, device=device) if padded else None
    attn = build(name, device)
    if refuses(name, device, dtype, padded):  # FlashAttention takes no mask: refused, as contracted
        with pytest.raises(AttentionUnsupported):
            attn(q, k, v, causal=True, key_padding_mask=mask)
        return
    with profile() as prof:
        attn(q, k, v, causal=True, key_padding_mask=mask)
    ran = {e.name for e in prof.events()}
    backend = last_backend()
    assert backend in OPS, backend
    assert any(OPS[backend] in op for op in ran), f"recorded {backend}, profiler saw {sorted(ran)}"
    if name == "sdpa_math":
        assert backend == "MATH"


def test_xformers_is_reported_unavailable_with_its_reason_on_cpu():
    reason = unavailable_reason("xformers", "cpu")
    assert reason and ("CUDA" in reason or "cannot be imported" in reason)
    q, k, v = make_qkv(dtype=torch.float32)
    with pytest.raises(AttentionUnavailable) as info:
        build("xformers")(q, k, v)
    assert str(info.value) == reason


def test_forced_cuda_only_backend_is_unavailable_on_cpu():
    assert "cuda" in unavailable_reason("sdpa_efficient", "cpu")
    q, k, v = make_qkv(dtype=torch.float32)
    with pytest.raises(AttentionUnavailable, match="cuda only"):
        build("sdpa_efficient")(q, k, v)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_xformers_runs_or_says_why_on_cuda():
    reason = unavailable_reason("xformers", "cuda")
    q, k, v = make_qkv(dtype=torch.bfloat16, device="cuda")
    if reason is not None:
        with pytest.raises(AttentionUnavailable):
            build("xformers", "cuda")(q, k, v)
        pytest.skip(f"xformers unavailable on this GPU: {reason}")
    assert build("xformers", "cuda")(q, k, v, causal=True).shape == q.shape


def test_an_xformers_operator_refusal_is_unsupported_not_a_raw_error(monkeypatch):
    xops = pytest.importorskip("xformers.ops")
    import models.attention.xformers_mem as xformers_mem

    def no_operator(*args, **kwargs):
        raise NotImplementedError("No operator found for `memory_efficient_attention_forward` with inputs:\n...")

    monkeypatch.setattr(xformers_mem, "unavailable_reason", lambda name, device: None)
    monkeypatch.setattr(xops, "memory_efficient_attention", no_operator)
    q, k, v = make_qkv()
    with pytest.raises(AttentionUnsupported, match="xformers: no memory_efficient_attention operator runs these "
                                                   "inputs: No operator found"):
        build("xformers")(q, k, v)
