"""One cell of a named grid, found, trained and, when it fails, recorded: what every train-grid executor runs.

Usage:
    cells = load_grid("smoke", None, "cpu")          # [(dataset spec, config, data, cell id)]
    code = train_one(cell_id, run_dir, None, "cpu", threads=1)   # 0, or 1 after a train_failure row (plan.json's cell)
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

from ..runs.claims import owner_id
from ..environment import environment, select_device
from ..results import append_rows, read_json
from .cli import run_cell
from .config import TrainConfig, dataset_label
from .grids import GRIDS
from .sweeps import load_sweep


def grid_cells(grid: str) -> list[tuple[dict, TrainConfig]]:
    """Usage: grid_cells("smoke") or grid_cells("my-sweep.toml") -> [(dataset spec, TrainConfig)]: a named grid
    (bench/train/grids.py) or a sweep file (sweeps.py); anything else is one line naming the valid ones."""
    if grid in GRIDS:
        return GRIDS[grid]()
    if grid.endswith(".toml") or Path(grid).is_file():
        return load_sweep(grid)
    raise ValueError(f"unknown grid {grid!r}; valid: {', '.join(GRIDS)}, or a sweep file (.toml)")


def grid_label(grid: str) -> str:
    """Usage: grid_label("sweeps/my-sweep.toml") -> "my-sweep": a run folder's default name."""
    return grid if grid in GRIDS else Path(grid).stem


def load_grid(name: str, data_dir, device: str) -> list[tuple]:
    """Usage: load_grid("smoke", None, "cpu") -> [(dataset spec, config, data, cell id)], each data set loaded once."""
    return load_cells(grid_cells(name), data_dir, device)


def load_cells(specs: list[tuple[dict, TrainConfig]], data_dir, device: str) -> list[tuple]:
    """Usage: load_cells([(dataset spec, config), ...], None, "cpu") -> [(dataset spec, config, data, cell id)]."""
    from ..data import load_dataset

    loaded, cells = {}, []
    for dataset, config in specs:
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


def plan_record(cells: list[tuple]) -> dict:
    """Usage: plan_record(load_grid(...)) -> {cell id: {"dataset", "train"}}: every cell's full settings, which
    train-grid writes into plan.json before launch and workers run their cell from."""
    return {cell: {"dataset": dataset, "train": asdict(config)} for dataset, config, _, cell in cells}


def planned_cell(run_dir: Path, cell: str, data_dir, device: str) -> tuple:
    """Usage: planned_cell(run_dir, cell, None, "cpu") -> (dataset spec, config, data, cell id) from plan.json's
    record of that cell, on this worker's device; one line where the folder has no plan or the plan no such cell."""
    plan_path = Path(run_dir) / "plan.json"
    if not plan_path.is_file():
        raise ValueError(f"{run_dir}: no plan.json (train-grid writes it before it starts workers)")
    record = read_json(plan_path).get("settings", {}).get(cell)
    if record is None:
        raise ValueError(f"{plan_path} has no settings for cell {cell!r} (its cells: python -m bench status "
                         f"{run_dir})")
    config = replace(TrainConfig(**record["train"]), device=device)
    found = load_cells([(record["dataset"], config)], data_dir, device)[0]
    if found[3] != cell:
        raise ValueError(f"cell {cell!r} is {found[3]!r} on device {device}: run it with the device it was planned on")
    return found


def train_one(cell: str, run_dir: Path, data_dir, device: str, threads: int | None) -> int:
    """Usage: train_one(cell_id, run_dir, None, "cpu", 1) -> 0, or 1 after recording a failure: the cell as
    plan.json records it (not the grid rebuilt: a sweep file edited since cannot change a running grid)."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    dataset, config, data, _ = planned_cell(Path(run_dir), cell, data_dir, select_device(device))
    try:
        run_cell(Path(run_dir), config, data, dataset, False, environment())
    except (ValueError, RuntimeError) as err:
        record_failure(Path(run_dir), cell, err)
        print(f"{cell}: failed: {err}", file=sys.stderr)
        return 1
    return 0
