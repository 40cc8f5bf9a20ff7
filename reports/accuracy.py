"""The overall accuracy table: rows backbone x attention (x N), columns dataset x metric, mean ± std over seeds.

Usage:
    frame = load_runs("results/reference-ml100k", bench="train")
    summary = accuracy_summary(frame, protocol="full")      # tidy numbers: mean, std, n, change vs dot, p, rank
    table = accuracy_table(summary, style="html")           # strings: best bold, second underlined, marks

Rows are keyed by backbone, attention, N, the training path (per-sequence, per-prefix or per-window: what
ran, bench/train/batches.py) and every other setting that varies between the cells of a backbone
(bench.settings): cells trained differently are never averaged together as if they were seeds.

One protocol per table: full ranking and sampled (uni100, pop100) numbers never share one, and asking for a
protocol the rows do not hold is an error. Only finished cells count (a diverged or unfinished cell is listed by
``excluded_cells``). Against ``dot`` of the same backbone, dataset and N: the relative change of the mean, and a
two-sided paired t-test over the seeds both have (marked * for p < 0.05, ** for p < 0.01; no mark and no p with
fewer than two shared seeds). Best and second best are ranked within each backbone and N, per column.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from markupsafe import Markup
from scipy import stats

from bench.settings import varying_settings

METRICS = ("hr@10", "ndcg@10", "mrr@10")
ROW_KEY = ("model", "attention", "max_len")
COLUMN_KEY = ("dataset", "metric")
# Keyed elsewhere: the protocol makes the table, the shuffled order is part of the attention's label.
KEYED_ELSEWHERE = ("protocol", "shuffle_train_order", "path")
STATS = ("mean", "std", "n", "change", "p", "rank", "protocol", "text")
STYLES = ("html", "latex", "text")


def finished_cell_ids(train: pd.DataFrame) -> set:
    """Usage: finished_cell_ids(training_rows) -> ids of the cells whose status row says "finished"."""
    return set(train.loc[(train["metric"] == "status") & (train["status"] == "finished"), "cell"])


def finished_test_rows(frame: pd.DataFrame, protocol: str) -> pd.DataFrame:
    """Usage: finished_test_rows(frame, "full") -> the test-metric rows of finished cells under ``protocol``."""
    if frame.empty or "bench" not in frame:
        raise ValueError("no training rows in these runs")
    train = frame[frame["bench"] == "train"]
    finished = finished_cell_ids(train)
    test = train[(train["split"] == "test") & train["metric"].isin(METRICS) & train["cell"].isin(finished)]
    test = test.drop_duplicates(["cell", "metric"])  # one cell in two runs (a shared base cell) counts once
    test = test.assign(attention=_setting_labels(test))
    protocols = sorted(set(test["protocol"]))
    if protocol not in protocols:
        raise ValueError(f"no finished test rows under protocol {protocol!r}; these runs hold: "
                         f"{', '.join(protocols) or 'none'}")
    return test[test["protocol"] == protocol]


def _setting_labels(test: pd.DataFrame) -> pd.Series:
    """The attention column, with the shuffled-order control told apart: "dot (shuffled order)"."""
    labels = test["attention"].astype(str)
    if "shuffle_train_order" in test:
        labels = labels.where(~test["shuffle_train_order"].fillna(False).astype(bool), labels + " (shuffled order)")
    return labels


def excluded_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """Usage: excluded_cells(frame) -> (cell, status, message) of training cells that did not finish."""
    train = frame[frame.get("bench") == "train"] if "bench" in frame else frame.iloc[0:0]
    status = train[train["metric"] == "status"].drop_duplicates("cell").set_index("cell")
    started = set(train["cell"]) if "cell" in train else set()
    rows = [{"cell": c, "status": status.at[c, "status"] if c in status.index else "unfinished",
             "message": status.at[c, "message"] if c in status.index and "message" in status else
             "no message" if c in status.index else "no final status row"}
            for c in sorted(started) if c not in status.index or status.at[c, "status"] != "finished"]
    return pd.DataFrame(rows, columns=["cell", "status", "message"])


def _paired_p(values: pd.Series, reference: pd.Series) -> float:
    """Two-sided paired t-test over the seeds both series have; NaN below two shared seeds or with no variance."""
    both = pd.concat([values, reference], axis=1, join="inner").dropna()
    if len(both) < 2 or np.allclose(both.iloc[:, 0] - both.iloc[:, 1], (both.iloc[:, 0] - both.iloc[:, 1]).mean()):
        return float("nan")
    return float(stats.ttest_rel(both.iloc[:, 0], both.iloc[:, 1]).pvalue)


def row_key(test: pd.DataFrame) -> list[str]:
    """Usage: row_key(test_rows) -> ["model", "attention", "max_len", "path", ...settings that vary in a backbone]."""
    varying = varying_settings(test, within=["model"], ignore=[*ROW_KEY, *COLUMN_KEY, *KEYED_ELSEWHERE])
    return [*ROW_KEY, *(["path"] if "path" in test else []), *varying]


def setting_columns(summary: pd.DataFrame) -> list[str]:
    """Usage: setting_columns(accuracy_summary(...)) -> the varying settings its rows are keyed by, beyond N."""
    return [c for c in summary.columns if c not in (*ROW_KEY, *COLUMN_KEY, *STATS, "path")]


def compared_key(keys) -> list[str]:
    """Usage: compared_key(row_key(test)) -> the keys of cells compared with each other (for ranks and against
    dot): every key but the attention and the path, which follows from the attention."""
    return [k for k in (*keys, *COLUMN_KEY) if k not in ("attention", "path")]


def accuracy_summary(frame: pd.DataFrame, protocol: str = "full") -> pd.DataFrame:
    """Usage: see module docstring. One row per (row_key..., dataset, metric)."""
    test = finished_test_rows(frame, protocol)
    keys = row_key(test)
    test = test.assign(**{k: test[k].fillna("-") for k in keys if test[k].isna().any()})  # unrecorded: "-"
    seeds = test.pivot_table(index=[*keys, *COLUMN_KEY], columns="seed", values="value", aggfunc="mean")
    alike = compared_key(keys)
    dots = seeds[seeds.index.get_level_values("attention") == "dot"]
    dots = dots.droplevel([k for k in ("attention", "path") if k in keys])  # (alike...) -> values per seed
    records = []
    for key, per_seed in seeds.iterrows():
        record = dict(zip([*keys, *COLUMN_KEY], key))
        values = per_seed.dropna()
        dot_key = tuple(record[k] for k in alike)
        dot = dots.loc[[dot_key]].iloc[0].dropna() if dot_key in dots.index else None
        is_dot = record["attention"] == "dot"
        record.update(mean=values.mean(), std=values.std(ddof=1) if len(values) > 1 else np.nan, n=len(values),
                      change=np.nan if dot is None or is_dot else values.mean() / dot.mean() - 1,
                      p=np.nan if dot is None or is_dot else _paired_p(values, dot))
        records.append(record)
    summary = pd.DataFrame(records)
    summary["max_len"] = summary["max_len"].astype(int)
    for column in keys:  # whole-number settings read as 64, not 64.0 (rows read back from JSON come as floats)
        values = summary[column]
        if pd.api.types.is_float_dtype(values) and (values.dropna() % 1 == 0).all():
            summary[column] = values.astype("Int64")
    summary["rank"] = summary.groupby(alike, dropna=False)["mean"].rank(ascending=False, method="min").astype(int)
    return summary.assign(protocol=protocol)


def _cell_text(row: pd.Series, style: str) -> str:
    text = f"{row['mean']:.4f}" + (f" ± {row['std']:.4f}" if row["n"] > 1 else "")
    if not np.isnan(row["change"]):
        mark = "**" if row["p"] < 0.01 else "*" if row["p"] < 0.05 else ""
        text += f" ({100 * row['change']:+.1f}%{mark})"
    if style == "text":
        return text
    if style == "latex":
        text = text.replace("±", r"$\pm$").replace("%", r"\%")
        return rf"\textbf{{{text}}}" if row["rank"] == 1 else rf"\underline{{{text}}}" if row["rank"] == 2 else text
    markup = "<b>{}</b>" if row["rank"] == 1 else "<u>{}</u>" if row["rank"] == 2 else "{}"
    return Markup(markup).format(text)  # the text escaped first, then our own markup around it


def accuracy_table(summary: pd.DataFrame, style: str = "html") -> pd.DataFrame:
    """Usage: accuracy_table(summary, "latex") -> rows (model, attention, N, path, varying settings), columns
    (dataset, metric), strings.
    A single row (one attention alone) is never ranked: bold needs a comparison."""
    if style not in STYLES:
        raise ValueError(f"unknown table style {style!r}; valid: {', '.join(STYLES)}")
    keys = [k for k in (*ROW_KEY, "path", *setting_columns(summary)) if k in summary]
    alone = summary.groupby(compared_key(keys), dropna=False)["attention"].transform("nunique") == 1
    summary = summary.assign(rank=summary["rank"].where(~alone, 0))
    summary = summary.assign(text=summary.apply(_cell_text, axis=1, style=style))
    table = summary.pivot_table(index=keys, columns=list(COLUMN_KEY), values="text", aggfunc="first")
    order = [m for m in METRICS if m in set(summary["metric"])]
    return table.reindex(columns=[(d, m) for d in table.columns.get_level_values(0).unique() for m in order])
