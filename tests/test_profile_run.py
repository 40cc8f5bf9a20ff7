"""Measuring one cell: timing statistics, the memory-growth proof, failure rows, model-level steps, CUDA memory."""
from __future__ import annotations

import math
import time

import pytest
import torch

from bench.profile.cells import ProfileCell
from bench.profile.flops import attention_flops, attention_min_bytes
from bench.profile.measure import failure, measure_cell, memory_here, run_child
from bench.profile.spec import MeasureOptions
from bench.profile.memory import NvmlSampler
from bench.profile.steps import build_step
from bench.profile.timing import summarise, time_step
from models.attention import AttentionUnavailable, AttentionUnsupported

FAST = MeasureOptions(warmup=0, repeats=2, min_repeats=1, max_seconds=5.0, memory=False)


def cell(variant="dot", mode="fwdbwd", T=16, B=2, causal=False, level="attention", model=None, dtype="float32"):
    model_fields = {"model": model, "layers": 1, "items": 50} if level == "model" else {}
    return ProfileCell(level, variant, mode, causal, T, B, 2, 8, dtype, "cpu", "fixed", **model_fields)


def test_summarise_statistics_by_hand():
    stats = summarise([5.0, 1.0, 4.0, 2.0, 3.0])
    assert stats == {"median": 3.0, "p20": 1.8, "p80": 4.2, "min": 1.0, "mean": 3.0, "n": 5}
    with pytest.raises(ValueError, match="no timed calls"):
        summarise([])


def test_time_step_counts_warmup_and_repeats():
    calls = []
    stats = time_step(lambda: calls.append(1), warmup=3, repeats=7, max_seconds=60)
    assert len(calls) == 10 and stats["n"] == 7


def test_time_step_stops_a_slow_cell_after_min_repeats():
    stats = time_step(lambda: time.sleep(0.002), warmup=0, repeats=50, max_seconds=0.001, min_repeats=3)
    assert stats["n"] == 3 and stats["min"] >= 2.0  # milliseconds


STEP_VARIANTS = ["dot", "sdpa", "linrec_official", "linrec", "linrec_causal", "linear_elu", "performer",
                 "efficient", "linformer", "cosformer"]


@pytest.mark.parametrize("variant", STEP_VARIANTS)
def test_every_attention_step_computes_the_same_attention_in_each_mode(variant):
    out = build_step(cell(variant, "fwd"))()
    assert out.shape == (2, 16, 2, 8) and out.requires_grad and torch.isfinite(out).all()
    inferred = build_step(cell(variant, "infer"))()  # same seed: same inputs and parameters, no graph
    assert not inferred.requires_grad
    torch.testing.assert_close(inferred, out.detach(), rtol=1e-5, atol=1e-6)
    grads = build_step(cell(variant, "fwdbwd"))()
    assert [tuple(g.shape) for g in grads[:3]] == [(2, 16, 2, 8)] * 3  # q, k, v
    assert all(torch.isfinite(g).all() and g.abs().sum() > 0 for g in grads)


def test_fwdbwd_reaches_learned_parameters():
    grads = build_step(cell("linformer", "fwdbwd", T=32))()
    assert len(grads) == 5 and [tuple(g.shape) for g in grads[3:]] == [(64, 32), (64, 32)]  # E and F
    assert all(g.abs().sum() > 0 for g in grads[3:])


@pytest.mark.parametrize("model, variant", [("sasrec", "linrec"), ("sasrec", "dot"), ("bert4rec", "linrec_official")],
                         ids=["sasrec-linrec", "sasrec-dot", "bert4rec-official"])
def test_model_steps_compute_the_loss_and_the_scores(model, variant):
    loss = build_step(cell(variant, "fwd", T=12, level="model", model=model))()
    loss = loss.detach()
    assert loss.dim() == 0 and 0 < float(loss) < 2 * math.log(50)  # CE over 50 items, untrained: about log 50
    train_step = build_step(cell(variant, "fwdbwd", T=12, level="model", model=model))
    first = train_step()
    assert float(first) == pytest.approx(float(loss), rel=1e-5)  # the same batch and weights before the update
    assert float(train_step()) != float(first)  # the update moved the weights
    scores = build_step(cell(variant, "infer", T=12, level="model", model=model))()
    assert scores.shape[0] == 2 and scores.shape[1] in (50, 51) and torch.isfinite(scores[:, -50:]).all()


def test_model_training_step_updates_parameters():
    torch.manual_seed(0)
    the_cell = cell("linrec", "fwdbwd", T=8, level="model", model="sasrec")
    step = build_step(the_cell)
    closure = step.__closure__
    model = next(c.cell_contents for c in closure if isinstance(c.cell_contents, torch.nn.Module))
    before = [p.detach().clone() for p in model.parameters()]
    step()
    assert any(not torch.equal(a, p) for a, p in zip(before, model.parameters()))


def test_bf16_attention_step_gives_bf16_gradients_close_to_fp32():
    grads = build_step(cell("linrec", "fwdbwd", dtype="bfloat16"))()
    reference = build_step(cell("linrec", "fwdbwd"))()
    assert all(g.dtype == torch.bfloat16 for g in grads)
    for got, want in zip(grads, reference):
        torch.testing.assert_close(got.float(), want, rtol=0.1, atol=0.05)


def statuses(rows):
    return {(r["metric"], r["status"]) for r in rows}


def test_ok_rows_are_tidy():
    rows = measure_cell(cell("sdpa", "fwd"), FAST)
    assert [r["stat"] for r in rows] == ["median", "p20", "p80", "min", "mean"]
    assert all(r["metric"] == "time" and r["unit"] == "ms" and r["n"] == 2 and r["value"] > 0 for r in rows)
    assert rows[0]["backend"] in {"FLASH_ATTENTION", "MATH", "EFFICIENT_ATTENTION", "CUDNN_ATTENTION", "unknown"}
    assert rows[0]["threads"] == torch.get_num_threads() and rows[0]["d"] == 16


@pytest.mark.parametrize("variant, causal, status", [("linformer", True, "unsupported"),
                                                     ("xformers", False, "unavailable"),
                                                     ("sdpa_efficient", False, "unavailable")],
                         ids=["causal-linformer", "xformers-on-cpu", "sdpa-efficient-on-cpu"])
def test_failures_become_rows(variant, causal, status):
    if status == "unavailable" and torch.cuda.is_available():
        pytest.skip("runs here")
    rows = measure_cell(cell(variant, "fwd", causal=causal), MeasureOptions(memory=True))
    assert statuses(rows) == {("time", status), ("peak_memory", status)}
    assert all(r["message"] and "\n" not in r["message"] for r in rows)


def test_an_error_is_a_row_not_a_crash(monkeypatch):
    import bench.profile.measure as run

    def broken(cell):
        raise RuntimeError("kernel exploded\nsecond line")

    monkeypatch.setattr(run, "build_step", broken)
    rows = measure_cell(cell(), FAST)
    assert statuses(rows) == {("time", "error")}
    assert rows[0]["message"] == "RuntimeError: kernel exploded"


def test_failure_classification():
    assert failure(AttentionUnavailable("no kernel"))["status"] == "unavailable"
    assert failure(AttentionUnsupported("no causal"))["status"] == "unsupported"
    assert failure(MemoryError())["status"] == "oom"
    oom = RuntimeError("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory")
    assert failure(oom) == {"status": "oom", "message": "DefaultCPUAllocator: can't allocate memory"}
    assert failure(ValueError("bad"))["status"] == "error"


def test_memory_cap_makes_an_oom_row_and_skips_timing():
    big = cell("dot", "fwdbwd", T=1024, B=4)  # (4, 2, 1024, 1024) float32 scores alone are 32 MiB
    rows = measure_cell(big, MeasureOptions(memory=True, memory_cap_mib=20, repeats=1, warmup=0))
    assert statuses(rows) == {("time", "oom"), ("peak_memory", "oom")}
    memory = next(r for r in rows if r["metric"] == "peak_memory")
    assert "can't allocate memory" in memory["message"] and "(memory cap 20 MiB)" in memory["message"]
    assert next(r for r in rows if r["metric"] == "time")["message"].startswith("not timed: the memory pass ran out")


def test_isolated_cell_runs_in_a_subprocess():
    rows = measure_cell(cell("linrec", "infer"), MeasureOptions(warmup=0, repeats=2, isolate=True))
    assert statuses(rows) == {("time", "ok"), ("peak_memory", "ok")}
    assert next(r for r in rows if r["metric"] == "peak_memory")["method"].startswith("vmhwm")


def test_a_crashing_child_is_an_error_row(monkeypatch):
    import bench.profile.measure as run

    monkeypatch.setattr(run.sys, "executable", "/bin/false")
    result = run_child("memory", cell(), MeasureOptions())
    assert result["status"] == "error" and "exited with 1" in result["message"]


def peak(variant, T, B, H, D, mode):
    """Peak MiB of one cell from the memory pass alone (a fresh subprocess, as the harness runs it)."""
    result = run_child("memory", ProfileCell("attention", variant, mode, False, T, B, H, D, "float32", "cpu", "fixed"),
                       MeasureOptions())
    return result["peak_memory"]


@pytest.mark.parametrize("variant, T, B, H, D, low, high", [
    ("dot", 1024, 1, 4, 16, 3.4, 4.6),          # (B, H, T, T) scores dominate: 16 MiB at T, 64 MiB at 2T
    ("linrec", 2048, 8, 8, 16, 1.7, 2.3),       # only (B, T, H, D) tensors: 8 MiB each at T
], ids=["dot-quadratic", "linrec-linear"])
def test_memory_growth_separates_quadratic_from_linear(variant, T, B, H, D, low, high, mode="fwdbwd"):
    """The CPU memory method's proof: doubling T multiplies dot's attention-level peak by ~4, linrec's by ~2."""
    ratio = peak(variant, 2 * T, B, H, D, mode) / peak(variant, T, B, H, D, mode)
    assert low < ratio < high, f"{variant} {mode}: peak grew {ratio:.2f}x from T={T} to T={2 * T}"


def test_nvml_sampler_catches_a_peak_between_readings():
    used = {"bytes": 100 * 2 ** 20}
    with NvmlSampler(lambda: used["bytes"]) as sampler:
        used["bytes"] = 612 * 2 ** 20
        time.sleep(0.2)
        used["bytes"] = 150 * 2 ** 20
    assert sampler.peak_mib == 512.0


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_memory_columns():
    cuda_cell = ProfileCell("attention", "dot", "fwdbwd", False, 1024, 2, 4, 16, "float32", "cuda", "fixed")
    readings = memory_here(cuda_cell)
    assert readings["peak_memory"] > 2 * 4 * 1024 * 1024 * 4 / 2 ** 20  # at least one (B, H, T, T) fp32 tensor
    assert readings["reserved_memory"] >= 0 and readings["method"] == "cuda-allocator"


def test_attention_time_rows_carry_their_flops_and_bytes_model_rows_none():
    rows = measure_cell(cell("linrec", "fwdbwd", T=16, B=2), FAST)
    expected = {"flops": attention_flops("linrec", "fwdbwd", 2, 16, 2, 8),
                "min_bytes": attention_min_bytes("linrec", "fwdbwd", 2, 16, 2, 8, "float32")}
    assert all({k: r[k] for k in expected} == expected for r in rows if r["metric"] == "time")
    model_rows = measure_cell(cell("linrec", "fwd", level="model", model="sasrec"), FAST)
    assert not any("flops" in r for r in model_rows)



def test_rows_record_which_linrec_kernel_ran():
    from models.attention.linrec_kernels import kernel_path

    linrec = measure_cell(cell("linrec", "fwd"), FAST)
    assert {r["kernel"] for r in linrec} == {kernel_path()}  # compiled, or eager with the reason
    assert {r["kernel"] for r in measure_cell(cell("dot", "fwd"), FAST)} == {None}
