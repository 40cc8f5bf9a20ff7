"""``python -m bench perf``: run the checks of checks.py, write rows, print the claims table and the breakdown.

Usage:
    python -m bench perf [--quick] [--results results] [--run-dir results/perf-mine] [--no-breakdown]
                         [--no-training] [--data-dir data] [--device auto|cpu|cuda|cuda:N]

The claims are the CPU's (checks.py); ``--device cuda`` measures the same pairs, exponents and training epochs on
the GPU. The first-call compile cost and the step breakdown belong to the CPU kernels and run on the CPU only.
"""
from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

import pandas as pd
import torch

from ..environment import environment, select_device
from ..results import append_rows, new_run_dir, write_json
from .breakdown import PARTS, time_breakdown
from .checks import (all_cells, attention_cell, check_table, compile_claim, describe, exponent_cells,
                     first_call_cost, interleaved_pairs, measure_all, model_cell, options_for, ratio_checks)
from .mixers import growth_cells, growth_table, mixer_checks
from .training import DATASET, SETTING, epoch_rows, throughput_table

BREAKDOWN_VARIANTS = ("sdpa", "linrec_official", "linrec")
BREAKDOWN_LENGTHS = (200, 2048)
FIRST_CALL_CELL = attention_cell("linrec", 200, 64)  # its first call compiles the LinRec CPU kernels


def open_run(args) -> Path:
    """Usage: open_run(args) -> a new run folder; an existing non-empty --run-dir is a one-line error."""
    if args.run_dir is None:
        return new_run_dir(args.results, "perf")
    if args.run_dir.exists() and any(args.run_dir.iterdir()):
        raise ValueError(f"{args.run_dir} is not empty; perf writes a new run folder each time")
    args.run_dir.mkdir(parents=True, exist_ok=True)
    return args.run_dir


def breakdown_rows(run_id: str, options, progress: bool) -> list[dict]:
    """Usage: breakdown_rows(run_id, options, True) -> one row per (variant, T, component), median ms."""
    rows = []
    for T in BREAKDOWN_LENGTHS:
        for variant in BREAKDOWN_VARIANTS:
            cell = model_cell(variant, T)
            if progress:
                print(f"breakdown: {variant} T={T}", flush=True)
            times = time_breakdown(cell, options.warmup, options.repeats, options.max_seconds)
            rows += [{"bench": "perf_breakdown", "run_id": run_id, "cell": cell.cell_id(), **describe(cell),
                      "component": part, "metric": "time", "stat": "median", "value": ms, "unit": "ms",
                      "status": "ok"} for part, ms in times.items()]
    return rows


def breakdown_table(rows: list[dict]) -> pd.DataFrame:
    """Usage: breakdown_table(rows) -> (variant, T) x component in ms, with each part's share of the step."""
    table = pd.DataFrame(rows).pivot_table(index=["T", "variant"], columns="component", values="value",
                                           aggfunc="first")[["total", *PARTS, "rest"]]
    text = table.round(1).astype(str)
    for part in (*PARTS, "rest"):
        text[part] += " (" + (100 * table[part] / table["total"]).round(0).astype(int).astype(str) + "%)"
    return text


def ceiling_claims(parts: list[dict]) -> pd.DataFrame:
    """Usage: ceiling_claims(breakdown rows) -> per length, how much faster than sdpa's step any attention could
    make it: sdpa's step against the same step less sdpa's attention (context rows: the bound on the model claims)."""
    sdpa = [part for part in parts if part["variant"] == "sdpa"]
    if not sdpa:
        return pd.DataFrame()
    table = pd.DataFrame(sdpa).pivot_table(index="T", columns="component", values="value")
    records = []
    for T, row in table.iterrows():
        floor = row["total"] - row["attention"]
        records.append({"claim": f"SASRec step vs sdpa if the attention cost nothing, T={T}",
                        "baseline": f"sdpa {row['total']:.4g} ms", "ours": f"without attention {floor:.4g} ms",
                        "measured": f"{row['total'] / floor:.2f}x", "target": "- (context)", "met": "-"})
    return pd.DataFrame(records)


def training_claims(rows: list[dict]) -> pd.DataFrame:
    """Usage: training_claims(rows) -> one claim per training run: time outside the model under 10% of the epoch."""
    records = []
    for r in rows:
        outside, whole = r["data_s"] + r["eval_s"], r["epoch_s"] + r["eval_s"]
        records.append({"claim": f"training epoch outside the model, {r['attention']} {r['path']}", "baseline": "-",
                        "ours": f"{outside:.3g} s of {whole:.3g} s", "measured": f"{100 * r['outside_share']:.1f}%",
                        "target": "< 10%", "met": "yes" if r["outside_share"] < 0.10 else "NO"})
    return pd.DataFrame(records)


def run_training(args, run_dir: Path, device: str = "cpu") -> list[dict]:
    """Usage: run_training(args, run_dir) -> the perf_training rows (one epoch per path on ML-100K 5-core)."""
    from ..data import load_dataset

    data = load_dataset(DATASET["name"], data_dir=args.data_dir, **DATASET["options"])
    with tempfile.TemporaryDirectory() as work:  # the trainer's own rows and checkpoints are not kept
        return epoch_rows(data, Path(work), run_dir.name, setting=replace(SETTING, device=device),
                          progress=not args.no_progress)


def on_device(checks, exponent, device: str):
    """Usage: checks, exponent = on_device(ratio_checks(), exponent_cells(quick), "cuda") -> the same cells there."""
    checks = [replace(c, ours=replace(c.ours, device=device), baseline=replace(c.baseline, device=device))
              for c in checks]
    return checks, [replace(cell, device=device) for cell in exponent]


def run_perf(args) -> int:
    device = select_device(args.device)
    run_dir = open_run(args)
    options = options_for(args)
    checks, exponent = on_device(ratio_checks(), exponent_cells(args.quick), device)
    mixers = [] if args.no_mixers else on_device(mixer_checks(), [], device)[0]
    growth = {} if args.no_mixers else {name: on_device([], group, device)[1] for name, group in growth_cells().items()}
    cells = all_cells(checks, exponent) + [c for group in growth.values() for c in group]
    write_json(run_dir / "env.json", environment())
    write_json(run_dir / "config.json", {"command": "perf", "quick": args.quick, "measure": options.__dict__,
                                         "breakdown": not args.no_breakdown, "cells": [describe(c) for c in cells]})
    where = f"{torch.get_num_threads()} CPU threads" if device == "cpu" else device
    print(f"perf: {len(cells)} cells on {where}, rows in {run_dir}", flush=True)
    first_cell = FIRST_CALL_CELL
    first = first_call_cost(first_cell)  # before any other call here: the kernels' compile time, reported apart
    append_rows(run_dir / "rows.jsonl", [{"bench": "perf_compile", "run_id": run_dir.name,
                                          "cell": first_cell.cell_id(), **describe(first_cell), **first}])
    rows = measure_all(cells, options, run_dir.name, not args.no_progress)
    append_rows(run_dir / "rows.jsonl", rows)
    pairs = interleaved_pairs(checks, rounds=10 if args.quick else 20)
    pairs |= interleaved_pairs(mixers, rounds=3 if args.quick else 7)  # a naive loop at T=4096 takes seconds
    append_rows(run_dir / "rows.jsonl", [{"bench": "perf_pair", "run_id": run_dir.name, "claim": claim, **pair}
                                          for claim, pair in pairs.items()])
    table = check_table(pd.DataFrame(rows), checks + mixers, exponent, pairs)
    table = pd.concat([table, growth_table(pd.DataFrame(rows), growth)], ignore_index=True)
    table = pd.concat([table, pd.DataFrame([compile_claim(first_cell, first)])], ignore_index=True)
    if not args.no_training:
        training = run_training(args, run_dir, device)
        append_rows(run_dir / "rows.jsonl", training)
        table = pd.concat([table, training_claims(training)], ignore_index=True)
    if not args.no_breakdown:
        parts = breakdown_rows(run_dir.name, options, not args.no_progress)
        append_rows(run_dir / "rows.jsonl", parts)
        table = pd.concat([table, ceiling_claims(parts)], ignore_index=True)
    print("\n" + table.to_markdown(index=False))
    if not args.no_training:
        print("\nOne epoch of SASRec on ML-100K 5-core (N=50, batch 512, full-ranking validation after it):\n"
              + throughput_table(training).to_markdown(index=False))
    if not args.no_breakdown:
        print("\nSASRec training step, ms (share of the step):\n" + breakdown_table(parts).to_markdown())
    print(f"\nrows: {run_dir / 'rows.jsonl'}")
    return 0 if (table["met"] != "NO").all() else 1  # context rows ("-") never fail the run
