"""One colour, marker and line style per attention across every figure; colour-blind safe (Okabe-Ito first).

Usage:
    from reports.style import attention_style
    ax.plot(T, y, **attention_style("linrec"))     # {"color": "#D55E00", "marker": "o", "linestyle": "-", "label": ...}
"""
from __future__ import annotations

import hashlib

import seaborn as sns

# Okabe & Ito (2008): distinguishable under the common colour-vision deficiencies; yellow left out (white paper).
FIXED = {
    "dot": "#000000", "sdpa": "#0072B2", "linrec_official": "#E69F00", "linrec": "#D55E00",
    "linrec_causal": "#CC79A7", "linear_elu": "#009E73", "performer": "#56B4E9", "efficient": "#999999",
}
MARKERS = "osD^vP*Xh<>"
SPARE = sns.color_palette("colorblind", 10).as_hex()


def attention_colour(name: str) -> str:
    """Usage: attention_colour("linrec") -> "#D55E00"; other names get a stable colour from seaborn's colorblind
    palette (the same name, the same colour, in every figure and every run)."""
    if name in FIXED:
        return FIXED[name]
    return SPARE[int(hashlib.sha1(name.encode()).hexdigest(), 16) % len(SPARE)]


def attention_style(name: str) -> dict:
    """Usage: ax.plot(x, y, **attention_style(name)): colour, marker and line style, and the name as label."""
    digest = int(hashlib.sha1(name.encode()).hexdigest(), 16)
    dashed = name in ("dot", "sdpa") or name.startswith("sdpa_")  # the softmax references, dashed
    return {"color": attention_colour(name), "marker": MARKERS[digest % len(MARKERS)],
            "linestyle": "--" if dashed else "-", "label": name}


def whole(value) -> str:
    """Usage: whole(8.0) -> "8"; whole(0.5) -> "0.5": a setting read back from JSON or a pandas column with gaps
    (where whole numbers come back as floats) printed as it was set."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return str(int(number)) if number.is_integer() else f"{number:g}"
