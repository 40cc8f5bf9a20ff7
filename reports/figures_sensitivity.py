"""Sensitivity (the paper's Figure 3): accuracy, training time and peak memory against one setting (max length N,
hidden size d, heads or layers), one line per attention.

Usage:
    figure, caption = sensitivity_figure(frame, "max_len")     # frame: training rows (+ model-level profile rows)

Panels: test NDCG@10 (mean ± std over seeds) and median seconds per training epoch from the training rows; peak
memory of one training step from model-level profile rows (``python -m bench profile --level model``), matched on
T = N, d, heads or layers, when the runs hold them at two values or more. Only cells whose other settings are the
most common ones take part, so a line moves one setting at a time.
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from bench.load import OTHERS_LIMIT  # noqa: E402

from .accuracy import finished_cell_ids  # noqa: E402
from .style import attention_style  # noqa: E402

SETTINGS = {"max_len": ("max length N", "T"), "hidden": ("hidden size d", "d"), "heads": ("heads", "H"),
            "layers": ("layers", "layers")}


def _one_setting_at_a_time(train: pd.DataFrame, setting: str) -> pd.DataFrame:
    others = [s for s in SETTINGS if s != setting and s in train]
    for other in others:
        common = train[other].mode()
        if len(common):  # no finished cell has a value: nothing to keep to
            train = train[train[other] == common.iloc[0]]
    return train


def sensitivity_figure(frame: pd.DataFrame, setting: str) -> tuple[plt.Figure, str]:
    """Usage: see module docstring. ``setting``: max_len, hidden, heads or layers."""
    if setting not in SETTINGS:
        raise ValueError(f"unknown sensitivity setting {setting!r}; valid: {', '.join(SETTINGS)}")
    label, profile_column = SETTINGS[setting]
    train = frame[(frame.get("bench") == "train") & (frame["model"] != "pop")] if "bench" in frame else frame
    finished = finished_cell_ids(train)
    shuffled = train["shuffle_train_order"].fillna(False).astype(bool) if "shuffle_train_order" in train else False
    train = _one_setting_at_a_time(train[train["cell"].isin(finished) & ~shuffled], setting)
    test = train[(train["split"] == "test") & (train["metric"] == "ndcg@10")]
    epochs = train[train["metric"] == "epoch_time"]
    profile = frame[(frame.get("bench") == "profile") & (frame.get("level") == "model")
                    & (frame["metric"] == "peak_memory") & (frame["status"] == "ok")] if "level" in frame else None
    panels = [("test NDCG@10 (mean ± std over seeds)", test, "value", "mean"),
              ("seconds per training epoch (median)", epochs, "value", "median")]
    if profile is not None and len(profile):
        if profile_column != setting:  # the profile rows name the setting their own way (T for N, d for hidden)
            profile = profile.drop(columns=[setting], errors="ignore").rename(columns={profile_column: setting})
    if profile is not None and setting in profile and profile[setting].nunique() > 1:  # one point is no line
        panels.append(("peak memory of one training step (MiB)", profile.assign(attention=profile["variant"]),
                       "value", "median"))
    figure, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.8), squeeze=False,
                                constrained_layout=True)
    seeded = False  # whether any point has two seeds or more: only then are error bars drawn
    for ax, (ylabel, rows, column, how) in zip(axes[0], panels):
        for attention, line in rows.groupby("attention", sort=True):
            stats = line.groupby(setting)[column].agg([how, "std"]).reset_index()
            seeded |= how == "mean" and bool(stats["std"].notna().any())
            ax.errorbar(stats[setting], stats[how], yerr=stats["std"] if how == "mean" else None, capsize=3,
                        **attention_style(str(attention)), markersize=4)
        ax.set(xlabel=label, ylabel=ylabel, xscale="log" if setting in ("max_len", "hidden") else "linear")
        values = sorted(set(rows[setting].dropna()))
        ax.set_xticks(values, [f"{v:g}" for v in values])  # the settings run, not 6x10^1
        ax.minorticks_off()
        ax.grid(True, alpha=0.25)
        if ax.get_legend_handles_labels()[0]:  # a panel without rows (no epoch times) draws no empty legend
            ax.legend(fontsize=7)
    memory = (", and peak memory of one model training step from model-level profiling" if len(panels) > 2 else
              "; no model-level profile varies this setting, so no memory panel")
    spread = "error bars the std over seeds" if seeded else "one seed per point, so no error bars"
    caption = (f"Sensitivity to {label}: test NDCG@10 and training time per epoch from the training runs (other "
               f"settings held at their most common values){memory}; one line per attention, {spread}.")
    shares = train.loc[train["metric"] == "others_cpu", "value"]
    if (shares > OTHERS_LIMIT).any():
        caption += (f" {int((shares > OTHERS_LIMIT).sum())} of {len(shares)} epochs were timed while other processes "
                    f"used more than {100 * OTHERS_LIMIT:.0f}% of the CPUs: their times read high.")
    return figure, caption
