"""Scaling figure: time and peak memory per sequence against T on log-log axes, one line per attention, the fitted
exponent in the legend and the length from which each variant beats sdpa marked.

Usage:
    frame = load_runs("results/reference-profile-cpu", bench="profile")
    for title, block in efficiency_blocks(frame):
        figure, caption = scaling_figure(block)          # a matplotlib Figure with two panels, and its caption

Per sequence (time and memory divided by B) so that a token-budget sweep (B = tokens / T) reads like a fixed-batch
one: quadratic attention rises with slope 2, linear attention with slope 1. Failed cells are absent from the lines
and named in the caption.
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from bench.profile.analysis import MIN_R2, crossovers, reliable_fit, scaling_exponents  # noqa: E402

from .style import attention_style, whole  # noqa: E402

PANELS = (("time", "median", "time per sequence (ms)"), ("peak_memory", "peak", "peak memory per sequence (MiB)"))


def _per_sequence(block: pd.DataFrame, metric: str, stat: str) -> pd.DataFrame:
    ok = block[(block["metric"] == metric) & (block["status"] == "ok") & (block.get("stat") == stat)]
    ok = ok.assign(y=pd.to_numeric(ok["value"]) / ok["B"])
    return ok.groupby(["variant", "T"], sort=True)["y"].mean().reset_index()


def _fit_labels(block: pd.DataFrame, metric: str) -> dict:
    """variant -> its legend label: the fitted slope with its r², or why the fit is no result."""
    try:
        fits = scaling_exponents(block, metric=metric, per_sequence=True)
    except ValueError:
        return {}
    labels = {}
    for variant, exponent, r2 in zip(fits["variant"], fits["exponent"], fits["r2"]):
        problem = reliable_fit(exponent, r2)
        labels[variant] = (f"{variant} (T^{exponent:.2f}, r² {r2:.2f})" if problem is None else
                           f"{variant} (unreliable fit: {problem})" if np.isfinite(exponent) else variant)
    return labels


def _crossing_lengths(block: pd.DataFrame) -> dict:
    """variant -> the measured T from which it is faster than sdpa at every longer length: where it crosses, or its
    shortest length when it is faster everywhere ("always" is a crossover too)."""
    if "sdpa" not in set(block["variant"]):
        return {}
    try:
        found = crossovers(block, baselines=("sdpa",))
    except ValueError:
        return {}
    crossing = found[found["status"].isin(["crosses", "always faster"])]
    return dict(zip(crossing["variant"], crossing["crossover_T"]))


def scaling_figure(block: pd.DataFrame, title: str = "") -> tuple[plt.Figure, str]:
    """Usage: see module docstring. ``block``: profile rows of one (level, mode, causal, dtype, device)."""
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    crossing = _crossing_lengths(block)
    for ax, (metric, stat, label) in zip(axes, PANELS):
        values, labels = _per_sequence(block, metric, stat), _fit_labels(block, metric)
        for variant, line in values.groupby("variant", sort=False):
            style = attention_style(variant)
            style["label"] = labels.get(variant, variant)
            ax.plot(line["T"], line["y"], **style, markersize=4, linewidth=1.4)
            if metric == "time" and variant in crossing:
                at = line[line["T"] == crossing[variant]]
                ax.plot(at["T"], at["y"], marker="*", markersize=13, color=style["color"], linestyle="none",
                        markeredgecolor="white")
        ax.set(xscale="log", yscale="log", xlabel="sequence length T (positions, log scale)", ylabel=label)
        ax.grid(True, which="both", alpha=0.25)
        if len(values):
            ax.legend(fontsize=7, ncol=2, title="fitted slope and r² in ()", title_fontsize=7)
    if title:
        figure.suptitle(title, fontsize=10)
    return figure, _caption(block, crossing)


def _caption(block: pd.DataFrame, crossing: dict) -> str:
    first = block.iloc[0]
    devices = ", ".join(sorted(set(block.get("device_name", pd.Series(["unknown device"])).fillna("unknown device"))))
    policy = (f"a budget of {int(first['tokens']):,} tokens per batch (B = tokens / T)"
              if first.get("batch_policy") == "tokens" and pd.notna(first.get("tokens")) else "a fixed batch")
    failed = block[block["status"] != "ok"].drop_duplicates(["variant", "T"])
    text = (f"Median {first['mode']} time and peak memory per sequence against T, {first['level']} level, "
            f"H={whole(first['H'])}, D={whole(first['D'])}, {first['dtype']}, on {devices}, with {policy}. Time: "
            f"median of timed calls after warm-up; memory: peak above the baseline in its own pass "
            f"(bench/profile/memory.py). "
            f"Slopes are least-squares fits in log-log space (2: quadratic, 1: linear) with their r²; a fit with "
            f"r² below {MIN_R2} or a negative slope is marked unreliable instead of read as a scaling law.")
    loaded = block[block["loaded"].notna()] if "loaded" in block else block.iloc[0:0]
    if len(loaded):
        text += (" Timed under load even after retries (other processes or steal; see the rows' load fields): "
                 + ", ".join(sorted({f"{r['variant']} T={whole(r['T'])}" for _, r in loaded.iterrows()})) + ".")
    if crossing:
        shortest = block["T"].min()
        text += " A star marks the length from which the variant is faster than sdpa at every longer length: " + \
                ", ".join(f"{v} T={int(t)}" + (" (every length measured)" if t == shortest else "")
                          for v, t in sorted(crossing.items())) + "."
    if len(failed):
        text += " Not plotted (failed): " + ", ".join(f"{r['variant']} T={whole(r['T'])} ({r['status']})"
                                                      for _, r in failed.iterrows()) + "."
    return text
