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

from bench.settings import cell_settings, varying_settings  # noqa: E402

from .style import attention_style, whole  # noqa: E402

LABELLED = ("attention", "path", "model", "max_len", "protocol", "dataset", "shuffle_train_order")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def shuffled(row: pd.Series) -> bool:
    """Whether the row's cell is the shuffled-order control (a missing value is not)."""
    value = row.get("shuffle_train_order")
    return bool(value) if pd.notna(value) else False


def curve_label(row: pd.Series, moved: dict) -> str:
    """Usage: curve_label(first_row_of_a_cell, {"hidden": 16}) -> "linrec [per-prefix] hidden=16"."""
    label = str(row["attention"])
    if shuffled(row):
        label += " (shuffled order: control)"
    if isinstance(row.get("path"), str):
        label += f" [{row['path']}]"
    return " ".join([label, *(f"{key}={whole(value)}" for key, value in moved.items())])


def moved_settings(panel: pd.DataFrame) -> dict[str, dict]:
    """Usage: moved_settings(rows_of_one_panel) -> {cell: {"heads": 4}}: per cell, the settings in which it differs
    from the panel's most common value (its base), so a sensitivity cell is named by the setting it moves."""
    if "cell" not in panel:
        return {}
    settings = cell_settings(panel)[varying_settings(panel, ignore=LABELLED)]
    base = {column: settings[column].mode(dropna=False).iloc[0] for column in settings.columns}
    return {cell: {column: value for column, value in row.items() if not _same(value, base[column])}
            for cell, row in settings.iterrows()}


def _same(value, base) -> bool:
    return (pd.isna(value) and pd.isna(base)) if pd.isna(value) or pd.isna(base) else value == base


def curves_figure(rows: pd.DataFrame) -> tuple[plt.Figure, str]:
    """Usage: see module docstring. One panel per (model, N); seeds of one attention share its colour, and the
    configurations of one attention that a panel moves (a sensitivity run) each get a marker of their own."""
    panels = sorted(set(zip(rows["model"], rows["max_len"])))
    figure, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 3.8), squeeze=False,
                                constrained_layout=True)
    marked = False
    for ax, (model, max_len) in zip(axes[0], panels):
        panel = rows[(rows["model"] == model) & (rows["max_len"] == max_len)]
        moved, labels = moved_settings(panel), []
        marked = marked or any(moved.values())
        for cell, line in panel.groupby("cell", sort=True):
            line = line.sort_values("epoch")
            label = curve_label(line.iloc[0], moved.get(cell, {}))
            style = {**attention_style(str(line["attention"].iloc[0])), "label": label, "marker": None}
            if shuffled(line.iloc[0]):
                style["linestyle"] = ":"
            if moved.get(cell):  # the base configuration plain, each moved one with a marker of its own
                keys = sorted({str(m) for m in moved.values() if m})
                style.update(marker=MARKERS[keys.index(str(moved[cell])) % len(MARKERS)], markersize=4)
            if label in labels:
                style["label"] = None  # one legend entry per attention, path and configuration, however many seeds
            labels.append(label)
            ax.plot(line["epoch"], line["value"], **style, linewidth=1.2, alpha=0.85)
        ax.set(title=f"{model}, N={whole(max_len)}", xlabel="epoch", ylabel="validation NDCG@10 (full ranking)"
               if (rows["protocol"] == "full").all() else "validation NDCG@10")
        ax.grid(True, alpha=0.25)
        entries = len(set(labels))
        if entries > 6:  # a long legend goes below its panel, where it hides no curve
            ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2 if entries > 10 else 1)
        else:
            ax.legend(fontsize=7)
    protocols = ", ".join(sorted(set(rows["protocol"])))
    caption = (f"Validation NDCG@10 after each training epoch ({protocols} protocol), one line per trained cell "
               f"(seeds of one attention share its colour); training stops after the patience runs out, and the "
               f"best epoch's model is the one tested.")
    if marked:
        caption += (" Where a panel holds several configurations, the unmarked lines are its base (its most common "
                    "settings) and each other configuration has a marker and is named by the settings it moves.")
    return figure, caption
