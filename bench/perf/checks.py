"""``python -m bench perf``: the performance claims about LinRec, measured side by side in one run, in one table.

Usage:
    python -m bench perf                  # every check (about 6 minutes on 2 CPU cores); rows in results/perf-*/
    python -m bench perf --quick          # fewer repeats and T up to 8192 for the memory fit (about 3 minutes)

Each check compares two cells measured in this run: memory by the profiling harness (a fresh process per cell,
see bench/profile/measure.py), time side by side in alternating calls (interleaved_pairs), so the ratios hold on
whatever machine runs it and drift in its speed hits both sides alike. The baseline column is the
official LinRec formulation where the claim is about LinRec's own speed, and SDPA (PyTorch's fused softmax
attention) where it is about LinRec against softmax attention. Checks:
    attention fwd+bwd, H=8, D=16, fp32: linrec at least 2x faster than linrec_official, peak memory at most 0.6x,
        at T=200 (B=64) and T=4096 (B=8)
    linrec_causal fwd+bwd at T=4096 (B=8) within 1.5x of linrec's time; its peak memory growing at most as T^1.1
        between T=1024 and T=16384 (B=2)
    SASRec training step (d=128, 8 heads, 2 layers, 3416 items, 8192 tokens a batch): linrec no slower than sdpa
        at T=200 and at least 3x faster at T=2048, with the step broken down into attention, feed-forward, item
        scoring, optimiser and the rest (breakdown.py); T=4096 as context (where the step's shared
        layers weigh less, how far the ratio goes), without a target
Context rows, without a target: linrec's first call in the process (it compiles the CPU kernels of
models/attention/linrec_kernels.py; timed apart, before anything else runs them), and per breakdown length the
ceiling of the model claims: sdpa's step against the same step less its attention (cli.py).
"""
from __future__ import annotations

import argparse
import math
import statistics
import time
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from tqdm import tqdm

from ..cli import show_progress
from ..profile.analysis import loglog_fit
from ..profile.cells import ProfileCell
from ..profile.measure import failure, measure_cell
from ..profile.spec import MeasureOptions
from ..profile.steps import build_step
from ..profile.timing import time_interleaved, time_step

ATTENTION = dict(level="attention", mode="fwdbwd", H=8, D=16, dtype="float32", device="cpu", batch_policy="fixed")
MODEL = dict(level="model", mode="fwdbwd", H=8, D=16, dtype="float32", device="cpu", batch_policy="tokens",
             tokens=8192, model="sasrec", layers=2, items=3416)


def attention_cell(variant: str, T: int, B: int, causal: bool = False) -> ProfileCell:
    return ProfileCell(variant=variant, T=T, B=B, causal=causal, **ATTENTION)


def model_cell(variant: str, T: int) -> ProfileCell:
    causal = variant in ("sdpa", "dot")  # SASRec runs a variant causally when it can (models/backbones/sasrec.py)
    return ProfileCell(variant=variant, T=T, B=max(1, MODEL["tokens"] // T), causal=causal, **MODEL)


@dataclass(frozen=True)
class Check:
    """One claim: ``ours`` against ``baseline`` on ``metric``; "faster" wants baseline/ours >= bound, "within"
    wants ours/baseline <= bound."""

    claim: str
    metric: str  # "time" (median ms) or "peak_memory" (MiB)
    ours: ProfileCell
    baseline: ProfileCell
    kind: str  # "faster", "within", or "context" (measured for the reader: no target, never fails the run)
    bound: float


def ratio_checks() -> list[Check]:
    """Usage: ratio_checks() -> the pairwise checks, in the order the table prints them."""
    checks = []
    for T, B in ((200, 64), (4096, 8)):
        ours, official = attention_cell("linrec", T, B), attention_cell("linrec_official", T, B)
        checks.append(Check(f"linrec fwd+bwd vs official, T={T} B={B}", "time", ours, official, "faster", 2.0))
        checks.append(Check(f"linrec peak memory vs official, T={T} B={B}", "peak_memory", ours, official,
                            "within", 0.6))
    checks.append(Check("linrec_causal fwd+bwd vs linrec, T=4096 B=8", "time",
                        attention_cell("linrec_causal", 4096, 8, causal=True), attention_cell("linrec", 4096, 8),
                        "within", 1.5))
    for T, bound, kind in ((200, 1.0, "faster"), (2048, 3.0, "faster"), (4096, 3.0, "context")):
        checks.append(Check(f"SASRec step with linrec vs sdpa, T={T}", "time", model_cell("linrec", T),
                            model_cell("sdpa", T), kind, bound))
    return checks


def exponent_cells(quick: bool) -> list[ProfileCell]:
    lengths = (1024, 2048, 4096, 8192) if quick else (1024, 4096, 16384)
    return [attention_cell("linrec_causal", T, 2, causal=True) for T in lengths]


def context_cells() -> list[ProfileCell]:
    """Cells measured for the reader, not for a check: the autograd oracle and the official form in the model."""
    return [attention_cell("linrec_autograd", 200, 64), attention_cell("linrec_autograd", 4096, 8),
            model_cell("linrec_official", 200), model_cell("linrec_official", 2048)]


def value(rows: pd.DataFrame, cell: ProfileCell, metric: str) -> float:
    """Usage: value(rows, cell, "time") -> the median ms (or peak MiB) of ``cell`` in this run; NaN if failed."""
    stat = "median" if metric == "time" else "peak"
    match = rows[(rows["cell"] == cell.cell_id()) & (rows["metric"] == metric) & (rows["status"] == "ok")]
    match = match[match["stat"] == stat]
    return float(match["value"].iloc[0]) if len(match) else math.nan


def interleaved_pairs(checks: list[Check], rounds: int, warmup: int = 2) -> dict[str, dict]:
    """Usage: interleaved_pairs(checks, 15) -> {claim: {"baseline", "ours" (median ms), "ratio", "rounds"}} for
    every time check: both steps built once, warmed up, then timed in alternating calls (baseline, ours, baseline,
    ...), so drift in the machine's speed hits both alike; "ratio" is the median of the per-round ratios
    baseline / ours. A step that cannot be built or run gives NaN."""
    pairs = {}
    for check in (c for c in checks if c.metric == "time"):
        try:
            steps = [build_step(check.baseline), build_step(check.ours)]
            times = time_interleaved(steps, rounds, warmup, device=check.ours.device)
        except Exception as err:  # the profile rows carry the failure; the claim shows NaN
            print(f"{check.claim}: not timed side by side: {failure(err)['message']}")
            pairs[check.claim] = {"baseline": math.nan, "ours": math.nan, "ratio": math.nan, "rounds": 0}
            continue
        ratios = [b / o for b, o in zip(*times)]
        pairs[check.claim] = {"baseline": statistics.median(times[0]), "ours": statistics.median(times[1]),
                              "ratio": statistics.median(ratios), "rounds": rounds}
    return pairs


def first_call_cost(cell: ProfileCell, calls: int = 5) -> dict:
    """Usage: first_call_cost(attention_cell("linrec", 200, 64)) -> {"first_s", "steady_ms", "compile_s",
    "kernels", "cache_hits", "cache_misses"}: the cell's first call in this process, which compiles the LinRec CPU
    kernels (linrec_kernels.py; from Inductor's on-disk cache where it holds them: "cache_hits"), against the
    median of the next ``calls``. Call it before anything else in the process has run the kernels."""
    from torch._dynamo.utils import counters

    from models.attention.linrec_kernels import kernel_path

    step = build_step(cell)
    before = dict(counters["inductor"])
    start = time.perf_counter()
    step()
    first = time.perf_counter() - start
    steady_ms = time_step(step, cell.device, warmup=0, repeats=calls, min_repeats=min(3, calls))["median"]
    hits, misses = (counters["inductor"].get(key, 0) - before.get(key, 0)
                    for key in ("fxgraph_cache_hit", "fxgraph_cache_miss"))
    return {"first_s": first, "steady_ms": steady_ms, "compile_s": max(0.0, first - steady_ms / 1e3),
            "kernels": kernel_path(), "cache_hits": hits, "cache_misses": misses}


def compile_claim(cell: ProfileCell, cost: dict) -> dict:
    """Usage: compile_claim(cell, first_call_cost(cell)) -> a context row of the claims table (no target)."""
    source = f"{cost['cache_hits']} kernels from the on-disk cache, {cost['cache_misses']} built"
    return {"claim": f"{cell.variant} first fwd+bwd call in a process, T={cell.T} B={cell.B} ({cost['kernels']}; "
                     f"{source})", "baseline": f"later calls {cost['steady_ms']:.4g} ms",
            "ours": f"first call {cost['first_s']:.3g} s", "measured": f"{cost['compile_s']:.1f} s compiling",
            "target": "- (context)", "met": "-"}


def check_table(rows: pd.DataFrame, checks: list[Check], exponent: list[ProfileCell],
                pairs: dict | None = None) -> pd.DataFrame:
    """Usage: check_table(rows, checks, cells, pairs) -> one row per claim: baseline, ours, measured, target, met.
    Time claims read ``pairs`` (interleaved_pairs) where given, else the cells' own median times."""
    records = []
    for check in checks:
        ours, base = value(rows, check.ours, check.metric), value(rows, check.baseline, check.metric)
        speedup = base / ours
        if pairs and check.claim in pairs:
            pair = pairs[check.claim]
            ours, base, speedup = pair["ours"], pair["baseline"], pair["ratio"]
        unit = "ms" if check.metric == "time" else "MiB"
        if check.kind == "faster":
            measured, met, target = speedup, speedup >= check.bound, f">= {check.bound:g}x faster"
        elif check.kind == "within":
            measured, met, target = 1 / speedup, 1 / speedup <= check.bound, f"<= {check.bound:g}x"
        else:
            measured, met, target = speedup, None, "- (context)"
        records.append({"claim": check.claim, "baseline": f"{check.baseline.variant} {base:.4g} {unit}",
                        "ours": f"{check.ours.variant} {ours:.4g} {unit}", "measured": f"{measured:.2f}x",
                        "target": target, "met": "-" if met is None else "yes" if met else "NO"})
    peaks = [value(rows, cell, "peak_memory") for cell in exponent]
    slope = loglog_slope([c.T for c in exponent], peaks)
    records.append({"claim": f"linrec_causal peak memory growth, T={exponent[0].T}..{exponent[-1].T} B=2",
                    "baseline": "-", "ours": " / ".join(f"{p:.4g}" for p in peaks) + " MiB",
                    "measured": f"T^{slope:.2f}", "target": "<= T^1.1", "met": "yes" if slope <= 1.1 else "NO"})
    return pd.DataFrame(records)


def loglog_slope(lengths, values) -> float:
    """Least-squares slope of log(value) against log(T) (the profiling analysis's fit); NaN when a value is missing
    or not positive."""
    if any(not v > 0 for v in values):
        return math.nan
    return loglog_fit(np.asarray(lengths, dtype=float), np.asarray(values, dtype=float))[0]


def all_cells(checks: list[Check], exponent: list[ProfileCell]) -> list[ProfileCell]:
    """Usage: all_cells(checks, cells) -> every distinct cell to measure, in a stable order."""
    cells = [c for check in checks for c in (check.baseline, check.ours)] + exponent + context_cells()
    return list(dict.fromkeys(cells))


def measure_all(cells: list[ProfileCell], options: MeasureOptions, run_id: str, progress: bool) -> list[dict]:
    """Usage: rows = measure_all(cells, options, run_id, True): profile rows of every cell, with run and cell."""
    rows = []
    for cell in tqdm(cells, desc="perf", unit="cell", disable=not show_progress(progress)):
        rows += [{**row, "run_id": run_id, "cell": cell.cell_id()} for row in measure_cell(cell, options)]
    return rows


def options_for(args: argparse.Namespace) -> MeasureOptions:
    return MeasureOptions(warmup=2, repeats=5 if args.quick else 10, min_repeats=3,
                          max_seconds=10.0 if args.quick else 20.0, memory=True)


def describe(cell: ProfileCell) -> dict:
    return {key: value for key, value in asdict(cell).items() if value is not None}
