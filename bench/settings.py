"""Which settings tell training cells apart, read from their rows: summaries average seeds, never settings.

Usage:
    varying_settings(rows)                        # -> ["hidden", "inner"]: settings that differ between cells
    varying_settings(rows, within=["model"])      # ... between cells of one backbone
    varying_settings(rows, ignore=["dataset"])    # leave out columns the caller keys on already

Every training row carries its cell's whole configuration, so a setting is any column whose value is the same on
all rows of a cell; the columns that identify or measure (the cell id, the run, the seed, the metric and its
value, ...) are not settings. Torch-free, so reports and the ``train-summary`` command share it.
"""
from __future__ import annotations

import pandas as pd

# The data's digest identifies the content of the data set its dataset column names; the rest identify or measure.
NOT_SETTINGS = ("run_id", "bench", "cell", "seed", "schema", "threads", "causal", "data_sha256", "reused_from", "split",
                "epoch", "metric", "stat", "value", "unit", "status", "message")


def cell_settings(rows: pd.DataFrame) -> pd.DataFrame:
    """Usage: cell_settings(rows) -> one row per cell (index "cell"), the setting columns its rows share."""
    columns = [c for c in rows.columns if c not in NOT_SETTINGS]
    per_cell = rows.groupby("cell", sort=False)[columns]
    shared = per_cell.nunique(dropna=False).le(1).all()  # a column that changes inside a cell is a measurement
    return per_cell.first()[[c for c in columns if shared[c]]]


def varying_settings(rows: pd.DataFrame, within=(), ignore=()) -> list[str]:
    """Usage: see module docstring. The settings, in row order, that take more than one value between the cells
    of a group of ``within`` (all cells as one group when empty); columns in ``within`` and ``ignore`` left out."""
    if rows.empty or "cell" not in rows:
        return []
    cells = cell_settings(rows)
    candidates = [c for c in cells.columns if c not in (*within, *ignore)]
    if not within:
        counts = cells[candidates].nunique(dropna=True)
    else:
        counts = cells.groupby(list(within), dropna=False)[candidates].nunique(dropna=True).max()
    return [c for c in candidates if counts[c] > 1]
