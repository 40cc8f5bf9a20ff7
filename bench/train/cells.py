"""One cell of a named grid, found, trained and, when it fails, recorded: what every train-grid executor runs.

Usage:
    cells = load_grid("smoke", None, "cpu")          # [(dataset spec, config, data, cell id)]
    code = train_one("smoke", cell_id, run_dir, None, "cpu", threads=1)   # 0, or 1 after a train_failure row
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from pathlib import Path

from ..runs.claims import owner_id
from ..environment import environment, select_device
from ..results import append_rows
from .cli import run_cell
from .config import dataset_label
from .grids import GRIDS


def load_grid(name: str, data_dir, device: str) -> list[tuple]:
    """Usage: load_grid("smoke", None, "cpu") -> [(dataset spec, config, data, cell id)], each data set loaded once."""
    from ..data import load_dataset

    loaded, cells = {}, []
    for dataset, config in GRIDS[name]():
        config = replace(config, device=device)  # every cell of the grid trains there: another device, another cell
        key = json.dumps(dataset, sort_keys=True)
        if key not in loaded:
            loaded[key] = load_dataset(dataset["name"], data_dir=data_dir, **dataset.get("options", {}))
        cells.append((dataset, config, loaded[key], config.cell_id(dataset_label(loaded[key]))))
    return cells


def record_failure(run_dir: Path, cell: str, err: BaseException) -> None:
    """Usage: record_failure(run_dir, cell, err): a ``train_failure`` row with the first line of the reason."""
    reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
    append_rows(run_dir / "rows.jsonl", [{"bench": "train_failure", "run_id": run_dir.name, "cell": cell,
                                          "metric": "failure", "message": f"{type(err).__name__}: {reason}",
                                          "owner": owner_id(), "time": time.time()}])


def train_one(grid: str, cell: str, run_dir: Path, data_dir, device: str, threads: int | None) -> int:
    """Usage: train_one("smoke", cell_id, run_dir, None, "cpu", 1) -> 0, or 1 after recording a failure."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    found = [c for c in load_grid(grid, data_dir, select_device(device)) if c[3] == cell]
    if not found:
        raise ValueError(f"grid {grid!r} has no cell {cell!r} (plan.json lists its cells)")
    dataset, config, data, _ = found[0]
    try:
        run_cell(Path(run_dir), config, data, dataset, False, environment())
    except (ValueError, RuntimeError) as err:
        record_failure(Path(run_dir), cell, err)
        print(f"{cell}: failed: {err}", file=sys.stderr)
        return 1
    return 0
