"""Measure one profiling cell: peak memory in its own pass, then time; every failure becomes a row.

Usage:
    rows = measure_cell(cell, MeasureOptions(repeats=10))   # tidy rows: one measured value (or failure) per row

Order inside a cell: the memory pass first, then the timing pass, so a cell that runs out of memory under the cap
is recorded as ``oom`` and never timed (nor allowed to exhaust the machine). CPU memory is measured in a fresh
subprocess (see memory.py: the resident-set method needs a process of its own, and the memory cap lives
there); CUDA memory in this process with the allocator's counters. With ``isolate=True`` the whole cell (both
passes) runs in a fresh subprocess, so a crash, a leak or a fragmented allocator cannot touch the next cell.

Statuses: ok, oom (an allocation failed: past the memory cap, or CUDA OOM), unavailable (the variant cannot run on
this device), unsupported (the variant cannot do what the cell asks, e.g. causal linformer), killed (its process
got signal 9 from outside: measured again when the sweep resumes), error (anything else, with its first line).
"""
from __future__ import annotations

import gc
import json
import re
import subprocess
import sys
import time
from dataclasses import asdict

import torch

from models.attention import AttentionUnavailable, AttentionUnsupported, kernel_ran
from models.plugins import load_plugins

from ..environment import device_name
from ..processes import die_with_parent, run_module
from .cells import ProfileCell
from .flops import cell_counts
from ..load import load_between, loaded_reason, snapshot
from .memory import cuda_peak_mib, fresh_process_env, limit_address_space, peak_rss_mib
from .spec import MeasureOptions
from .steps import build_step, check_runnable
from .timing import TIME_STATS, time_step

CHILD_MODULE = "bench.profile.measure"  # this file, run as ``python -m`` for a cell's own process
OOM_TEXT = ("out of memory", "can't allocate memory", "cannot allocate memory")


LOAD_FIELDS = ("load_avg", "others_cpu", "steal", "attempts", "loaded")


def failure(err: BaseException) -> dict:
    """Usage: failure(err) -> {"status": "oom" | "unavailable" | "unsupported" | "error", "message": first line}."""
    text = re.sub(r"^\[enforce fail at [^\]]*\] err == 0\. ", "", str(err).strip())  # c10's prefix says nothing
    message = text.splitlines()[0] if text else type(err).__name__
    if isinstance(err, AttentionUnavailable):
        return {"status": "unavailable", "message": message}
    if isinstance(err, AttentionUnsupported):
        return {"status": "unsupported", "message": message}
    if isinstance(err, (MemoryError, torch.OutOfMemoryError)) or any(t in text.lower() for t in OOM_TEXT):
        return {"status": "oom", "message": message}
    return {"status": "error", "message": f"{type(err).__name__}: {message}"}


def _release(device: str) -> None:
    """The step's tensors die with it (reference counting); on CUDA the cached blocks go back too."""
    if device == "cuda":
        gc.collect()  # a full collection costs ~0.1 s with torch loaded: only where cached memory matters
        torch.cuda.empty_cache()


def _backend(cell: ProfileCell) -> str | None:
    if "sdpa" not in cell.variant:
        return None
    from models.attention.sdpa import last_backend
    return last_backend()


def memory_here(cell: ProfileCell) -> dict:
    """Usage: memory_here(cell) -> {"peak_memory": MiB, ... , "method": ...} or a failure dict. On CPU, call it
    only in a process of its own (the resident-set method counts everything the process touched)."""
    try:
        step = build_step(cell)
        step()  # first-call allocations (thread pools, kernel caches, optimiser state) are not the step's memory
        if cell.device == "cuda":
            readings = {**cuda_peak_mib(step, cell.device), "method": "cuda-allocator"}
        else:
            peak, method = peak_rss_mib(step)
            readings = {"peak_memory": peak, "method": method}
        return {**readings, "backend": _backend(cell)}
    except Exception as err:  # whatever a variant raises is this cell's row, never the end of the sweep
        return failure(err)
    finally:
        _release(cell.device)


def time_under_least_load(step, device: str, options: MeasureOptions) -> dict:
    """Usage: time_under_least_load(step, "cpu", options) -> timing statistics and the load they were taken under
    (LOAD_FIELDS): timed again while the machine is loaded, up to ``load_attempts`` times; the least loaded
    attempt is kept, and ``loaded`` says why it still was (None when it was not)."""
    best = None
    for attempt in range(1, options.load_attempts + 1):
        if attempt > 1:
            time.sleep(options.load_wait)
        before = snapshot()
        stats = time_step(step, device, options.warmup, options.repeats, options.max_seconds, options.min_repeats)
        reading = load_between(before, snapshot())
        result = {**stats, **reading, "loaded": loaded_reason(reading)}
        if result["loaded"] is None:
            return {**result, "attempts": attempt}
        if best is None or (reading["others_cpu"] or 0.0) < (best["others_cpu"] or 0.0):
            best = result
    return {**best, "attempts": options.load_attempts}


def time_here(cell: ProfileCell, options: MeasureOptions) -> dict:
    """Usage: time_here(cell, options) -> timing statistics in ms (see timing.py) and the load they were taken
    under, or a failure dict."""
    try:
        step = build_step(cell)
        timing = time_under_least_load(step, cell.device, options)
        return {**timing, "backend": _backend(cell), "kernel": kernel_ran(cell.variant, cell.device)}
    except Exception as err:  # whatever a variant raises is this cell's row, never the end of the sweep
        return failure(err)
    finally:
        _release(cell.device)


def measure_results(cell: ProfileCell, options: MeasureOptions, fresh_process: bool = False) -> dict:
    """Usage: measure_results(cell, options) -> {"memory": readings or failure or None, "time": stats or failure}."""
    try:
        check_runnable(cell)  # known before any subprocess starts
    except (AttentionUnavailable, AttentionUnsupported) as err:
        return {"memory": failure(err) if options.memory else None, "time": failure(err)}
    memory = None
    if options.memory:
        if cell.device == "cuda" or fresh_process:
            memory = memory_here(cell)
        else:
            memory = run_child("memory", cell, options)
    if memory is not None and "status" in memory:  # the timing pass would fail alike, or exhaust the machine
        why = "ran out of memory" if memory["status"] == "oom" else "failed"
        timing = {"status": memory["status"], "message": f"not timed: the memory pass {why}: {memory['message']}"}
    else:
        timing = time_here(cell, options)
    return {"memory": memory, "time": timing}


def measure_cell(cell: ProfileCell, options: MeasureOptions) -> list[dict]:
    """Usage: see module docstring. Rows carry the cell's fields; run_id and cell id are added by the caller."""
    if options.isolate:
        results = run_child("cell", cell, options)
        if "status" in results:  # the child itself died: both passes share its fate
            results = {"memory": results if options.memory else None, "time": results}
    else:
        results = measure_results(cell, options)
    return cell_rows(cell, results)


def run_child(kind: str, cell: ProfileCell, options: MeasureOptions) -> dict:
    """Usage: run_child("memory", cell, options) -> the child's result dict, or a failure dict when it died."""
    args = [kind, cell.as_json(), json.dumps(asdict(options))]
    try:
        done = run_module(CHILD_MODULE, args, timeout=options.timeout, env=fresh_process_env())
    except subprocess.TimeoutExpired:
        return {"status": "error", "message": f"the {kind} subprocess exceeded {options.timeout:.0f} s"}
    lines = done.stdout.strip().splitlines()
    if done.returncode in (-9, 137):  # the memory cap makes an over-large cell fail inside torch (oom), not this
        return {"status": "killed", "message": f"the {kind} subprocess was killed (signal 9: from outside, or the "
                                               f"kernel's out-of-memory killer); it is measured again on resume"}
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"status": "error", "message": f"the {kind} subprocess exited with {done.returncode}: {tail}"}
    try:
        return json.loads(lines[-1])
    except json.JSONDecodeError:
        return {"status": "error", "message": f"the {kind} subprocess printed no result: {lines[-1][:200]}"}


def _child_main(kind: str, cell_json: str, options_json: str) -> None:
    """Entry point of a measuring subprocess: apply threads and the memory cap, measure, print one JSON line."""
    die_with_parent()
    load_plugins()  # the parent's plug-ins, named in its environment, so a plug-in variant is measured here too
    cell, options = ProfileCell.from_json(cell_json), MeasureOptions(**json.loads(options_json))
    if options.threads:
        torch.set_num_threads(options.threads)
    if options.memory_cap_mib and cell.device == "cpu":
        limit_address_space(options.memory_cap_mib)
    result = memory_here(cell) if kind == "memory" else measure_results(cell, options, fresh_process=True)
    for part in (result, result.get("memory"), result.get("time")):
        if isinstance(part, dict) and part.get("status") == "oom" and options.memory_cap_mib and cell.device == "cpu":
            part["message"] += f" (memory cap {options.memory_cap_mib:g} MiB)"
    print(json.dumps(result))


def cell_rows(cell: ProfileCell, results: dict) -> list[dict]:
    """Usage: cell_rows(cell, {"memory": ..., "time": ...}) -> tidy rows, one value or one failure per row."""
    timing, memory = results["time"], results.get("memory")
    backend = next((r.get("backend") for r in (timing, memory) if r and r.get("backend")), None)
    kernel = timing.get("kernel") if "status" not in timing else kernel_ran(cell.variant, cell.device)
    base = {"bench": "profile", **asdict(cell), "d": cell.d, "options": None, "device_name": device_name(cell.device),
            "threads": torch.get_num_threads() if cell.device == "cpu" else None, "backend": backend,
            "kernel": kernel}
    rows = []
    if "status" in timing:
        rows.append({**base, "metric": "time", "status": timing["status"], "message": timing["message"]})
    else:
        counts = cell_counts(cell)  # FLOPs and minimal bytes of an attention cell: what its roofline floor needs
        load = {field: timing.get(field) for field in LOAD_FIELDS}
        rows += [{**base, "metric": "time", "stat": stat, "value": timing[stat], "unit": "ms", "n": timing["n"],
                  "calls_per_sample": timing.get("calls_per_sample", 1), "status": "ok", **counts, **load}
                 for stat in TIME_STATS]
    if memory is not None and "status" in memory:
        rows.append({**base, "metric": "peak_memory", "status": memory["status"], "message": memory["message"]})
    elif memory is not None:
        for metric in ("peak_memory", "reserved_memory", "nvml_memory"):
            if memory.get(metric) is not None:
                rows.append({**base, "metric": metric, "stat": "peak", "value": memory[metric], "unit": "MiB",
                             "n": 1, "method": memory["method"] if metric == "peak_memory" else metric.split("_")[0],
                             "status": "ok"})
    return rows


if __name__ == "__main__":
    _child_main(*sys.argv[1:4])
