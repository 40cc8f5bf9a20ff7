"""A finished cell that another run folder already trained, identically, is copied instead of trained again.

Usage:
    reused = reuse_cells(run_dir, cells, [Path("results/run/accuracy")])   # {cell id: the folder it came from}

Identical means the same cell id (the model, attention, seed and every setting that differs from the defaults,
on the same device and data label: bench/train/config.py) and the same data content (its SHA-256 in the status
row). Only a cell with one final status row, "finished", is reused. Its rows are appended to this folder's
rows.jsonl with ``reused_from`` naming the source folder, and its cells/<cell>.config.json (settings and the
environment it was trained in) and checkpoint come with it, so the copy reads, reports and resumes like a cell
trained here. The cell is claimed while it is copied (bench/runs/claims.py), as if it were trained.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from ..results import append_rows, read_rows, recorded_cells, write_json
from ..runs.claims import claimed
from .log import finished_cells


def finished_rows(source: Path, digest: str) -> dict[str, list[dict]]:
    """Usage: finished_rows(source_dir, data.content_sha256()) -> {cell: its training rows} for the cells of
    ``source`` that finished there once, on this data (the file is read once for every cell asked about)."""
    path = Path(source) / "rows.jsonl"
    by_cell: dict[str, list[dict]] = {}
    for row in read_rows(path) if path.exists() else []:
        if row.get("bench") == "train" and row.get("cell"):
            by_cell.setdefault(row["cell"], []).append(row)
    finished = {}
    for cell, rows in by_cell.items():
        status = [r for r in rows if r.get("metric") == "status"]
        if len(status) == 1 and status[0].get("status") == "finished" and status[0].get("data_sha256") == digest:
            finished[cell] = rows
    return finished


def copy_cell(run_dir: Path, source: Path, cell: str, rows: list[dict]) -> None:
    """Usage: copy_cell(run_dir, source, cell, rows): the rows (marked reused_from), the cell's record and its
    checkpoint, from ``source`` into ``run_dir``."""
    record = recorded_cells(source).get(cell)
    if record is not None:
        write_json(run_dir / "cells" / f"{cell}.config.json", record)
    checkpoint = Path(source) / "checkpoints" / f"{cell}.pt"
    if checkpoint.exists():
        (run_dir / "checkpoints").mkdir(exist_ok=True)
        shutil.copy2(checkpoint, run_dir / "checkpoints" / checkpoint.name)
    append_rows(run_dir / "rows.jsonl", [{**row, "run_id": run_dir.name, "reused_from": Path(source).name}
                                         for row in rows])


def reuse_cells(run_dir: Path, cells: list[tuple], sources: list[Path]) -> dict[str, str]:
    """Usage: see module docstring. ``cells``: load_grid's (dataset, config, data, cell id) of the cells to run."""
    reused, here = {}, Path(run_dir).resolve()
    sources = [Path(s) for s in sources if Path(s).resolve() != here]  # a folder never reuses its own cells
    digests, found = {}, {}  # data -> its digest; (source, digest) -> its finished cells, each read once
    for _, _, data, cell in cells:
        if id(data) not in digests:
            digests[id(data)] = data.content_sha256()
        for source in sources:
            key = (source, digests[id(data)])
            if key not in found:
                found[key] = finished_rows(*key)
            if cell not in found[key]:
                continue
            with claimed(run_dir, cell) as holder:
                if holder is None and cell not in finished_cells(run_dir):
                    copy_cell(Path(run_dir), source, cell, found[key][cell])
                    reused[cell] = Path(source).name
            break
    return reused
