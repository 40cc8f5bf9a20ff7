"""Summary of training runs: test metrics as mean ± std over seeds, epochs to converge, seconds per epoch.

Usage:
    python -m bench train-summary results/reference-ml100k [more run folders ...]
    table = summary_table(load_train_rows(["results/reference-ml100k"]))   # a pandas DataFrame, one row per setting

One row per setting: dataset, model, attention, N, the training path and every other setting that differs
between the cells (bench.settings: the hidden size, the protocol, ...); seeds alone are aggregated. Of these,
the ones all cells share are printed once above the table. ``best epoch`` is the early-stopping epoch,
``s/epoch`` the median training time of an epoch (without validation), ``data %`` the median share of it spent
building batches. Cells that diverged count in
``n`` but not in the means, and are listed in ``diverged``.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..results import usable_rows
from ..settings import cell_settings, varying_settings

LEADING = ["dataset", "model", "attention", "max_len", "path"]  # always shown, varying or not
TEST_METRICS = ["hr@10", "ndcg@10", "mrr@10"]


def load_train_rows(run_dirs) -> pd.DataFrame:
    """Usage: load_train_rows(["results/a", "results/b"]) -> the training rows of every folder, one DataFrame."""
    rows = []
    for run_dir in run_dirs:
        path = Path(run_dir) / "rows.jsonl"
        if not path.exists():
            raise ValueError(f"{run_dir}: no rows.jsonl (not a results folder, or nothing finished yet)")
        rows += [r for r in usable_rows(path) if r.get("bench") == "train"]
    if not rows:
        raise ValueError(f"no training rows in {', '.join(map(str, run_dirs))}")
    return pd.DataFrame(rows)


def setting_key(rows: pd.DataFrame) -> list[str]:
    """Usage: setting_key(rows) -> LEADING plus every other setting that differs between the cells of ``rows``."""
    return [*[c for c in LEADING if c in rows], *varying_settings(rows, ignore=LEADING)]


def per_cell(rows: pd.DataFrame) -> pd.DataFrame:
    """Usage: per_cell(rows) -> one row per cell with a status: its settings, seed, status, test metrics, epochs
    and timing."""
    rows = rows.drop_duplicates([c for c in ("cell", "split", "epoch", "metric") if c in rows], keep="last")
    status = rows[rows["metric"] == "status"].groupby("cell")["status"].last()
    test = rows[rows["split"] == "test"].pivot_table(index="cell", columns="metric", values="value")
    train = rows[rows["split"] == "train"]
    best = train[train["metric"] == "best_epoch"].groupby("cell")["value"].last().rename("best_epoch")
    timing = train[train["metric"].isin(["epoch_time", "data_share"])]
    timing = timing.pivot_table(index="cell", columns="metric", values="value", aggfunc="median")
    seeds = rows.groupby("cell")["seed"].first()
    cells = pd.concat([cell_settings(rows), seeds, test.reindex(columns=TEST_METRICS), best,
                       timing.reindex(columns=["epoch_time", "data_share"])], axis=1)
    cells["status"] = status
    return cells[cells["status"].notna()].rename_axis("cell").reset_index()


def mean_std(values: pd.Series, digits: int = 4) -> str:
    values = values.dropna()
    if values.empty:
        return "-"
    if len(values) == 1:
        return f"{values.iloc[0]:.{digits}f}"
    return f"{values.mean():.{digits}f} ± {values.std(ddof=1):.{digits}f}"


def summary_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Usage: summary_table(load_train_rows([...])) -> one row per setting with mean ± std over seeds."""
    cells, key = per_cell(rows), setting_key(rows)
    out = []
    for setting, group in cells.groupby(key, dropna=False, sort=False):
        ok = group[group["status"] == "finished"]
        entry = dict(zip(key, setting))
        entry.update({metric: mean_std(ok[metric]) for metric in TEST_METRICS})
        entry.update({"n": len(group), "best epoch": mean_std(ok["best_epoch"], 1),
                      "s/epoch": mean_std(ok["epoch_time"], 1),
                      "data %": f"{100 * ok['data_share'].median():.1f}" if ok["data_share"].notna().any() else "-",
                      "diverged": int((group["status"] == "diverged").sum())})
        out.append(entry)
    return pd.DataFrame(out)


def run_train_summary(args) -> int:
    rows = load_train_rows(args.run_dirs)
    table = summary_table(rows)
    shared = cell_settings(rows)
    shared = [c for c in shared.columns if shared[c].nunique(dropna=False) == 1 and c not in table]
    constant = [c for c in LEADING if c in table and table[c].nunique(dropna=False) == 1]
    print("; ".join(f"{c}={table[c].iloc[0]}" for c in constant) + (f" (all cells: {len(shared)} more settings "
          f"in common)" if shared else ""))
    table = table.drop(columns=constant)
    with pd.option_context("display.width", 200, "display.max_columns", None):
        print(table.to_markdown(index=False) if args.markdown else table.to_string(index=False))
    return 0
