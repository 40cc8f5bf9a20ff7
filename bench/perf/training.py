"""Training throughput: one full epoch of SASRec on ML-100K per training path, and the share of time spent outside
the model's forward, backward and update (data preparation, validation, logging).

Usage:
    rows = epoch_rows(data, work_dir, run_id)       # one epoch per entry of RUNS, with the trainer's own rows
    table = throughput_table(rows)                  # attention, path, epoch s, pairs/s, windows/s, outside share

Setting: objective ``last``, N=50, d=64, 2 layers, 2 heads, inner 256, batch 512 (prefix, next item) pairs, CE over all
items, full-ranking validation after the epoch. Pairs are (prefix, next item) training targets: every path trains
on the same pairs, so pairs per second compares paths fairly; windows are the sequences the model ran.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd

from ..results import read_rows
from ..train.grids import ML100K_5CORE, REFERENCE
from ..train.loop import train

SETTING = replace(REFERENCE, max_len=50, epochs=1, patience=1, seed=0)
RUNS = (("dot", "per-prefix"), ("dot", "per-sequence"), ("linrec_causal", "per-sequence"), ("linrec", "per-prefix"))
DATASET = ML100K_5CORE


def epoch_rows(data, work_dir: Path, run_id: str, runs=RUNS, setting=SETTING, progress: bool = False) -> list[dict]:
    """Usage: see module docstring. Trains each (attention, path) for one epoch; returns one summary row each."""
    rows = []
    for attention, path in runs:
        config = replace(setting, attention=attention, last_path=path)
        run_dir = Path(work_dir) / f"{attention}-{path}"
        train(config, data, run_dir, progress=progress)
        by_metric = {r["metric"]: r for r in read_rows(run_dir / "rows.jsonl") if r.get("epoch") == 1
                     and r.get("split") == "train"}
        epoch, evaluation = by_metric["epoch_time"]["value"], by_metric["eval_time"]["value"]
        data_seconds = by_metric["data_share"]["value"] * epoch
        rows.append({"bench": "perf_training", "run_id": run_id, "attention": attention, "path": path,
                     "max_len": config.max_len, "batch_size": config.batch_size, "epoch_s": epoch,
                     "eval_s": evaluation, "data_s": data_seconds, "pairs": by_metric["pairs"]["value"],
                     "windows": by_metric["samples"]["value"],
                     "outside_share": (data_seconds + evaluation) / (epoch + evaluation)})
    return rows


def throughput_table(rows: list[dict]) -> pd.DataFrame:
    """Usage: throughput_table(rows) -> one line per run; speed-up against the first run (the per-prefix dot)."""
    frame = pd.DataFrame(rows)
    first = frame["epoch_s"].iloc[0]
    return pd.DataFrame({
        "attention": frame["attention"], "path": frame["path"], "epoch s": frame["epoch_s"].round(1),
        "pairs/s": (frame["pairs"] / frame["epoch_s"]).round(0).astype(int),
        "windows/s": (frame["windows"] / frame["epoch_s"]).round(0).astype(int),
        "outside model %": (100 * frame["outside_share"]).round(1),
        "vs first": (first / frame["epoch_s"]).round(2).astype(str) + "x"})
