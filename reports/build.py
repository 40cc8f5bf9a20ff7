"""Build a report from run folders: one self-contained HTML file, the figures as PNG and SVG and the tables as CSV
and LaTeX beside it. Reads results/ only.

Usage:
    paths = build_report(["results/reference-ml100k", "results/reference-profile-cpu"], "reports/out")
    # {"html": reports/out/report.html, "figures": [...], "tables": [...]}

Sections: accuracy (one table per evaluation protocol), efficiency (time and peak memory per length, per block),
scaling figures, training curves, with ``compare`` a comparison with other runs cell by cell, and the environment
and provenance of every run (device, versions, commit, command, failed cells). A run folder without rows of a
kind simply leaves that section empty.
"""
from __future__ import annotations

import base64
import datetime as dt
import io
import re
from pathlib import Path

import jinja2
import pandas as pd
from markupsafe import Markup, escape

from bench.results import load_runs

from .accuracy import accuracy_summary, accuracy_table, excluded_cells, finished_cell_ids
from .browser import html_to_pdf
from .compare import accuracy_comparison, efficiency_comparison
from .efficiency import efficiency_blocks, efficiency_table
from .figures_compare import ablation_figure, speedup_heatmap
from .figures_curves import curves_figure
from .figures_heatmaps import heatmaps_figure, read_heatmaps
from .figures_roofline import roofline_figure
from .figures_scaling import scaling_figure
from .figures_sensitivity import SETTINGS, sensitivity_figure
from .provenance import provenance_marks, provenance_section
from .style import whole

TEMPLATES = Path(__file__).parent / "templates"


class NothingToReport(ValueError):
    """The run folders hold no row at all: a report of them would be empty."""


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


def training_runs(frame: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """Usage: training_runs(frame) -> [(run_id, its training rows)]: each training run reads alone (an accuracy
    sweep, a sensitivity sweep and an ablation answer different questions; one table of all would mix them), in
    the order the runs were given."""
    train = frame[frame.get("bench") == "train"] if "bench" in frame else frame.iloc[0:0]
    return [(str(run), rows) for run, rows in train.groupby("run_id", sort=False)] if len(train) else []


def accuracy_caption(summary: pd.DataFrame, protocol: str) -> str:
    """Usage: accuracy_caption(summary, "full") -> what the table holds, claiming spread and tests only where
    some row has two seeds or more."""
    ranked = "every item ranked" if protocol == "full" else "sampled candidates"
    text = f"Test HR@10, NDCG@10 and MRR@10 under the {protocol} protocol ({ranked}); "
    if summary["n"].max() > 1:
        text += ("mean ± std over seeds (n per row in the CSV; a row without ± has one seed); in brackets the change "
                 "against dot of the same backbone and settings, * p < 0.05, ** p < 0.01 in a paired t-test over "
                 "shared seeds (none below two)")
    else:
        text += ("one seed per row, so no spread and no significance test; in brackets the change against dot of "
                 "the same backbone and settings, a single run's difference")
    return text + "; best in bold, second underlined; the path column says how objective last was trained."


def accuracy_section(frame: pd.DataFrame, out: Outputs) -> dict:
    items, runs = [], training_runs(frame)
    for run, train in runs:
        where = f", run {run}" if len(runs) > 1 else ""
        tested = train[(train["split"] == "test") & train["cell"].isin(finished_cell_ids(train))]
        for protocol in sorted(set(tested["protocol"])):
            summary = accuracy_summary(train, protocol)
            name = f"accuracy-{slug(run)}-{protocol}"
            items.append(out.table(name, f"Overall accuracy, {protocol} protocol{where}",
                                   accuracy_table(summary, "html"), summary, accuracy_table(summary, "latex"),
                                   accuracy_caption(summary, protocol)))
            if summary["attention"].str.startswith("linrec-").any() and (summary["attention"] == "dot").any():
                figure, caption = ablation_figure(summary)
                items.append(out.figure(f"ablation-{slug(run)}-{protocol}",
                                        f"LinRec variants against dot, {protocol} protocol{where}", figure, caption))
    excluded = excluded_cells(frame) if runs else pd.DataFrame()
    text = "Cells that did not finish are left out: " + "; ".join(
        f"{r['cell']} ({r['status']}: {r['message']})" for _, r in excluded.iterrows()) if len(excluded) else ""
    return {"id": "accuracy", "title": "Accuracy", "text": text, "items": items}


def efficiency_sections(frame: pd.DataFrame, out: Outputs) -> list[dict]:
    profile = frame[frame.get("bench") == "profile"] if "bench" in frame else frame.iloc[0:0]
    tables, figures = [], []
    for title, block in efficiency_blocks(profile):
        for metric, label in (("time", "median time"), ("peak_memory", "peak memory")):
            table, notes = efficiency_table(block, metric)
            if table.empty:
                continue
            caption = (f"{label.capitalize()} per call at each length T (batch B), {title}; each cell gives the "
                       f"ratio to dot and to sdpa measured in the same run (below 1: less than the reference).")
            numbers = block[block["metric"] == metric]
            tables.append(out.table(f"efficiency-{slug(title)}-{metric}", f"{label.capitalize()}: {title}", table,
                                    numbers, table, caption, notes))
        if block["T"].nunique() > 1:
            figure, caption = scaling_figure(block, title)
            figures.append(out.figure(f"scaling-{slug(title)}", f"Scaling: {title}", figure, caption))
        if "sdpa" in set(block["variant"]) and block["variant"].nunique() > 1:
            figure, caption = speedup_heatmap(block)
            figures.append(out.figure(f"speedup-{slug(title)}", f"Speed-up over sdpa: {title}", figure, caption))
    figure, caption = roofline_figure(profile) if len(profile) else (None, "")
    if figure is not None:
        figures.append(out.figure("roofline", "Roofline (GPU)", figure, caption))
    return [{"id": "efficiency", "title": "Efficiency", "items": tables},
            {"id": "scaling", "title": "Scaling with sequence length", "items": figures}]


def curves_section(frame: pd.DataFrame, out: Outputs) -> dict:
    items, runs = [], training_runs(frame)
    for run, train in runs:
        where = f", run {run}" if len(runs) > 1 else ""
        valid = train[(train["split"] == "valid") & (train["metric"] == "ndcg@10")]
        for dataset, rows in (valid.groupby("dataset") if len(valid) else []):
            figure, caption = curves_figure(rows)
            items.append(out.figure(f"curves-{slug(run)}-{slug(str(dataset))}", f"Training curves, {dataset}{where}",
                                    figure, caption))
    return {"id": "curves", "title": "Training curves", "items": items}


def sensitivity_section(frame: pd.DataFrame, out: Outputs) -> dict:
    items = []
    profile = frame[frame.get("level") == "model"] if "level" in frame else frame.iloc[0:0]
    for run, train in training_runs(frame):
        neural = train[train["model"] != "pop"]
        for setting in SETTINGS:
            if setting in neural and neural[setting].nunique() > 1:
                figure, caption = sensitivity_figure(pd.concat([train, profile]), setting)
                items.append(out.figure(f"sensitivity-{slug(run)}-{setting}",
                                        f"Sensitivity to {SETTINGS[setting][0]}, run {run}", figure, caption))
    return {"id": "sensitivity", "title": "Sensitivity", "items": items}


def heatmaps_section(run_dirs: list[Path], out: Outputs) -> dict:
    rows = [row for run in run_dirs for row in read_heatmaps(run)]
    groups = {}
    for row in rows:
        groups.setdefault((row["dataset"], row["model"], row["max_len"], row["user"], row["layer"], row["head"]),
                          []).append(row)
    items = []
    for key, group in sorted(groups.items(), key=lambda item: str(item[0])):
        figure, caption = heatmaps_figure(group)
        name = slug("-".join(str(part) for part in key))
        items.append(out.figure(f"heatmaps-{name}", f"Attention heatmaps: {key[1]} on {key[0]}, N={whole(key[2])}",
                                figure, caption))
    text = "" if rows else "Heatmaps come from trained checkpoints: python -m bench heatmaps results/<training run>."
    return {"id": "heatmaps", "title": "Attention heatmaps", "text": text, "items": items}


def failed_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """Usage: failed_cells(frame) -> (run, cell, status, message): training cells that did not finish and profile
    cells that did not measure (oom, unavailable, unsupported, error), one row each."""
    columns, failed = ["run", "cell", "status", "message"], []
    for run, train in training_runs(frame):
        failed.append(excluded_cells(train).assign(run=run))
    profile = frame[(frame["bench"] == "profile") & (frame["status"] != "ok")] \
        if {"bench", "status", "variant"} <= set(frame.columns) else frame.iloc[0:0]
    if len(profile):
        named = profile["variant"].astype(str) + " " + profile["mode"].astype(str) + " T=" \
            + profile["T"].astype("Int64").astype(str) + " B=" + profile["B"].astype("Int64").astype(str)
        cell = profile["cell"] if "cell" in profile else pd.Series(pd.NA, index=profile.index)
        profile = profile.assign(cell=cell.fillna(named))  # rows without a cell id: named by what defines it
        failed.append(profile.drop_duplicates(["run_id", "cell"]).rename(columns={"run_id": "run"})
                      .reindex(columns=columns))
    return pd.concat(failed)[columns].fillna("") if failed else pd.DataFrame(columns=columns)


def comparison_section(frame: pd.DataFrame, runs: list[Path], others: list[Path], out: Outputs) -> dict:
    other = load_runs(*others)
    this_names, other_names = ", ".join(r.name for r in runs), ", ".join(r.name for r in others)
    items, efficiency = [], efficiency_comparison(frame, other)
    for metric, label in (("time", "median time"), ("peak_memory", "peak memory")):
        table = efficiency[metric]
        if not table.empty:
            caption = (f"{label.capitalize()} of each profiled cell in the other runs ({other_names}) over this "
                       f"report's ({this_names}), matched on level, model, mode, causal, dtype, variant, T and B; "
                       f"below 1 the other runs took less. Cells only one side measured are left out.")
            items.append(out.table(f"compare-{metric}", f"Compared: {label}, other / this", table,
                                   table.reset_index(), table, caption))
    protocols = set(frame.get("protocol", pd.Series(dtype=object)).dropna())
    for protocol in sorted(protocols & set(other.get("protocol", pd.Series(dtype=object)).dropna())):
        table = accuracy_comparison(frame, other, protocol)
        if not table.empty:
            caption = (f"Test metrics under the {protocol} protocol, mean over each side's seeds: this report's "
                       f"runs ({this_names}) against the other runs ({other_names}), and the relative change.")
            items.append(out.table(f"compare-accuracy-{protocol}", f"Compared: accuracy, {protocol} protocol",
                                   table, table.reset_index(), table, caption))
    text = "" if items else f"No cell of {other_names} matches one of {this_names}."
    return {"id": "comparison", "title": "Comparison with other runs", "text": text, "items": items}


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
    sections = [accuracy_section(frame, out), sensitivity_section(frame, out), *efficiency_sections(frame, out),
                heatmaps_section(runs, out), curves_section(frame, out)]
    if others:
        sections.append(comparison_section(frame, runs, others, out))
    sections.append(provenance_section(runs + others, frame, failed_cells(frame)))
    marks = provenance_marks(runs, frame)
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
