"""Provenance of a report's runs: where, with what and at which commit each was measured, and the marks a reader
needs before trusting a number (a dirty tree, several commits in one run, cells without a recorded environment,
a commit other than the runs beside it).

Usage:
    marks = provenance_marks(run_dirs, frame)      # {run name: ["measured on a dirty tree (1a2b3c4d5e-dirty)", ...]}
    section = provenance_section(run_dirs, frame, failed)   # the report's last section

A run's commits come from its env.json, from the ``git_commit`` of its rows (profiling writes it on every row)
and from the environment config.json records per training cell; a training cell config.json has no environment
for counts as unrecorded.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pandas as pd

from bench.results import read_json, recorded_cells


def read_optional(path: Path) -> dict:
    return read_json(path) if path.exists() else {}


def run_commits(run: Path, frame: pd.DataFrame) -> tuple[list[str], int]:
    """Usage: run_commits(run_dir, frame) -> (the commits its numbers were measured at, most used first; how many
    of its training cells have no recorded environment)."""
    counted = Counter()
    rows = frame[frame["run_id"] == run.name] if "run_id" in frame else frame.iloc[0:0]
    if "git_commit" in rows:
        counted.update(rows["git_commit"].dropna().astype(str))
    cells = recorded_cells(run)
    trained = set(rows.loc[rows["bench"] == "train", "cell"]) if "cell" in rows else set()
    recorded = {cell: (entry.get("env") or {}).get("git_commit") for cell, entry in cells.items()
                if isinstance(entry, dict)}
    counted.update(commit for commit in recorded.values() if commit)
    unrecorded = len({cell for cell in trained if not recorded.get(cell)})
    if not counted and read_optional(run / "env.json").get("git_commit"):
        counted[read_optional(run / "env.json")["git_commit"]] += 1
    return [commit for commit, _ in counted.most_common()], unrecorded


def provenance_marks(run_dirs: list[Path], frame: pd.DataFrame) -> dict:
    """Usage: see module docstring. Runs without a mark are left out."""
    commits = {run.name: run_commits(run, frame) for run in run_dirs}
    marks = {}
    for name, (found, unrecorded) in commits.items():
        notes = [f"measured on a dirty tree ({c.removesuffix('-dirty')[:10]}-dirty)"
                 for c in found if c.endswith("-dirty")]
        if len(found) > 1:
            notes.append(f"mixes {len(found)} commits ({', '.join(c[:10] for c in found)})")
        if unrecorded:
            notes.append(f"{unrecorded} training cell(s) without a recorded environment")
        beside = {c for other, (theirs, _) in commits.items() if other != name for c in theirs}
        if found and beside and not beside & set(found):
            notes.append(f"measured at {found[0][:16]}, a commit none of the runs beside it shares "
                         f"({', '.join(sorted(c[:10] for c in beside))})")
        if not found:
            notes.append("no recorded commit")
        if notes:
            marks[name] = notes
    return marks


def provenance_section(run_dirs: list[Path], frame: pd.DataFrame, failed: pd.DataFrame) -> dict:
    """Usage: provenance_section(runs, frame, failed_cells(frame)) -> the "Environment and provenance" section."""
    marks, rows = provenance_marks(run_dirs, frame), []
    for run in run_dirs:
        env, config = read_optional(run / "env.json"), read_optional(run / "config.json")
        settings = json.dumps(config.get("grid") or config.get("measure") or {}, sort_keys=True)[:300]
        command = env.get("command_line") or f"{config.get('command', '?')} {settings}"  # older runs: settings
        rows.append({"run": run.name, "command": command,
                     "device": env.get("gpu") or env.get("cpu", "?"), "threads": env.get("torch_threads"),
                     "torch": env.get("torch"), "cuda": env.get("cuda") or "-", "xformers": env.get("xformers"),
                     "commit": (env.get("git_commit") or "?")[:16], "time": env.get("time"),
                     "provenance": "; ".join(marks.get(run.name, [])) or "clean"})
    runs = {"kind": "table", "title": "Runs", "notes": [],
            "html": pd.DataFrame(rows).to_html(index=False, escape=True, classes="text"),
            "caption": "Each run folder's env.json and config.json: where, with what and by which command (the "
                       "latest that wrote to the folder) every number was measured; provenance marks a dirty "
                       "tree, several commits in one run, cells without a recorded environment and a commit other "
                       "than the other runs'."}
    cells = {"kind": "table", "title": "Cells that did not finish or measure", "notes": [],
             "html": failed.to_html(index=False, escape=True, classes="text") if len(failed) else "<p>None.</p>",
             "caption": "Left out of every table and figure above, with the reason recorded in their rows."}
    return {"id": "provenance", "title": "Environment and provenance", "items": [runs, cells]}
