"""The steps of a device check: each runs one GPU path and returns its verdict rows (verdicts.py).

Usage:
    rows = cuda_tests(check)       # check: a Check (run folder, deadline, data folder, GPU lengths)

Every step writes its evidence into the check's run folder (profile/, train/, report/) and raises nothing it can
turn into a FAIL row itself; cli.py turns an exception into one and goes on with the next step.
"""
from __future__ import annotations

import importlib.metadata
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from models.attention import AttentionUnsupported, get_attention, unavailable_reason
from models.attention.sdpa import last_backend

from ..processes import run_module
from ..profile.cells import ProfileCell
from ..profile.measure import measure_cell
from ..profile.spec import MeasureOptions
from ..results import append_rows, read_rows
from .verdicts import memory_verdict, speed_verdicts, verdict

TIMED = ("linrec_triton", "linrec", "sdpa_flash", "sdpa")  # non-causal; the causal race below
TIMED_CAUSAL = ("linrec_causal_triton", "linrec_fla", "linrec_causal", "sdpa_flash")  # fla: where installed
TRAINED = ("dot", "sdpa", "linrec", "linrec_triton")
TOKENS, HEADS, HEAD_DIM = 65536, 8, 64


@dataclass(frozen=True)
class Check:
    run_dir: Path
    deadline: float  # time.monotonic() at which the budget is spent
    data_dir: Path | None = None
    lengths: tuple[int, ...] = (128, 512, 1024, 2048, 4096, 8192, 16384)

    def left(self) -> float:
        return self.deadline - time.monotonic()


def environment_step(check: Check) -> list[dict]:
    """GPU, driver, torch, CUDA and triton versions (env.json holds the rest)."""
    from ..environment import environment

    env = environment()
    versions = {name: _version(name) for name in ("triton", "xformers", "nvidia-ml-py")}
    detail = (f"{env['gpu']} (cuda:{env['cuda_device']}), driver {env['driver']}, torch {env['torch']} (CUDA "
              f"{env['cuda']}), " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    return [verdict("environment", "GPU and software", "info", detail)]


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def cuda_tests(check: Check) -> list[dict]:
    """The CUDA test subset (pytest -m cuda) in a process of its own."""
    done = run_module("pytest", ["-m", "cuda", "-q", "-p", "no:cacheprovider", "tests"],
                      timeout=max(check.left() - 5, 1))
    summary = next((line for line in reversed(done.stdout.splitlines()) if re.search(r"passed|failed|error", line)),
                   "no summary")
    return [verdict("cuda tests", "python -m pytest -m cuda", "ok" if done.returncode == 0 else "FAIL", summary)]


def _qkv(B, T, H, D, dtype, requires_grad=False, seed=0):
    gen = torch.Generator(device="cuda").manual_seed(seed)
    return [torch.randn(B, T, H, D, device="cuda", dtype=dtype, generator=gen).requires_grad_(requires_grad)
            for _ in range(3)]


def sdpa_backends(check: Check) -> list[dict]:
    """The backend sdpa picks, and what each forced backend accepts, per dtype, with and without padding."""
    rows = []
    for dtype in (torch.bfloat16, torch.float16, torch.float32):
        for masked in (False, True):
            q, k, v = _qkv(2, 256, HEADS, HEAD_DIM, dtype)
            mask = torch.zeros(2, 256, dtype=torch.bool, device="cuda")
            mask[1, 200:] = True
            seen = []
            for name in ("sdpa", "sdpa_flash", "sdpa_efficient", "sdpa_math"):
                try:
                    get_attention(name)(q, k, v, causal=True, key_padding_mask=mask if masked else None)
                    seen.append(f"{name}: {last_backend()}")
                except AttentionUnsupported:
                    seen.append(f"{name}: refused")
            auto_ran = "refused" not in seen[0]
            rows.append(verdict("sdpa", f"{str(dtype)[6:]} {'padded' if masked else 'no mask'}",
                                "ok" if auto_ran else "FAIL", "; ".join(seen)))
    return rows


def xformers_step(check: Check) -> list[dict]:
    reason = unavailable_reason("xformers", "cuda")
    if reason is not None:
        return [verdict("xformers", "memory_efficient_attention", "skipped", reason)]
    q, k, v = _qkv(2, 256, HEADS, HEAD_DIM, torch.bfloat16)
    out = get_attention("xformers")(q, k, v, causal=True)
    want = get_attention("sdpa_math")(q.float(), k.float(), v.float(), causal=True)
    error = float((out.float() - want).abs().max())
    return [verdict("xformers", "bf16 causal against sdpa_math", "ok" if error < 0.05 else "FAIL",
                    f"max error {error:.3g}")]


def triton_correctness(check: Check) -> list[dict]:
    """The Triton kernels against float64 autograd, outputs and gradients, fp32 and bf16, with padding."""
    rows = []
    for name, oracle, causal in (("linrec_triton", "linrec_autograd", False),
                                 ("linrec_causal_triton", "linrec_causal_autograd", True)):
        for dtype, tolerance in ((torch.float32, 1e-3), (torch.bfloat16, None)):
            q, k, v = _qkv(2, 1000, 4, HEAD_DIM, dtype)
            mask = torch.zeros(2, 1000, dtype=torch.bool, device="cuda")
            mask[1, 777:] = True
            grad = torch.randn_like(q)
            runs = {}
            for label, variant, cast in (("kernel", name, dtype), ("truth", oracle, torch.float64),
                                         ("eager", oracle, dtype)):
                inputs = [x.detach().to(cast).requires_grad_() for x in (q, k, v)]
                out = get_attention(variant)(*inputs, causal=causal, key_padding_mask=mask)
                runs[label] = [out, *torch.autograd.grad(out, inputs, grad.to(cast))]
            errors = [float((a.double() - b).abs().max()) for a, b in zip(runs["kernel"], runs["truth"])]
            eager = [float((a.double() - b).abs().max()) for a, b in zip(runs["eager"], runs["truth"])]
            bounds = [tolerance] * 4 if tolerance else [2 * e + 1e-3 for e in eager]
            good = all(e <= b for e, b in zip(errors, bounds))
            rows.append(verdict("triton correctness", f"{name} {str(dtype)[6:]} out, dq, dk, dv",
                                "ok" if good else "FAIL",
                                "max errors " + ", ".join(f"{e:.2g}" for e in errors)
                                + " (bounds " + ", ".join(f"{b:.2g}" for b in bounds) + ")"))
    return rows


def profile_cells(lengths) -> list[ProfileCell]:
    """The timed cells: fwd+bwd at every length under a token budget, bf16 and fp32, the kernels and their rivals."""
    cells = []
    for dtype in ("bfloat16", "float32"):
        for T in lengths:
            for causal, variants in ((False, TIMED), (True, TIMED_CAUSAL)):
                for variant in variants:
                    if variant == "sdpa_flash" and dtype == "float32":
                        continue  # FlashAttention takes half precision only; sdpa stands in
                    cells.append(ProfileCell("attention", variant, "fwdbwd", causal, T, max(1, TOKENS // T), HEADS,
                                             HEAD_DIM, dtype, "cuda", "tokens", tokens=TOKENS))
    return cells


def triton_timing(check: Check) -> list[dict]:
    """Time and CUDA memory of every cell (profile/rows.jsonl, as bench profile writes them), then the verdicts."""
    folder = check.run_dir / "profile"
    folder.mkdir(parents=True, exist_ok=True)
    options = MeasureOptions(warmup=3, repeats=10, min_repeats=3, max_seconds=3.0, load_attempts=1)
    measured = 0
    for cell in profile_cells(check.lengths):
        if check.left() < 30:
            break
        rows = measure_cell(cell, options)
        append_rows(folder / "rows.jsonl", [{"run_id": "profile", "cell": cell.cell_id(), "cell_rows": len(rows),
                                             **row} for row in rows])
        measured += 1
    import pandas as pd

    frame = pd.DataFrame(read_rows(folder / "rows.jsonl")) if measured else pd.DataFrame()
    total = len(profile_cells(check.lengths))
    rows = speed_verdicts(frame) + ([memory_verdict(frame)] if len(frame) else [])
    if measured < total:
        rows.append(verdict("triton timing", "cells measured", "skipped", f"{measured} of {total}: budget spent"))
    return rows


def training_epochs(check: Check) -> list[dict]:
    """One SASRec epoch on ML-100K 5-core at N=200 per attention, on the GPU (train/)."""
    from ..data import load_dataset
    from ..environment import environment
    from ..train.cli import run_cell
    from ..train.config import TrainConfig

    spec = {"name": "ml-100k", "options": {"user_k": 5, "item_k": 5}}
    data = load_dataset(spec["name"], data_dir=check.data_dir, **spec["options"])
    rows, env = [], environment()
    for attention in TRAINED:
        if check.left() < 60:
            rows.append(verdict("training", f"SASRec {attention} one epoch", "skipped", "budget spent"))
            continue
        config = replace(TrainConfig(), attention=attention, max_len=200, epochs=1, patience=1, device="cuda")
        (check.run_dir / "train").mkdir(parents=True, exist_ok=True)
        summary = run_cell(check.run_dir / "train", config, data, spec, False, env)
        epoch = next(r["value"] for r in read_rows(check.run_dir / "train" / "rows.jsonl")
                     if r.get("cell") == summary["cell"] and r["metric"] == "epoch_time")
        rows.append(verdict("training", f"SASRec {attention} one epoch, N=200",
                            "ok" if summary["status"] == "finished" else "FAIL",
                            f"{epoch:.1f} s; test NDCG@10 {summary['test'].get('ndcg@10', float('nan')):.4f}"))
    return rows


def report_step(check: Check) -> list[dict]:
    runs = [str(check.run_dir / part) for part in ("profile", "train")
            if (check.run_dir / part / "rows.jsonl").exists()]
    if not runs:
        return [verdict("report", "reports build", "skipped", "no rows to report")]
    done = run_module("reports", ["build", *runs, "--out", str(check.run_dir / "report"), "--title",
                                  "LinRec-Bench device check"], timeout=max(check.left(), 30))
    last = (done.stdout.strip().splitlines() or done.stderr.strip().splitlines() or ["no output"])[-1]
    return [verdict("report", "reports build", "ok" if done.returncode == 0 else "FAIL", last)]


STEPS = (("environment", environment_step), ("cuda tests", cuda_tests), ("sdpa", sdpa_backends),
         ("xformers", xformers_step), ("triton correctness", triton_correctness), ("triton timing", triton_timing),
         ("training", training_epochs), ("report", report_step))
