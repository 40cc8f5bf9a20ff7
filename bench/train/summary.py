"""Summary of training runs: test metrics as mean ± std over seeds, epochs to converge, seconds per epoch.

Usage:
    python -m bench train-summary results/reference-ml100k [more run folders ...]
    table = summary_table(load_train_rows(["results/reference-ml100k"]))   # a pandas DataFrame, one row per setting

One row per setting (dataset, model, attention, N, objective, loss, protocol, shuffled order); seeds are
aggregated. ``epochs`` is the best (early-stopping) epoch; ``s/epoch`` the median training time of an epoch
(without validation), ``data %`` the median share of it spent building batches. Cells that diverged count in
``n`` but not in the means, and are listed in ``diverged``.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..results import read_rows

SETTING = ["dataset", "model", "attention", "max_len", "objective", "loss", "protocol", "shuffle_train_order"]
TEST_METRICS = ["hr@10", "ndcg@10", "mrr@10"]


def load_train_rows(run_dirs) -> pd.DataFrame:
    """Usage: load_train_rows(["results/a", "results/b"]) -> the training rows of every folder, one DataFrame."""
    rows = []
    for run_dir in run_dirs:
        path = Path(run_dir) / "rows.jsonl"
        if not path.exists():
            raise ValueError(f"{run_dir}: no rows.jsonl (not a results folder, or nothing finished yet)")
        rows += [r for r in read_rows(path) if r.get("bench") == "train"]
    if not rows:
        raise ValueError(f"no training rows in {', '.join(map(str, run_dirs))}")
    return pd.DataFrame(rows)


def per_cell(rows: pd.DataFrame) -> pd.DataFrame:
    """Usage: per_cell(rows) -> one row per finished cell: setting, seed, status, test metrics, epochs, timing."""
    keys = SETTING + ["seed", "cell"]
    status = rows[rows["metric"] == "status"].set_index("cell")["status"]
    test = rows[rows["split"] == "test"].pivot_table(index=keys, columns="metric", values="value")
    train = rows[rows["split"] == "train"]
    best = train[train["metric"] == "best_epoch"].set_index(keys)["value"].rename("epochs")
    timing = train[train["metric"].isin(["epoch_time", "data_share"])]
    timing = timing.pivot_table(index=keys, columns="metric", values="value", aggfunc="median")
    cells = pd.concat([test.reindex(columns=TEST_METRICS), best, timing.reindex(columns=["epoch_time", "data_share"])],
                      axis=1).reset_index()
    cells["status"] = cells["cell"].map(status)
    return cells[cells["status"].notna()]


def mean_std(values: pd.Series, digits: int = 4) -> str:
    values = values.dropna()
    if values.empty:
        return "-"
    if len(values) == 1:
        return f"{values.iloc[0]:.{digits}f}"
    return f"{values.mean():.{digits}f} ± {values.std(ddof=1):.{digits}f}"


def summary_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Usage: summary_table(load_train_rows([...])) -> one row per setting with mean ± std over seeds."""
    cells = per_cell(rows)
    out = []
    for setting, group in cells.groupby(SETTING, dropna=False, sort=False):
        ok = group[group["status"] == "finished"]
        entry = dict(zip(SETTING, setting))
        entry.update({metric: mean_std(ok[metric]) for metric in TEST_METRICS})
        entry.update({"n": len(group), "epochs": mean_std(ok["epochs"], 1), "s/epoch": mean_std(ok["epoch_time"], 1),
                      "data %": f"{100 * ok['data_share'].median():.1f}" if ok["data_share"].notna().any() else "-",
                      "diverged": int((group["status"] == "diverged").sum())})
        out.append(entry)
    return pd.DataFrame(out)


def add_train_summary_command(commands) -> None:
    cmd = commands.add_parser("train-summary", help="test metrics over seeds, epochs and time per epoch of runs")
    cmd.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR")
    cmd.add_argument("--markdown", action="store_true", help="print a Markdown table")
    cmd.set_defaults(run=run_train_summary)


def run_train_summary(args) -> int:
    table = summary_table(load_train_rows(args.run_dirs))
    constant = [c for c in SETTING if table[c].nunique(dropna=False) == 1]
    print("; ".join(f"{c}={table[c].iloc[0]}" for c in constant))
    table = table.drop(columns=constant)
    with pd.option_context("display.width", 200, "display.max_columns", None):
        print(table.to_markdown(index=False) if args.markdown else table.to_string(index=False))
    return 0
