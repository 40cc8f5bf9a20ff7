"""One colour, marker and line style per attention across every figure; colour-blind safe (Okabe-Ito first).

Usage:
    from reports.style import attention_style
    ax.plot(T, y, **attention_style("linrec"))     # {"color": "#D55E00", "marker": "o", "linestyle": "-", "label": ...}
    ax.bar(x, y, color=attention_colour(name), hatch=attention_hatch(name))     # bars: the hatch for the dash

Every registered variant has its own (colour, line style) pair in STYLES, so no two look alike however many share
a figure: the main eight in solid Okabe-Ito colours, each family's relatives in its colour with another dash (sdpa's
forced backends in sdpa's blue, LinRec's paths and ablations in theirs). A name outside the table gets a stable
colour from seaborn's colorblind palette, the same in every figure and run.
"""
from __future__ import annotations

import hashlib

import seaborn as sns

# Okabe & Ito (2008): distinguishable under the common colour-vision deficiencies; yellow left out (white paper).
FIXED = {
    "dot": "#000000", "sdpa": "#0072B2", "linrec_official": "#E69F00", "linrec": "#D55E00",
    "linrec_causal": "#CC79A7", "linear_elu": "#009E73", "performer": "#56B4E9", "efficient": "#999999",
}
BLACK, ORANGE, SKY, GREEN = FIXED["dot"], FIXED["linrec_official"], FIXED["performer"], FIXED["linear_elu"]
BLUE, VERMILLION, PURPLE, GREY = FIXED["sdpa"], FIXED["linrec"], FIXED["linrec_causal"], FIXED["efficient"]
STYLES = {  # name: (colour, line style); every pair once
    **{name: (colour, "-") for name, colour in FIXED.items()},
    "cosformer": (BLACK, "--"), "linformer": (SKY, "--"), "xformers": (BLUE, "--"), "sdpa_math": (BLUE, ":"),
    "sdpa_flash": (BLUE, "-."), "sdpa_efficient": (SKY, ":"), "linrec_autograd": (VERMILLION, ":"),
    "linrec_causal_autograd": (PURPLE, ":"), "linrec_triton": (VERMILLION, "-."),
    "linrec_causal_triton": (PURPLE, "-."), "linrec_fla": (PURPLE, "--"), "linrec-elu-none": (VERMILLION, "--"),
    "linrec-elu-seq": (BLACK, ":"),
    "linrec-relu-token": (GREEN, "--"), "linrec-relu-none": (GREEN, ":"), "linrec-relu-seq": (GREEN, "-."),
    "linrec-elu1-token": (ORANGE, "--"), "linrec-elu1-none": (ORANGE, ":"), "linrec-elu1-seq": (ORANGE, "-."),
    "linrec-id-token": (GREY, "--"), "linrec-id-none": (GREY, ":"), "linrec-id-seq": (GREY, "-."),
}
MARKERS = "osD^vPXh<>p"  # no star: a star marks a crossover in the scaling figures
HATCHES = {"-": "", "--": "///", ":": "...", "-.": "xxx"}  # a bar's stand-in for its line style
SPARE = sns.color_palette("colorblind", 10).as_hex()


def attention_colour(name: str) -> str:
    """Usage: attention_colour("linrec") -> "#D55E00"; other names get a stable colour from seaborn's colorblind
    palette (the same name, the same colour, in every figure and every run)."""
    if name in STYLES:
        return STYLES[name][0]
    return SPARE[int(hashlib.sha1(name.encode()).hexdigest(), 16) % len(SPARE)]


def attention_style(name: str) -> dict:
    """Usage: ax.plot(x, y, **attention_style(name)): colour, marker and line style, and the name as label."""
    digest = int(hashlib.sha1(name.encode()).hexdigest(), 16)
    return {"color": attention_colour(name), "marker": MARKERS[digest % len(MARKERS)],
            "linestyle": STYLES.get(name, (None, "-"))[1], "label": name}


def attention_hatch(name: str) -> str:
    """Usage: ax.bar(..., hatch=attention_hatch("linrec-elu-seq")) -> "...": bars of one colour told apart as their
    lines are, by the hatch standing in for the line style."""
    return HATCHES[STYLES.get(name, (None, "-"))[1]]


def whole(value) -> str:
    """Usage: whole(8.0) -> "8"; whole(0.5) -> "0.5": a setting read back from JSON or a pandas column with gaps
    (where whole numbers come back as floats) printed as it was set."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return str(int(number)) if number.is_integer() else f"{number:g}"
