"""Training curves: validation NDCG@10 per epoch, one line per training cell, coloured by attention; the legend
names each attention's training path (per-sequence, per-prefix or per-window, bench/train/batches.py).

Usage:
    figure, caption = curves_figure(valid_rows)    # rows: split "valid", metric "ndcg@10", one dataset
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from .style import attention_style  # noqa: E402


def curves_figure(rows: pd.DataFrame) -> tuple[plt.Figure, str]:
    """Usage: see module docstring. One panel per (model, N); seeds of one attention share its colour."""
    panels = sorted(set(zip(rows["model"], rows["max_len"])))
    figure, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 3.8), squeeze=False,
                                constrained_layout=True)
    for ax, (model, max_len) in zip(axes[0], panels):
        shown = set()
        panel = rows[(rows["model"] == model) & (rows["max_len"] == max_len)]
        for cell, line in panel.groupby("cell", sort=True):
            line = line.sort_values("epoch")
            attention = str(line["attention"].iloc[0])
            path = line["path"].iloc[0] if "path" in line else None
            style = attention_style(attention)
            style["label"] = f"{attention} [{path}]" if isinstance(path, str) else attention
            if style["label"] in shown:
                style["label"] = None  # one legend entry per attention and path, however many seeds
            shown.add(style["label"])
            ax.plot(line["epoch"], line["value"], **{**style, "marker": None}, linewidth=1.2, alpha=0.85)
        ax.set(title=f"{model}, N={max_len}", xlabel="epoch", ylabel="validation NDCG@10 (full ranking)"
               if (rows["protocol"] == "full").all() else "validation NDCG@10")
        ax.grid(True, alpha=0.25)
        ax.legend(fontsize=7)
    protocols = ", ".join(sorted(set(rows["protocol"])))
    caption = (f"Validation NDCG@10 after each training epoch ({protocols} protocol), one line per trained cell "
               f"(seeds of one attention share its colour); training stops after the patience runs out, and the "
               f"best epoch's model is the one tested.")
    return figure, caption
