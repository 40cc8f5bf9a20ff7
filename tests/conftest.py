"""Shared fixtures: devices, variant names, seeded inputs with a mixed padding pattern. Without an NVIDIA GPU the
Triton LinRec kernels run under Triton's interpreter, switched on here before anything can import triton; data the
tests fetch is cached under ~/.cache/linrec-bench/data unless LINREC_BENCH_DATA says otherwise."""
from __future__ import annotations

import os
from pathlib import Path

if not Path("/dev/nvidiactl").exists():
    os.environ.setdefault("TRITON_INTERPRET", "1")
# Data the tests fetch (ML-100K) goes to the user's cache, never into the repository's data/ folder
os.environ.setdefault("LINREC_BENCH_DATA", str(Path.home() / ".cache" / "linrec-bench" / "data"))

import pytest  # noqa: E402
import torch  # noqa: E402

from models.attention import (AttentionUnsupported, attention_names, get_attention, get_spec,  # noqa: E402
                              unavailable_reason)

HEAD_DIM = 8
HEADS = 2

DEVICES = [
    pytest.param("cpu", id="cpu"),
    pytest.param("cuda", id="cuda", marks=[pytest.mark.cuda,
                                           pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")]),
]
HALF = (torch.float16, torch.bfloat16)
TRITON = ("linrec_triton", "linrec_causal_triton")  # take no float64


def refuses(name: str, device: str, dtype: torch.dtype, masked: bool) -> bool:
    """Whether a kernel cannot take these inputs, so the contract wants AttentionUnsupported: the Triton LinRec
    kernels take no float64; on CUDA, FlashAttention (sdpa_flash) takes fp16/bf16 only and no arbitrary mask (a
    padding mask is one), and the memory-efficient kernels (sdpa_efficient, xformers) take no float64."""
    if name in TRITON:
        return dtype == torch.float64
    if device != "cuda":
        return False
    if name == "sdpa_flash":
        return dtype not in HALF or masked
    return name in ("sdpa_efficient", "xformers") and dtype == torch.float64


def refused_as_the_contract_says(attn, device: str, q, k, v, **call) -> bool:
    """Usage: if refused_as_the_contract_says(attn, device, q, k, v, causal=True, key_padding_mask=mask): return.
    Where refuses, checks the call raises AttentionUnsupported and returns True; else False."""
    if not refuses(attn.spec.name, device, q.dtype, call.get("key_padding_mask") is not None):
        return False
    with pytest.raises(AttentionUnsupported):
        attn(q, k, v, **call)
    return True


def runnable(device: str = "cpu") -> list[str]:
    """Every registered variant that can run on ``device`` here and takes the float64 inputs the generic tests
    use; the Triton kernels (fp32/bf16 only) have their own tests in tests/test_linrec_triton.py."""
    if device == "cuda" and not torch.cuda.is_available():
        return [n for n in attention_names() if "cuda" in get_spec(n).devices and n not in TRITON]
    return [n for n in attention_names() if unavailable_reason(n, device) is None and n not in TRITON]


def build(name: str, device: str = "cpu", max_len: int = 256, **options):
    """A variant ready to run: context options for those that need them, fixed seed."""
    torch.manual_seed(0)
    return get_attention(name, head_dim=HEAD_DIM, max_len=max_len, seed=0, **options).to(device)


def make_qkv(B=3, T=11, H=HEADS, D=HEAD_DIM, dtype=torch.float64, device="cpu", seed=0, requires_grad=False):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(B, T, H, D, generator=gen, dtype=torch.float64).to(device=device, dtype=dtype)
            .requires_grad_(requires_grad) for _ in range(3)]


def make_mask(B=3, T=11, device="cpu"):
    """Mixed padding: row 0 none, row 1 right-padded (last 3), row 2 left-padded (first 2); True = padding."""
    mask = torch.zeros(B, T, dtype=torch.bool)
    if B > 1:
        mask[1, -3:] = True
    if B > 2:
        mask[2, :2] = True
    return mask.to(device)


def causal_modes(name: str) -> list[bool]:
    spec = get_spec(name)
    return [False, True] if spec.causal else [False]


def sequence_data(sequences, num_items=None, name="toy"):
    """A SequenceData from a list of per-user item lists (ids 1..num_items), for backbone and training tests."""
    import numpy as np

    from bench.data.sequences import SequenceData

    lengths = [len(s) for s in sequences]
    items = np.array([i for s in sequences for i in s], dtype=np.int64)
    num_items = int(num_items or items.max())
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return SequenceData(name=name, num_items=num_items, offsets=offsets,
                        items=items, user_ids=np.arange(len(sequences)), item_ids=np.arange(1, num_items + 1),
                        preprocessing={})


def cyclic_data(users=60, items=20, low=6, high=25, seed=0, name="cyclic"):
    """Users walk the item ring 1 -> 2 -> ... -> items -> 1 from a random start: order is everything."""
    import numpy as np

    rng = np.random.default_rng(seed)
    sequences = []
    for _ in range(users):
        start, length = rng.integers(items), rng.integers(low, high)
        sequences.append([(start + k) % items + 1 for k in range(length)])
    return sequence_data(sequences, items, name)
