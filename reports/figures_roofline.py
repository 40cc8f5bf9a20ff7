"""Roofline plot (GPU rows only): achieved FLOP/s of each attention cell against its arithmetic intensity, under
the device's compute roof and memory slope.

Usage:
    figure, caption = roofline_figure(profile_frame)   # None, "" when the runs hold no CUDA attention rows

From bench/profile/roofline.py: FLOPs and minimal bytes per cell, datasheet peaks by device name. A point on the
slope is memory-bound, under the flat roof compute-bound; the distance below the line is what the kernel leaves on
the table.
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from bench.profile.roofline import roofline_table  # noqa: E402

from .style import attention_style  # noqa: E402


def roofline_figure(frame: pd.DataFrame) -> tuple[plt.Figure | None, str]:
    """Usage: see module docstring. One panel per (device, dtype) with known peaks."""
    try:
        table = roofline_table(frame)
    except ValueError:
        return None, ""
    table = table[np.isfinite(table["peak_flops"].astype(float)) & np.isfinite(table["bandwidth"].astype(float))]
    if table.empty:
        return None, ""
    groups = list(table.groupby(["device_name", "dtype"], sort=True))
    figure, axes = plt.subplots(1, len(groups), figsize=(6 * len(groups), 4.4), squeeze=False,
                                constrained_layout=True)
    for ax, ((device, dtype), rows) in zip(axes[0], groups):
        peak, bandwidth = float(rows["peak_flops"].iloc[0]), float(rows["bandwidth"].iloc[0])
        intensity = np.logspace(np.log10(rows["intensity"].min() / 4), np.log10(rows["intensity"].max() * 4), 100)
        ax.plot(intensity, np.minimum(peak, bandwidth * intensity), color="grey", linewidth=2, label="roofline")
        for variant, points in rows.groupby("variant", sort=True):
            achieved = points["flops"] / (points["value"].astype(float) / 1e3)  # FLOP/s
            style = attention_style(str(variant))
            ax.plot(points["intensity"], achieved, **{**style, "linestyle": "none"}, markersize=5)
        ax.set(xscale="log", yscale="log", xlabel="arithmetic intensity (FLOP per byte)",
               ylabel="achieved FLOP/s", title=f"{device}, {dtype}")
        ax.grid(True, which="both", alpha=0.25)
        ax.legend(fontsize=7)
    caption = ("Roofline of the attention cells measured on GPU: each point is one cell (variant, mode, T, B), at "
               "its FLOPs over minimal bytes, reaching FLOPs over the measured median time; the grey line is "
               "min(peak FLOP/s, bandwidth x intensity) from the device's datasheet (bench/profile/roofline.py).")
    return figure, caption
