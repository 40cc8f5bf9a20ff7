"""Build a report from run folders: one self-contained HTML file, the figures as PNG and SVG and the tables as CSV
and LaTeX beside it. Reads results/ only.

Usage:
    paths = build_report(["results/reference-ml100k", "results/reference-profile-cpu"], "reports/out")
    # {"html": reports/out/report.html, "figures": [...], "tables": [...]}

Page one holds the contents and what each run shows (reports/summary.py); then accuracy, ablation and sensitivity
(each training run under the question it answers), efficiency tables, scaling figures, attention heatmaps,
training curves, with ``compare`` a comparison with other runs cell by cell, and the environment and provenance of
every run (device, versions, commit, command, failed cells). A run folder without rows of a kind simply leaves
that section empty.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import jinja2
import pandas as pd

from bench.results import load_runs

from .browser import html_to_pdf
from .outputs import Outputs
from .provenance import provenance_marks, provenance_section
from .sections import (comparison_section, curves_section, efficiency_sections, failed_cells, heatmaps_section,
                       training_sections)
from .summary import run_findings

TEMPLATES = Path(__file__).parent / "templates"


class NothingToReport(ValueError):
    """The run folders hold no row at all: a report of them would be empty."""


def summary_section(runs: list[Path], frame: pd.DataFrame, marks: dict, scale_note: str) -> dict:
    """Usage: summary_section(runs, frame, marks, scale_note) -> "What these runs show": a short table per run."""
    scale = scale_note.split(":")[0].strip() + " (see the note above)" if scale_note else ""
    items = [{"kind": "table", "title": f"What {run} shows", "notes": [], "caption": "",
              "html": table.to_html(index=False, escape=True, classes="text summary")}
             for run, table in run_findings(runs, frame, marks, scale)]
    return {"id": "summary", "title": "What these runs show", "items": items,
            "text": "Written from the numbers in the sections below: accuracy from the accuracy tables, speed "
                    "against sdpa from the speed-up heatmaps, memory growth from the scaling figures."}


def build_report(run_dirs, out_dir, title: str = "LinRec-Bench report", scale_note: str = "",
                 pdf: bool = False, compare=()) -> dict:
    """Usage: see module docstring. ``pdf=True`` also prints report.pdf from the HTML (headless Chromium, see
    reports/browser.py); ``compare`` run folders add a section matching their cells with these runs' cells. A
    missing run folder is a one-line error naming it; run folders without a single row raise NothingToReport."""
    runs, others = [Path(r) for r in run_dirs], [Path(r) for r in compare]
    frame = load_runs(*runs)
    if frame.empty:
        raise NothingToReport(f"{', '.join(map(str, runs))}: no rows to report (nothing measured or trained yet, "
                              f"or every line unreadable)")
    out = Outputs(Path(out_dir))
    marks = provenance_marks(runs, frame)
    sections = [summary_section(runs, frame, marks, scale_note), *training_sections(frame, out),
                *efficiency_sections(frame, out), heatmaps_section(runs, out), curves_section(frame, out)]
    if others:
        sections.append(comparison_section(frame, runs, others, out))
    sections.append(provenance_section(runs + others, frame, failed_cells(frame)))
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
    html = environment.get_template("report.html.j2").render(
        title=title, built=dt.datetime.now().astimezone().isoformat(timespec="seconds"), runs=runs,
        sections=sections, scale_note=scale_note, marks=marks)
    path = out.dir / "report.html"
    path.write_text(html, encoding="utf-8")
    paths = {"html": path, "files": out.files}
    if pdf:
        paths["pdf"] = html_to_pdf(path, out.dir / "report.pdf")
    return paths
