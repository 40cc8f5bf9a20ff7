"""Baseline micro-benchmark: forward+backward time and peak memory of attention variants, side by side.

Usage:
    python -m bench microbench                                  # H=8, D=16, 12,800 tokens: T=200/1024/4096
    python -m bench microbench --lengths 512 --repeats 5 --no-memory

Each length runs with B = tokens // T (B=64 at T=200, B=12 at T=1024, B=3 at T=4096), so every cell does the
same token work. A cell is a profiling cell (attention level, fwdbwd; bench/profile): the same inputs and step.
Time: every cell is warmed up, then the cells of one length are timed in interleaved rounds (one call of each per
round) so drift hits all of them alike; median, p20 and p80 over n calls. Memory: the profiler's pass, one fresh
subprocess per cell. Every value is also a ratio to linrec_official (the official formulation) from the same run.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from models.attention import get_spec

from ..cli import show_progress
from ..profile.cells import ProfileCell
from ..profile.measure import failure, run_child
from ..profile.spec import MeasureOptions
from ..profile.steps import build_step
from ..profile.timing import summarise, time_interleaved

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

    def profile_cell(self) -> ProfileCell:
        """Usage: cell.profile_cell() -> the same configuration as a profiling cell (attention level, fwdbwd, CPU)."""
        return ProfileCell("attention", self.variant, "fwdbwd", self.causal, self.T, self.B, self.H, self.D,
                           self.dtype, "cpu", "fixed")


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


def time_side_by_side(cells, repeats=9, warmup=2, max_seconds=30.0, min_repeats=3, progress=None) -> dict:
    """Usage: time_side_by_side(cells) -> {cell: {"median", "p20", "p80", "n", ...} or {"status", "message"}}."""
    steps, results = {}, {}
    for cell in cells:
        try:
            steps[cell] = build_step(cell.profile_cell())
            for _ in range(warmup):
                steps[cell]()
        except Exception as err:  # whatever a variant raises is this cell's result, never the end of the run
            results[cell] = failure(err)
            steps.pop(cell, None)
        if progress:
            progress.update(1)
    times = time_interleaved(list(steps.values()), repeats, warmup=0, max_seconds=max_seconds,
                             min_repeats=min_repeats, progress=progress)
    results.update({cell: summarise(ms) for cell, ms in zip(steps, times)})
    return results


def memory_in_subprocess(cell: Cell, timeout: float = 600) -> dict:
    """Usage: memory_in_subprocess(cell) -> {"peak_memory", "method", ...} or {"status", "message"}: the profiler's
    memory pass in a fresh process."""
    return run_child("memory", cell.profile_cell(), MeasureOptions(timeout=timeout))


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
        rows.append({**base, "metric": "peak_memory", "stat": "peak", "value": memory["peak_memory"], "unit": "MiB",
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


def run_microbench(args) -> int:
    from tqdm import tqdm

    from ..environment import environment
    from ..results import append_rows, new_run_dir, write_json

    for name in args.variants:
        get_spec(name)  # unknown names fail here, before anything is measured
    variants = list(dict.fromkeys([BASELINE, *args.variants]))
    cells = make_cells(variants, args.lengths, args.tokens, args.heads, args.head_dim)
    run_dir = new_run_dir(args.results, "microbench")
    write_json(run_dir / "config.json", {"command": "microbench", **{k: v for k, v in vars(args).items() if k != "run"},
                                         "variants": variants})
    write_json(run_dir / "env.json", environment())
    print(f"microbench: {len(cells)} cells, {torch.get_num_threads()} threads, results in {run_dir}")

    by_length: dict[int, list] = {}
    for cell in cells:
        by_length.setdefault(cell.T, []).append(cell)
    rows = []
    for T, group in by_length.items():
        with tqdm(total=len(group) + args.repeats, desc=f"time T={T}", unit="step", leave=False,
                  disable=not show_progress()) as bar:
            timing = time_side_by_side(group, args.repeats, args.warmup, args.max_seconds, progress=bar)
        for cell in tqdm(group, desc=f"memory T={T}", unit="cell", leave=False, disable=not show_progress()):
            memory = None if args.no_memory else memory_in_subprocess(cell)
            new = cell_rows(cell, timing[cell], memory, run_dir.name)
            append_rows(run_dir / "rows.jsonl", new)
            rows += new

    print(f"\nforward+backward median time, ms (ratio to {BASELINE}); H={args.heads}, D={args.head_dim}, fp32, CPU")
    print(ratio_table(rows, "time", "median").to_string())
    if not args.no_memory:
        print(f"\npeak memory above inputs, MiB (ratio to {BASELINE}); one fresh process per cell")
        print(ratio_table(rows, "peak_memory", "peak").to_string())
    print(f"\nrows: {run_dir / 'rows.jsonl'}")
    return 0
