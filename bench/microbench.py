"""Baseline micro-benchmark: forward+backward time and peak memory of attention variants, side by side, on CPU.

Usage:
    python -m bench microbench                                  # H=8, D=16, 12,800 tokens: T=200/1024/4096
    python -m bench microbench --lengths 512 --repeats 5 --no-memory

Each length runs with B = tokens // T (B=64 at T=200, B=12 at T=1024, B=3 at T=4096), so every cell does the
same token work. Time: inputs and upstream gradients are built outside the timed region; every cell is warmed up,
then the cells are timed in interleaved rounds (one call of each per round) so drift hits all of them alike;
median, p20 and p80 over n calls. Memory: a separate pass, one fresh subprocess per cell (see bench/memory.py).
Every value is also a ratio to linrec_official (the official formulation) measured in the same run.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

from models.attention import AttentionUnavailable, AttentionUnsupported, get_attention, get_spec

from .memory import fresh_process_env, peak_rss_mib
from .profile_run import failure
from .timing import summarise

DEFAULT_VARIANTS = ["linrec_official", "linrec", "linrec_causal", "dot", "sdpa"]
BASELINE = "linrec_official"
CAUSAL_ONLY = {"linrec_causal"}  # measured in its causal mode only (non-causal it is plain linrec)


@dataclass(frozen=True)
class Cell:
    """One measured configuration."""

    variant: str
    causal: bool
    T: int
    B: int
    H: int = 8
    D: int = 16
    dtype: str = "float32"


def modes(variant: str) -> list[bool]:
    """Usage: modes("dot") -> [False, True]: the causal settings worth measuring, from the registry's capabilities."""
    if variant in CAUSAL_ONLY:
        return [True]
    return [False, True] if get_spec(variant).causal else [False]


def make_cells(variants, lengths, tokens, heads, head_dim) -> list[Cell]:
    """Usage: make_cells(["dot"], [200], 12800, 8, 16). Raises ValueError for a budget below one sequence."""
    cells = []
    for T in lengths:
        if tokens < T:
            raise ValueError(f"--tokens {tokens} cannot hold one sequence of length {T}")
        cells += [Cell(v, c, T, tokens // T, heads, head_dim) for v in variants for c in modes(v)]
    return cells


def make_step(cell: Cell, seed: int = 0):
    """Usage: step = make_step(cell); step() runs one forward + backward. Inputs are built here, not in step()."""
    gen = torch.Generator().manual_seed(seed)
    dtype = getattr(torch, cell.dtype)
    shape = (cell.B, cell.T, cell.H, cell.D)
    q, k, v = (torch.randn(shape, generator=gen).to(dtype).requires_grad_() for _ in range(3))
    grad_out = torch.randn(shape, generator=gen).to(dtype)
    attn = get_attention(cell.variant, head_dim=cell.D, max_len=cell.T, seed=seed)

    def step():
        out = attn(q, k, v, causal=cell.causal)
        torch.autograd.grad(out, (q, k, v), grad_out)

    return step


def time_side_by_side(cells, repeats=9, warmup=2, max_seconds=30.0, min_repeats=3, progress=None) -> dict:
    """Usage: time_side_by_side(cells) -> {cell: {"median", "p20", "p80", "n"} or {"status", "message"}}."""
    steps, results = {}, {}
    for cell in cells:
        try:
            steps[cell] = make_step(cell)
            for _ in range(warmup):
                steps[cell]()
        except (AttentionUnavailable, AttentionUnsupported, RuntimeError, MemoryError) as err:
            results[cell] = failure(err)
            steps.pop(cell, None)
        if progress:
            progress.update(1)
    spent = {cell: [] for cell in steps}
    for _ in range(repeats):
        for cell, step in steps.items():
            if len(spent[cell]) >= min_repeats and sum(spent[cell]) > max_seconds:
                continue  # a slow cell keeps its n; the others go on
            start = time.perf_counter()
            step()
            spent[cell].append(time.perf_counter() - start)
        if progress:
            progress.update(1)
    results.update({cell: summarise([s * 1e3 for s in t]) for cell, t in spent.items()})
    return results


def memory_in_subprocess(cell: Cell, timeout: float = 600) -> dict:
    """Usage: memory_in_subprocess(cell) -> {"peak_mib", "method"} or {"status", "message"}."""
    cmd = [sys.executable, "-m", "bench.microbench", "--memory-cell", json.dumps(asdict(cell))]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=fresh_process_env())
    except subprocess.TimeoutExpired:
        return {"status": "error", "message": f"memory pass exceeded {timeout:.0f} s"}
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"status": "oom" if done.returncode in (-9, 137) else "error", "message": tail}
    return json.loads(lines[-1])


def _memory_child(spec: str) -> None:
    """Entry point of the measuring subprocess: build the cell, warm up once, measure one step, print JSON."""
    cell = Cell(**json.loads(spec))
    try:
        step = make_step(cell)
        step()  # first-call allocations (thread pools, kernels) are not the cell's memory
        peak, method = peak_rss_mib(step)
        print(json.dumps({"peak_mib": peak, "method": method}))
    except (AttentionUnavailable, AttentionUnsupported, RuntimeError, MemoryError) as err:
        print(json.dumps(failure(err)))


def cell_rows(cell: Cell, timing: dict, memory: dict | None, run_id: str) -> list[dict]:
    """Usage: cell_rows(cell, timing, memory, run_id) -> tidy rows, one measured value (or failure) per row."""
    base = {"run_id": run_id, "bench": "microbench", "level": "attention", "mode": "fwdbwd", "variant": cell.variant,
            "causal": cell.causal, "T": cell.T, "B": cell.B, "H": cell.H, "D": cell.D, "dtype": cell.dtype,
            "device": "cpu", "threads": torch.get_num_threads(), "padding": "none"}
    rows = []
    if "status" in timing:
        rows.append({**base, "metric": "time", "status": timing["status"], "message": timing["message"]})
    else:
        rows += [{**base, "metric": "time", "stat": stat, "value": timing[stat], "unit": "ms", "n": timing["n"],
                  "status": "ok"} for stat in ("median", "p20", "p80")]
    if memory is not None and "status" in memory:
        rows.append({**base, "metric": "peak_memory", "status": memory["status"], "message": memory["message"]})
    elif memory is not None:
        rows.append({**base, "metric": "peak_memory", "stat": "peak", "value": memory["peak_mib"], "unit": "MiB",
                     "n": 1, "method": memory["method"], "status": "ok"})
    return rows


def ratio_table(rows: list[dict], metric: str, stat: str, baseline: str = BASELINE):
    """Usage: print(ratio_table(rows, "time", "median")) -> "value (ratio to baseline)" per (T, B) and cell;
    a failed cell shows its status (oom, unavailable, ...)."""
    import pandas as pd

    frame = pd.DataFrame(rows)
    frame = frame[frame["metric"] == metric]
    frame = frame.assign(cell=frame["variant"] + np.where(frame["causal"], " causal", ""))
    cells = list(dict.fromkeys(frame["cell"]))
    index = pd.MultiIndex.from_tuples(sorted(set(zip(frame["T"], frame["B"]))), names=["T", "B"])
    ok = frame[frame["status"] == "ok"]
    ok = ok[ok["stat"] == stat] if "stat" in ok else ok
    values = ok.pivot_table(index=["T", "B"], columns="cell", values="value", aggfunc="first")
    values = values.reindex(index=index, columns=cells)
    failed = frame[frame["status"] != "ok"]
    status = failed.pivot_table(index=["T", "B"], columns="cell", values="status", aggfunc="first")
    status = status.reindex(index=index, columns=cells).astype(object).fillna("-")
    base = values[baseline] if baseline in values else pd.Series(np.nan, index=index)
    text = values.apply(lambda col: [f"{v:.1f} ({v / b:.2f}x)" if b == b else f"{v:.1f}" for v, b in zip(col, base)])
    return text.where(values.notna(), status)


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "--memory-cell":
    _memory_child(sys.argv[2])
