"""The accuracy-cost frontier: test NDCG@10 against seconds per training epoch and against peak memory, per N, with
the Pareto-optimal token mixers marked.

Usage:
    points = frontier_points(train_rows, profile_rows, protocol="full")  # one row per (backbone, dataset, N, mixer)
    figure, caption = frontier_figure(points)                            # a row of panels per backbone x N

Accuracy is the mean test NDCG@10 over seeds (reports.accuracy.accuracy_summary, finished cells only). Time is the
median measured training-epoch time of those cells (the ``epoch_time`` rows, every epoch of every seed), so it is the
cost on the machine that trained them; the median, because an epoch that shared the machine with other work (the
rows' ``others_cpu``) must not move it. Where the runs hold a model-level profile (bench profile --level model) at
T = N for the same backbone and mixer, two more panels: its forward+backward median step time, measured side by
side in one profiling run (so it compares mixers fairly even when their training cells ran on different machines
or at different times), and its peak memory; a mixer without one has no point on those panels. A mixer is Pareto-optimal on a panel when no other mixer of the same backbone and
N is at least as accurate and at most as costly, and strictly better in one.
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from .accuracy import accuracy_summary, finished_cell_ids  # noqa: E402
from .style import attention_style, whole  # noqa: E402

METRIC = "ndcg@10"
PANEL_KEY = ["model", "dataset", "max_len"]
COSTS = {"epoch_seconds": "seconds per training epoch", "step_ms": "training step, model fwd+bwd (ms, profiled)",
         "peak_mib": "peak memory, model fwd+bwd (MiB)"}


def epoch_seconds(train: pd.DataFrame) -> pd.DataFrame:
    """Usage: epoch_seconds(train_rows) -> model, dataset, max_len, attention, epoch_seconds (median over every
    epoch of every finished cell)."""
    rows = train[(train["metric"] == "epoch_time") & train["cell"].isin(finished_cell_ids(train))]
    return rows.groupby(PANEL_KEY + ["attention"], as_index=False)["value"].median().rename(
        columns={"value": "epoch_seconds"})


def profiled_costs(profile: pd.DataFrame) -> pd.DataFrame:
    """Usage: profiled_costs(profile_rows) -> model, attention, max_len, step_ms, peak_mib: that backbone's
    model-level fwd+bwd median step time (ms) and peak memory (MiB), measured side by side by one profiling run
    (where several cells measured one variant at one T: the median time, the largest peak)."""
    columns = ["model", "attention", "max_len", "step_ms", "peak_mib"]
    if profile.empty or "level" not in profile or "model" not in profile:
        return pd.DataFrame(columns=columns)
    rows = profile[(profile["level"] == "model") & (profile["mode"] == "fwdbwd") &
                   (profile.get("status", "ok") == "ok")]
    key = ["model", "variant", "T"]
    peaks = rows[rows["metric"] == "peak_memory"].groupby(key)["value"].max().rename("peak_mib")
    timed = rows[(rows["metric"] == "time") & (rows.get("stat") == "median")]
    steps = timed.groupby(key)["value"].median().rename("step_ms")
    costs = pd.concat([steps, peaks], axis=1).reset_index()
    return costs.rename(columns={"variant": "attention", "T": "max_len"}).reindex(columns=columns)


def pareto_optimal(accuracy: pd.Series, cost: pd.Series) -> pd.Series:
    """Usage: pareto_optimal(ndcg, seconds) -> bool per row: no other row at least as accurate and at most as costly
    and strictly better in one. Rows without a cost are never optimal."""
    known = cost.notna()
    optimal = pd.Series(False, index=accuracy.index)
    for i in accuracy.index[known]:
        others = known & (accuracy.index != i)
        dominated = others & (accuracy >= accuracy[i]) & (cost <= cost[i]) & ((accuracy > accuracy[i]) |
                                                                             (cost < cost[i]))
        optimal[i] = not dominated.any()
    return optimal


def frontier_points(train: pd.DataFrame, profile: pd.DataFrame, protocol: str = "full") -> pd.DataFrame:
    """Usage: see module docstring -> model, dataset, max_len, attention, ndcg, ndcg_std, n, epoch_seconds,
    peak_mib, and pareto_<cost> for each cost."""
    summary = accuracy_summary(train, protocol)
    summary = summary[summary["metric"] == METRIC]
    if "shuffle_train_order" in summary:  # the shuffled-order control is a sanity floor, not a mixer
        summary = summary[~summary["shuffle_train_order"].fillna(False).astype(bool)]
    points = summary[PANEL_KEY + ["attention", "mean", "std", "n"]].rename(columns={"mean": "ndcg",
                                                                                    "std": "ndcg_std"})
    points = points[points["attention"] != "none"]  # the most-popular floor has no mixer and no epoch
    points = points.merge(epoch_seconds(train), on=PANEL_KEY + ["attention"], how="left")
    points = points.merge(profiled_costs(profile), on=["model", "attention", "max_len"], how="left")
    for cost in COSTS:
        points[f"pareto_{cost}"] = False
        for _, panel in points.groupby(PANEL_KEY):
            points.loc[panel.index, f"pareto_{cost}"] = pareto_optimal(panel["ndcg"], panel[cost])
    return points.reset_index(drop=True)


def draw_panel(ax, panel: pd.DataFrame, cost: str) -> None:
    """One panel: every mixer with a cost as a point (error bar: std over seeds), the frontier as a step line."""
    shown = panel[panel[cost].notna()]
    for _, row in shown.iterrows():
        style = attention_style(row["attention"])
        ax.errorbar(row[cost], row["ndcg"], yerr=row["ndcg_std"] if row["n"] > 1 else None, capsize=2,
                    color=style["color"], marker=style["marker"], linestyle="none", markersize=7,
                    markeredgecolor="black" if row[f"pareto_{cost}"] else style["color"],
                    markeredgewidth=1.6 if row[f"pareto_{cost}"] else 0.5)
        ax.annotate(row["attention"] + (" *" if row[f"pareto_{cost}"] else ""), (row[cost], row["ndcg"]),
                    textcoords="offset points", xytext=(4, 3), fontsize=7)
    front = shown[shown[f"pareto_{cost}"]].sort_values(cost)
    ax.step(front[cost], front["ndcg"], where="post", color="black", linewidth=0.8, alpha=0.6)
    if len(shown) and shown[cost].max() / max(shown[cost].min(), 1e-12) > 20:
        ax.set_xscale("log")
    ax.set(xlabel=COSTS[cost], ylabel=f"test {METRIC.upper()}")
    ax.grid(True, alpha=0.25)
    if shown.empty:
        ax.text(0.5, 0.5, "not profiled at this N", transform=ax.transAxes, ha="center", va="center")


def frontier_figure(points: pd.DataFrame) -> tuple[plt.Figure, str]:
    """Usage: see module docstring. ``points``: frontier_points(...)."""
    panels = sorted(points.groupby(PANEL_KEY).groups)
    costs = [c for c in COSTS if points[c].notna().any()] or ["epoch_seconds"]
    figure, axes = plt.subplots(max(len(panels), 1), len(costs), figsize=(5.2 * len(costs), 4.0 * max(len(panels), 1)),
                                squeeze=False, constrained_layout=True)
    for row_axes, key in zip(axes, panels):
        panel = points.groupby(PANEL_KEY).get_group(key)
        for ax, cost in zip(row_axes, costs):
            draw_panel(ax, panel, cost)
            ax.set_title(f"{key[0]}, {key[1]}, N={whole(key[2])}")
    seeds = sorted({int(n) for n in points["n"]}) if len(points) else [0]
    optimal = "; ".join(f"{k[0]} N={whole(k[2])}: {', '.join(p.loc[p['pareto_epoch_seconds'], 'attention'])}"
                        for k, p in points.groupby(PANEL_KEY))
    caption = (f"Accuracy against cost: test {METRIC.upper()} (mean over seeds; seeds per point: "
               f"{', '.join(map(str, seeds))}; error bars the std where more than one) against the measured median "
               f"seconds per training epoch" + (", the model-level forward+backward step time profiled side by side "
                                                "at T = N" if "step_ms" in costs else "")
               + (" and the model-level forward+backward peak memory profiled at T = N" if "peak_mib" in costs
                  else "") +
               f". Outlined points marked * are Pareto-optimal: no other mixer of the panel is at least as "
               f"accurate and cheaper. Pareto-optimal by epoch time: {optimal or 'none'}.")
    return figure, caption
