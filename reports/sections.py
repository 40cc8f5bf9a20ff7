"""The report's sections, each built from the rows of its runs: accuracy, ablation and sensitivity (each training
run under the section of the question it answers), efficiency tables, scaling figures, attention heatmaps, training
curves and a comparison with other runs.

Usage:
    out = Outputs("reports/out")
    sections = [*training_sections(frame, out), *efficiency_sections(frame, out), heatmaps_section(runs, out)]
    failed = failed_cells(frame)       # (run, cell, status, message) of every cell that did not finish or measure

Each section is a dict {"id", "title", "text", "items"} the template renders; a section without items says so.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.results import load_runs

from .accuracy import accuracy_summary, accuracy_table, excluded_cells, finished_cell_ids
from .compare import accuracy_comparison, efficiency_comparison
from .efficiency import efficiency_blocks, efficiency_table
from .figures_compare import ablation_figure, speedup_heatmap
from .figures_curves import curves_figure
from .figures_frontier import frontier_figure, frontier_points
from .figures_heatmaps import heatmaps_figure, read_heatmaps
from .figures_roofline import roofline_figure
from .figures_scaling import scaling_figure
from .figures_sensitivity import SETTINGS, sensitivity_figure
from .outputs import Outputs, slug
from .style import whole

# The question each kind of training run answers, as the section it goes under: (id, title).
RUN_KINDS = {"accuracy": "Accuracy", "ablation": "Ablation: LinRec's feature map and normalisation",
             "sensitivity": "Sensitivity"}


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


def run_kind(train: pd.DataFrame) -> str:
    """Usage: run_kind(training_rows_of_one_run) -> "ablation" (LinRec's linrec-<map>-<norm> variants ran),
    "sensitivity" (a setting of SETTINGS varies between its neural cells) or "accuracy"."""
    if train["attention"].astype(str).str.startswith("linrec-").any():
        return "ablation"
    neural = train[train["model"] != "pop"]
    return "sensitivity" if any(s in neural and neural[s].nunique() > 1 for s in SETTINGS) else "accuracy"


def accuracy_items(run: str, train: pd.DataFrame, where: str, out: Outputs,
                   profile: pd.DataFrame | None = None) -> list[dict]:
    """The run's accuracy table per protocol with finished cells; beside it the ablation bars where LinRec's
    variants ran with dot, and with ``profile`` (model-level profile rows, possibly none) the accuracy-cost
    frontier."""
    items = []
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
        if profile is not None and summary["attention"].nunique() > 2:  # a floor and one model compare nothing
            points = frontier_points(train, profile, protocol)
            figure, caption = frontier_figure(points)
            items.append(out.figure(f"frontier-{slug(run)}-{protocol}",
                                    f"Accuracy-cost frontier, {protocol} protocol{where}", figure, caption))
    return items


def sensitivity_items(run: str, train: pd.DataFrame, profile: pd.DataFrame, out: Outputs) -> list[dict]:
    """One figure per setting the run moves: accuracy (and model-level cost, where profiled) against it."""
    items, neural = [], train[train["model"] != "pop"]
    for setting in SETTINGS:
        if setting in neural and neural[setting].nunique() > 1:
            figure, caption = sensitivity_figure(pd.concat([train, profile]), setting)
            items.append(out.figure(f"sensitivity-{slug(run)}-{setting}",
                                    f"Sensitivity to {SETTINGS[setting][0]}, run {run}", figure, caption))
    return items


def training_sections(frame: pd.DataFrame, out: Outputs) -> list[dict]:
    """Usage: see module docstring. The Accuracy, Ablation and Sensitivity sections, in that order; each
    training run's tables and figures go under the section of its kind (run_kind)."""
    runs = training_runs(frame)
    profile = frame[frame["level"] == "model"] if "level" in frame else frame.iloc[0:0]  # sensitivity's cost panel
    sections = {kind: {"id": kind, "title": title, "text": "", "items": []} for kind, title in RUN_KINDS.items()}
    for run, train in runs:
        kind, where = run_kind(train), f", run {run}" if len(runs) > 1 else ""
        sections[kind]["items"] += accuracy_items(run, train, where, out, profile if kind == "accuracy" else None)
        if kind == "sensitivity":
            sections[kind]["items"] += sensitivity_items(run, train, profile, out)
        excluded = excluded_cells(train)
        if len(excluded):
            sections[kind]["text"] += f"Cells{where} that did not finish are left out: " + "; ".join(
                f"{r['cell']} ({r['status']}: {r['message']})" for _, r in excluded.iterrows()) + ". "
    extra = (sections["ablation"], sections["sensitivity"])
    return [sections["accuracy"], *(section for section in extra if section["items"] or section["text"])]


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


