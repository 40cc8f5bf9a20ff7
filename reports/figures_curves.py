"""Training curves: validation NDCG@10 per epoch, one line per training cell, coloured by attention; the legend
names each attention's training path (per-sequence, per-prefix or per-window, bench/train/batches.py), the
setting a sensitivity cell moves (hidden=16, ...), and the shuffled-order control as the control it is (dotted).

Usage:
    figure, caption = curves_figure(valid_rows)    # rows: split "valid", metric "ndcg@10", one dataset
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from bench.settings import varying_settings  # noqa: E402

from .style import attention_style, whole  # noqa: E402

LABELLED = ("attention", "path", "model", "max_len", "protocol", "dataset", "shuffle_train_order")


def shuffled(row: pd.Series) -> bool:
    """Whether the row's cell is the shuffled-order control (a missing value is not)."""
    value = row.get("shuffle_train_order")
    return bool(value) if pd.notna(value) else False


def curve_label(row: pd.Series, moved: list[str]) -> str:
    """Usage: curve_label(first_row_of_a_cell, ["hidden"]) -> "linrec [per-prefix] hidden=16"."""
    label = str(row["attention"])
    if shuffled(row):
        label += " (shuffled order: control)"
    if isinstance(row.get("path"), str):
        label += f" [{row['path']}]"
    return " ".join([label, *(f"{key}={whole(row[key])}" for key in moved)])


def curves_figure(rows: pd.DataFrame) -> tuple[plt.Figure, str]:
    """Usage: see module docstring. One panel per (model, N); seeds of one attention share its colour."""
    panels = sorted(set(zip(rows["model"], rows["max_len"])))
    moved = varying_settings(rows, ignore=LABELLED) if "cell" in rows else []
    figure, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 3.8), squeeze=False,
                                constrained_layout=True)
    for ax, (model, max_len) in zip(axes[0], panels):
        shown = set()
        panel = rows[(rows["model"] == model) & (rows["max_len"] == max_len)]
        for cell, line in panel.groupby("cell", sort=True):
            line = line.sort_values("epoch")
            attention = str(line["attention"].iloc[0])
            style = {**attention_style(attention), "label": curve_label(line.iloc[0], moved)}
            if shuffled(line.iloc[0]):
                style["linestyle"] = ":"
            if style["label"] in shown:
                style["label"] = None  # one legend entry per attention and path, however many seeds
            shown.add(style["label"])
            ax.plot(line["epoch"], line["value"], **{**style, "marker": None}, linewidth=1.2, alpha=0.85)
        ax.set(title=f"{model}, N={whole(max_len)}", xlabel="epoch", ylabel="validation NDCG@10 (full ranking)"
               if (rows["protocol"] == "full").all() else "validation NDCG@10")
        ax.grid(True, alpha=0.25)
        ax.legend(fontsize=7)
    protocols = ", ".join(sorted(set(rows["protocol"])))
    caption = (f"Validation NDCG@10 after each training epoch ({protocols} protocol), one line per trained cell "
               f"(seeds of one attention share its colour); training stops after the patience runs out, and the "
               f"best epoch's model is the one tested.")
    return figure, caption
