"""A sweep's second look: cells timed under load or out of line with their series are measured once more.

Usage:
    remeasured = recheck_cells(rows_path, cells, options, extra={"run_id": ..., "git_commit": ...})

After the sweep, a cell whose timing was still taken under load after its attempts (measure.py), or whose median
time per sequence is far off the trend of its series' other lengths (analysis.out_of_line), is measured again;
its rows are replaced by the new ones, which carry ``remeasured`` (why). A cell is re-measured once: a rerun of the
same command leaves remeasured cells as they are.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..results import read_rows, write_rows
from .analysis import out_of_line
from .measure import measure_cell
from .spec import MeasureOptions


def suspects(rows: list[dict]) -> dict:
    """Usage: suspects(read_rows(path)) -> {cell id: why} of the cells to measure again (none twice)."""
    done = {r.get("cell") for r in rows if r.get("remeasured")}
    found = {r["cell"]: f"timed under load ({r['loaded']})" for r in rows if r.get("loaded") and r.get("cell")}
    timed = [r for r in rows if r.get("metric") == "time" and r.get("status") == "ok"]
    if timed:
        found.update({cell: why for cell, why in out_of_line(pd.DataFrame(timed)).items() if cell not in found})
    return {cell: why for cell, why in found.items() if cell not in done}


def recheck_cells(rows_path: Path, cells, options: MeasureOptions, extra: dict) -> dict:
    """Usage: see module docstring. Returns {cell id: why} of the cells measured again."""
    by_id = {cell.cell_id(): cell for cell in cells}
    chosen = {cell: why for cell, why in suspects(read_rows(rows_path)).items() if cell in by_id}
    for cell_id, why in chosen.items():
        rows = measure_cell(by_id[cell_id], options)
        new = [{**extra, "cell": cell_id, "cell_rows": len(rows), "remeasured": why, **row} for row in rows]
        kept = [r for r in read_rows(rows_path) if r.get("cell") != cell_id]
        write_rows(rows_path, kept + new)
    return chosen
