"""Comparison figures: the speed-up of every variant over sdpa per length (a heatmap), and the ablation of LinRec's
feature map and normalisation against dot (bars with error bars over seeds).

Usage:
    figure, caption = speedup_heatmap(profile_block)             # variant x T, colour = sdpa time / variant time
    figure, caption = ablation_figure(accuracy_summary_frame)    # one bar per variant, mean ± std over seeds
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator  # noqa: E402

from bench.profile.analysis import speedup_table  # noqa: E402

from .accuracy import setting_columns  # noqa: E402
from .style import attention_colour, attention_hatch, whole  # noqa: E402

ABLATION = ("dot", "linrec_official", "linrec")  # then every linrec-<map>-<norm> present, in name order


def speedup_heatmap(block: pd.DataFrame, baseline: str = "sdpa") -> tuple[plt.Figure, str]:
    """Usage: see module docstring. Cells above 1 (blue) are faster than the baseline; log colour scale."""
    speed = speedup_table(block, baseline=baseline)
    grid = speed.pivot_table(index="variant", columns="T", values="speedup", aggfunc="mean")
    height = max(3.2, 1.0 + 0.42 * len(grid))  # the colour bar's label needs the height of a few rows at least
    figure, ax = plt.subplots(figsize=(1.5 + 0.75 * max(len(grid.columns), 2), height), constrained_layout=True)
    if grid.empty:
        ax.text(0.5, 0.5, f"no lengths where both a variant and {baseline} ran", ha="center", va="center")
        ax.set_axis_off()
        return figure, f"No speed-up against {baseline} to show: {baseline} has no successful cell here."
    low, high = float(np.nanmin(grid.values)), float(np.nanmax(grid.values))
    reach = max(high, 1 / low, 1.01)  # symmetric in log space: 1 sits at the neutral middle of the colour map
    norm = LogNorm(vmin=1 / reach, vmax=reach)
    sns.heatmap(grid, ax=ax, cmap="RdBu", norm=norm, annot=True, fmt=".2g", annot_kws={"fontsize": 7},
                cbar_kws={"label": f"speed-up over {baseline}\n({baseline} time / variant time)"})
    colour_bar = ax.collections[0].colorbar.ax.yaxis
    colour_bar.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    colour_bar.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))  # 0.5, not 5 x 10^-1
    colour_bar.set_minor_formatter(FuncFormatter(lambda value, _: ""))
    ax.set(xlabel="sequence length T (positions)", ylabel="attention")
    ax.tick_params(axis="both", labelrotation=0)  # names and lengths read horizontally; seaborn may turn them
    first = block.iloc[0]
    caption = (f"Speed-up of each attention over {baseline} ({first['mode']}, {first['dtype']}, {first['device']}, "
               f"same T and B); above 1 (blue) the variant is faster, below 1 (red) slower. Empty cells: one of "
               f"the two failed or did not run at that length.")
    return figure, caption


def ablation_figure(summary: pd.DataFrame, metric: str = "ndcg@10") -> tuple[plt.Figure, str]:
    """Usage: see module docstring. ``summary``: reports.accuracy.accuracy_summary(frame, protocol)."""
    rows = summary[summary["metric"] == metric]
    for setting in setting_columns(rows):  # where settings vary (a sensitivity run beside), keep the most common
        if setting in rows:
            rows = rows[rows[setting] == rows[setting].mode().iloc[0]]
    names = [n for n in ABLATION if n in set(rows["attention"])]
    names += sorted(n for n in set(rows["attention"]) if n.startswith("linrec-"))
    compared = rows[rows["attention"].isin(names)].groupby(["model", "dataset", "max_len"])["attention"].nunique()
    panels = sorted(compared[compared >= 2].index)  # a panel with one bar compares nothing
    height = 1.4 + 0.28 * max(len(names), 3)  # one horizontal bar per variant: its name reads level beside it
    figure, axes = plt.subplots(1, max(len(panels), 1), figsize=(5.0 * max(len(panels), 1), height), squeeze=False,
                                constrained_layout=True)
    for ax, (model, dataset, max_len) in zip(axes[0], panels):
        panel = rows[(rows["model"] == model) & (rows["dataset"] == dataset) & (rows["max_len"] == max_len)]
        panel = panel.set_index("attention").reindex([n for n in names if n in set(panel["attention"])])
        bars = ax.barh(range(len(panel)), panel["mean"], xerr=panel["std"].fillna(0), capsize=3,
                       color=[attention_colour(n) for n in panel.index], edgecolor="white", linewidth=0.5)
        for bar, name in zip(bars, panel.index):
            bar.set_hatch(attention_hatch(name))  # one colour per family, one hatch per member: no two alike
        if "dot" in panel.index:
            ax.axvline(panel.at["dot", "mean"], color="black", linestyle="--", linewidth=0.8, label="dot")
        ax.set_yticks(range(len(panel)), panel.index, fontsize=8)
        ax.invert_yaxis()  # the first name on top, as the table lists them
        over = "mean ± std over seeds" if (panel["n"] > 1).any() else "one seed"
        ax.set(title=f"{model}, {dataset}, N={whole(max_len)}", xlabel=f"test {metric.upper()} ({over})")
        ax.grid(True, axis="x", alpha=0.25)
    protocol = ", ".join(sorted(set(summary["protocol"]))) if "protocol" in summary else "?"
    shown = rows[rows["attention"].isin(names)]
    seeds = ", ".join(sorted({str(int(n)) for n in shown["n"]})) if len(shown) else "0"
    bars = (f"bars the mean and error bars the std over seeds (seeds per bar: {seeds}; none with one)"
            if (shown["n"] > 1).any() else "one seed per bar, so no error bars")
    caption = (f"Ablation of LinRec's feature map (elu, relu, elu1 = ELU + 1, id) and normalisation (token: per "
               f"token over D, as the official code; none; seq: K over positions) against dot and the official "
               f"form: test {metric.upper()} under the {protocol} protocol, {bars}; the dashed line is dot's "
               f"mean. Each variant has its own colour and hatch, as its own colour and dash in the curves.")
    return figure, caption
