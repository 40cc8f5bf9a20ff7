"""Where a report's items go: each table as HTML plus CSV and LaTeX beside the report, each figure as an embedded
PNG plus PNG and SVG files.

Usage:
    out = Outputs("reports/out")
    item = out.table("accuracy-full", "Overall accuracy", html_table, numbers, latex_table, caption)
    item = out.figure("scaling-fwd", "Scaling: fwd", figure, caption)     # the dicts the template renders
"""
from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import pandas as pd
from markupsafe import Markup, escape


def slug(text: str) -> str:
    """Usage: slug("attention, fwdbwd, float32") -> "attention-fwdbwd-float32": a file-name-safe label."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80]


class Outputs:
    """Usage: out = Outputs(dir); out.table(...); out.figure(...): writes the files, returns the HTML items."""

    def __init__(self, out_dir: Path):
        self.dir = Path(out_dir)
        (self.dir / "tables").mkdir(parents=True, exist_ok=True)
        (self.dir / "figures").mkdir(parents=True, exist_ok=True)
        self.files: list[Path] = []

    def table(self, name: str, title: str, html_table: pd.DataFrame, numbers: pd.DataFrame, latex: pd.DataFrame,
              caption: str, notes=()) -> dict:
        csv, tex = self.dir / "tables" / f"{name}.csv", self.dir / "tables" / f"{name}.tex"
        numbers.to_csv(csv, index=False)
        tex.write_text(latex.to_latex(caption=caption, label=f"tab:{name}"), encoding="utf-8")
        self.files += [csv, tex]
        return {"kind": "table", "title": title, "html": html_of(html_table),
                "caption": caption, "notes": list(notes)}

    def figure(self, name: str, title: str, figure, caption: str) -> dict:
        import matplotlib.pyplot as plt

        png, svg = self.dir / "figures" / f"{name}.png", self.dir / "figures" / f"{name}.svg"
        figure.savefig(png, dpi=110)
        figure.savefig(svg)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=110)
        plt.close(figure)
        self.files += [png, svg]
        return {"kind": "figure", "title": title, "png": base64.b64encode(buffer.getvalue()).decode("ascii"),
                "caption": caption}


def _escaped(value):
    """A table value or label as HTML: markup built here (Markup) as it is, any other text escaped."""
    return value if isinstance(value, Markup) or not isinstance(value, str) else escape(value)


def html_of(table: pd.DataFrame) -> str:
    """Usage: html_of(table) -> the table as HTML. Every label and value that comes from data or results is
    escaped, so markup in a dataset name or a row's field shows as text; only Markup values (bold, underline
    built around escaped text) pass as markup."""
    safe = table.map(_escaped).rename(index=_escaped, columns=_escaped)
    safe.index.names = [_escaped(n) for n in safe.index.names]
    safe.columns.names = [_escaped(n) for n in safe.columns.names]
    return safe.to_html(escape=False, na_rep="-")
