"""Attention heatmaps (the paper's Figure 5): the implicit T x T matrix of each trained attention for one user's
test window, side by side, padding greyed out.

Usage:
    rows = read_heatmaps("results/my-run")             # the rows ``python -m bench heatmaps`` wrote
    figure, caption = heatmaps_figure(rows)            # one panel per attention (seed 0, one model and N)

Colour scales: softmax variants (a row's ``softmax`` flag, from the registry: weights in [0, 1], rows summing to
1) share one sequential scale; every other
variant gets a diverging scale centred on 0 of its own, since LinRec's implicit weights are cosines / sqrt(D) that
may be negative and live on another scale: one shared scale would hide one side or the other.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402

from bench.results import read_rows  # noqa: E402
from .style import whole  # noqa: E402

PER_ROW = 5


def read_heatmaps(run_dir) -> list[dict]:
    """Usage: read_heatmaps(run_dir) -> rows of run_dir/heatmaps.jsonl ([] when the run has none)."""
    path = Path(run_dir) / "heatmaps.jsonl"
    return read_rows(path) if path.exists() else []


SCALE_PERCENTILE = 99


def robust_top(real: np.ndarray) -> float:
    """Usage: robust_top(matrix of the real positions) -> the colour scale's top: the SCALE_PERCENTILE-th percentile
    of the weights outside the first query row (a causal variant's is a lone weight of 1, which would wash out
    the rest), or of all of them for a single position."""
    values = real[1:] if len(real) > 1 else real
    return float(np.percentile(values, SCALE_PERCENTILE)) if values.size else 1.0


def sees_no_future(matrix: np.ndarray, length: int) -> bool:
    """Usage: sees_no_future(matrix, 12) -> whether every weight above the diagonal of the real positions is 0
    (a causal variant's matrix), for windows of two positions or more."""
    real = matrix[:length, :length]
    return length > 1 and not np.triu(real, 1).any()


def heatmaps_figure(rows: list[dict]) -> tuple[plt.Figure, str]:
    """Usage: see module docstring. Rows of one (dataset, model, max_len, user, layer, head); seed 0 preferred."""
    chosen = {}
    for row in sorted(rows, key=lambda r: (r["seed"], r["attention"])):
        if not row.get("shuffle_train_order"):
            chosen.setdefault(row["attention"], row)
    panels = list(chosen.values())
    softmax = [np.asarray(r["matrix"])[:r["length"], :r["length"]] for r in panels if r.get("softmax")]
    top = max((robust_top(m) for m in softmax), default=1.0)
    columns = min(len(panels), PER_ROW) or 1
    rows_of_panels = -(-len(panels) // columns)  # ceil: ten attentions read as two rows of five, not one strip
    figure, axes = plt.subplots(rows_of_panels, columns, figsize=(3.4 * columns, 3.6 * rows_of_panels),
                                squeeze=False, constrained_layout=True)
    for ax in axes.flat[len(panels):]:
        ax.set_axis_off()
    causal = []
    for ax, row in zip(axes.flat, panels):
        matrix = np.asarray(row["matrix"], dtype=float)
        padding = np.zeros_like(matrix, dtype=bool)
        padding[row["length"]:, :] = padding[:, row["length"]:] = True
        hidden = padding.copy()
        if sees_no_future(matrix, row["length"]):  # white, told apart from padding: the keys after each query
            causal.append(row["attention"])
            hidden |= np.triu(np.ones_like(padding), 1)
        ax.imshow(padding, cmap=ListedColormap(["white", "#d9d9d9"]), vmin=0, vmax=1, interpolation="nearest")
        shown = np.ma.masked_array(matrix, mask=hidden)
        if row.get("softmax"):
            cmap, limits = plt.get_cmap("viridis"), (0.0, top)
        else:
            reach = robust_top(np.abs(matrix[:row["length"], :row["length"]])) or 1.0
            cmap, limits = plt.get_cmap("RdBu_r"), (-reach, reach)
        cmap = cmap.with_extremes(bad=(0, 0, 0, 0))  # hidden cells show the background: grey padding, white future
        image = ax.imshow(shown, cmap=cmap, vmin=limits[0], vmax=limits[1], interpolation="nearest")
        ax.set(title=row["attention"], xlabel="key position", ylabel="query position")
        figure.colorbar(image, ax=ax, shrink=0.8)
    first = panels[0] if panels else {}
    caption = (f"Implicit attention matrices of layer {first.get('layer')}, head {first.get('head')} for user "
               f"{first.get('user')}'s test window ({first.get('length')} real positions of "
               f"{len(first.get('matrix', []))}; grey: padding), {first.get('model')} on {first.get('dataset')}, "
               f"N={whole(first.get('max_len'))}, seed 0. Softmax variants share one scale from 0; each other "
               f"variant has its own scale centred on 0 (red positive, blue negative), since its weights may be "
               f"negative. Colour scales stop at the {SCALE_PERCENTILE}th percentile of the weights outside the "
               f"first query row (brighter cells are clipped), so a causal variant's lone first weight of 1 does not "
               f"wash out the rest."
               + (f" Causal ({', '.join(causal)}): a query sees no later key, so the triangle above the diagonal "
                  f"(white) is 0 by construction, not padding." if causal else ""))
    return figure, caption
