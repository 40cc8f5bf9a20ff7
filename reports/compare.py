"""Comparison of two sets of runs (``python -m reports build RUN... --compare OTHER...``): the same cells measured
or trained elsewhere (another machine, another commit, GPU against CPU), matched cell by cell.

Usage:
    tables = efficiency_comparison(frame, other)    # {"time": ..., "peak_memory": ...}: other / this per length
    table = accuracy_comparison(frame, other, "full")   # test metrics of both, mean over seeds, and the change

Efficiency cells match on level, model, mode, causal, dtype, variant, T and B (not on the device, so a GPU run
compares with a CPU run); a cell only one side measured is left out. Accuracy rows match on backbone, attention,
dataset, N and every setting that varies between the two sides' cells but the device (bench.settings); each
side's mean is over its own seeds.
"""
from __future__ import annotations

import pandas as pd

from bench.settings import varying_settings

from .accuracy import METRICS, finished_test_rows

CELL_KEY = ["level", "model", "mode", "causal", "dtype", "variant", "T", "B"]
STATS = {"time": "median", "peak_memory": "peak"}
MODEL_KEY = ["model", "attention", "dataset", "max_len"]
NOT_MATCHED = ("device", "protocol")  # a GPU run compares with a CPU run; the protocol makes the table


def _measured(frame: pd.DataFrame, metric: str) -> pd.Series:
    """(CELL_KEY) -> value of the successful profile cells of ``frame`` for ``metric``."""
    if frame.empty or "bench" not in frame or "T" not in frame:
        return pd.Series(dtype=float)
    rows = frame[(frame["bench"] == "profile") & (frame["metric"] == metric) & (frame["status"] == "ok")]
    rows = rows[rows["stat"] == STATS[metric]].assign(model=lambda r: r["model"].fillna("-"))
    rows = rows.assign(T=rows["T"].astype(int), B=rows["B"].astype(int))
    return rows.groupby(CELL_KEY)["value"].first()


def efficiency_comparison(frame: pd.DataFrame, other: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Usage: see module docstring. Each table: rows (level, model, mode, causal, dtype, variant), columns T, cells
    "other / this" as "0.52×" (below 1: the other run took less). Empty tables where no cell matches."""
    tables = {}
    for metric in STATS:
        both = pd.concat({"this": _measured(frame, metric), "other": _measured(other, metric)}, axis=1).dropna()
        if both.empty:
            tables[metric] = pd.DataFrame()
            continue
        ratio = (both["other"] / both["this"]).rename("ratio").reset_index()
        table = ratio.pivot_table(index=CELL_KEY[:-2], columns="T", values="ratio", aggfunc="first")
        tables[metric] = table.map(lambda r: "-" if r != r else f"{r:#.3g}×")
    return tables


def accuracy_comparison(frame: pd.DataFrame, other: pd.DataFrame, protocol: str) -> pd.DataFrame:
    """Usage: see module docstring. Rows the matched models; per metric this, other (means over seeds) and the
    relative change of other against this. Empty when either side has no finished cell under ``protocol``."""
    tests = []
    for rows in (frame, other):
        try:
            tests.append(finished_test_rows(rows, protocol))
        except ValueError:
            return pd.DataFrame()
    both_sides = pd.concat(tests)
    key = [*MODEL_KEY, *varying_settings(both_sides, ignore=[*MODEL_KEY, *NOT_MATCHED])]
    means = [test.reindex(columns=[*key, "metric", "value"]).groupby([*key, "metric"], dropna=False)["value"].mean()
             for test in tests]
    both = pd.concat({"this": means[0], "other": means[1]}, axis=1, join="inner")
    if both.empty:
        return pd.DataFrame()
    both["change"] = (both["other"] / both["this"] - 1).map(lambda c: f"{100 * c:+.1f}%")
    table = both.unstack("metric").swaplevel(0, 1, axis=1)
    shown = [metric for metric in METRICS if metric in table.columns.get_level_values(0)]
    return table.reindex(columns=[(m, c) for m in shown for c in ("this", "other", "change")])
