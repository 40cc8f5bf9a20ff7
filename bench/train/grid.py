"""``python -m bench train-grid``: a named grid of training cells into one run folder, run one after another, by a
bounded pool of worker processes, or as a SLURM job array; ``python -m bench train-cell``, the one cell a worker runs.

Usage:
    python -m bench train-grid smoke                                          # serial, in this process
    python -m bench train-grid smoke --executor local --workers 2 [--gpus 0 1]
    python -m bench train-grid full-accuracy --executor submitit --partition gpu --timeout-min 240 --max-parallel 8
    python -m bench train-grid my-sweep.toml                                  # a sweep file (sweeps.py)
    python -m bench train-cell CELL --run-dir results/smoke                   # one planned cell (what workers run)
    python -m bench train-grid quick-ablation --reuse-from results/run/accuracy   # copy identical finished cells

Every executor runs a cell the same way (cli.run_cell: claimed first, skipped when finished, resumed after its last
finished epoch, numbers independent of who runs it); a re-run of the command runs only what is unfinished. A cell
that fails leaves a row ``bench: train_failure`` with its reason (reports read only ``bench: train`` rows) and is
retried by the next run. The grid's plan goes to plan.json before any cell starts: its cell ids, which ``python -m
bench status`` reads, and each cell's full settings, which workers run their cell from.
"""
from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path

from ..cli import add_device_argument, positive_int
from ..environment import environment, select_device
from ..processes import die_with_parent, start_module
from ..results import write_json
from ..runs.status import describe
from .cells import grid_cells, grid_label, load_cells, plan_record, record_failure, train_one
from .cli import claim_run_dir, run_cell
from .grids import GRIDS
from .log import check_same_data, finished_cells
from .reuse import reuse_cells
from .submit import add_submitit_arguments, run_array

EXECUTORS = ("serial", "local", "submitit")


def add_train_grid_command(commands) -> None:
    cmd = commands.add_parser("train-grid", help="train a named grid of cells into one results folder (resumable)",
                              description=__doc__.split("\n\n")[0])
    cmd.add_argument("grid", help=f"a named grid ({', '.join(GRIDS)}) or a sweep file (.toml: "
                                  f"bench/train/sweeps.py; bench/sweeps/ holds the shipped ones)")
    cmd.add_argument("--run-dir", type=Path, default=None,
                     help="results folder (default: results/<grid>, a sweep file's name without .toml)")
    cmd.add_argument("--data-dir", type=Path, default=None, help="data cache folder")
    cmd.add_argument("--limit", type=positive_int, default=None, help="run at most this many unfinished cells")
    cmd.add_argument("--reuse-from", type=Path, nargs="+", default=[], metavar="DIR",
                     help="run folders whose finished identical cells (same id and data) are copied, marked "
                          "reused_from, instead of trained again (default: none)")
    add_device_argument(cmd)
    cmd.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_executor_arguments(cmd)
    cmd.set_defaults(run=run_train_grid)


EXECUTOR_OPTIONS = ("executor", "workers", "gpus", "threads", "cluster", "partition", "timeout_min", "max_parallel",
                    "gpus_per_task")


def add_executor_arguments(cmd) -> None:
    """Usage: add_executor_arguments(cmd): how a grid's cells run (train-grid's options, which run-all passes on)."""
    how = cmd.add_argument_group("how cells run")
    how.add_argument("--executor", choices=EXECUTORS, default="serial",
                     help="serial (this process, default), local (a pool of worker processes) or submitit (a SLURM "
                          "job array)")
    how.add_argument("--workers", type=positive_int, default=1, help="local: worker processes (default: 1)")
    how.add_argument("--gpus", nargs="+", default=None, metavar="ID",
                     help="local: GPU ids, one per worker in turn (CUDA_VISIBLE_DEVICES)")
    how.add_argument("--threads", type=positive_int, default=None,
                     help="CPU threads per cell (default: torch's choice serially, cores / workers in a pool)")
    add_submitit_arguments(how)


def run_train_grid(args) -> int:
    device = select_device(args.device)
    for source in args.reuse_from:
        if not (source / "rows.jsonl").is_file():
            raise FileNotFoundError(f"--reuse-from {source}: no rows.jsonl (not a results run folder)")
    specs = grid_cells(args.grid)  # a bad grid name or sweep file is one line before any folder is made
    run_dir = claim_run_dir(args.run_dir or Path("results") / grid_label(args.grid))
    cells = load_cells(specs, args.data_dir, device)
    write_json(run_dir / "plan.json", {"grid": args.grid, "device": device, "cells": [c[3] for c in cells],
                                       "settings": plan_record(cells)})  # what workers run: the cells as planned
    done = finished_cells(run_dir)
    for data in {id(c[2]): c[2] for c in cells}.values():  # a finished cell on changed data is not skipped
        check_same_data(run_dir, [c[3] for c in cells if c[2] is data and c[3] in done], data.content_sha256())
    reused = reuse_cells(run_dir, [cell for cell in cells if cell[3] not in done], args.reuse_from)
    for cell, source in reused.items():
        print(f"{cell}: reused from {source} (the same cell, finished there on the same data), not trained again")
    todo = [cell for cell in cells if cell[3] not in done and cell[3] not in reused][:args.limit]
    finished = sum(c[3] in done for c in cells)
    again = f", {len(reused)} reused from {', '.join(sorted(set(reused.values())))}" if reused else ""
    print(f"{args.grid}: {len(cells)} cells, {finished} finished{again}, {len(todo)} to run ({args.executor})")
    if args.executor == "local":
        failed = run_pool(args, run_dir, [c[3] for c in todo])
    elif args.executor == "submitit":
        failed = run_array(args, run_dir, [c[3] for c in todo])
    else:
        failed = run_serially(args, run_dir, todo, cells)
    print(f"results: {run_dir}" + (f" ({failed} cells failed; run the command again to retry them)" if failed else ""))
    return 1 if failed else 0


def run_serially(args, run_dir: Path, todo: list[tuple], grid: list[tuple] | None = None) -> int:
    """Every cell in this process, one after another, each announced with its place, what it varies within the
    grid and the stage's time left (the median time of the cells finished so far, in this folder by any session
    or worker); returns how many failed."""
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    failed, env = 0, environment()  # env taken once: the code this process started with
    for k, (dataset, config, data, cell) in enumerate(todo, start=1):
        pace = describe(run_dir)["seconds_per_cell"]  # median whole-cell time so far, earlier sessions included
        eta = f", about {pace * (len(todo) - k + 1) / 60:.1f} min left" if pace else ""
        varies = what_varies(config, [c[1] for c in grid or todo])
        where = f"[{k}/{len(todo)}{eta}]" + (f" {varies}" if varies else "")
        try:
            run_cell(run_dir, config, data, dataset, not args.no_progress, env, where)
        except (ValueError, RuntimeError) as err:  # one bad cell does not stop the grid; a rerun retries it
            failed += 1
            record_failure(run_dir, cell, err)
            print(f"{cell}: failed: {err}")
    return failed


SHOWN = ("model", "attention", "max_len", "seed", "shuffle_train_order", "objective")  # in the training line itself


def what_varies(config, configs) -> str:
    """Usage: what_varies(config, grid_configs) -> "hidden=16, inner=64": its settings that differ from the most
    common ones of the grid, so cells that share a label are told apart."""
    mine = asdict(config)
    common = {key: Counter(asdict(c)[key] for c in configs).most_common(1)[0][0] for key in mine}
    return ", ".join(f"{key}={value}" for key, value in mine.items() if key not in SHOWN and value != common[key])


def cell_arguments(args, run_dir: Path, cell: str, threads: int | None) -> list[str]:
    """The train-cell command line of one cell."""
    extra = ["--data-dir", str(args.data_dir)] if args.data_dir else []
    extra += ["--threads", str(threads)] if threads else []
    device = "cuda" if args.gpus else args.device  # a worker sees its one GPU as cuda:0
    return ["train-cell", cell, "--run-dir", str(run_dir), "--device", device, *extra]


def run_pool(args, run_dir: Path, todo: list[str]) -> int:
    """At most ``--workers`` worker processes, one cell each, the next cell as soon as one ends; returns failures.
    Worker i gets GPU gpus[i % len(gpus)] alone; CPU workers share the cores evenly."""
    threads = args.threads or max(1, (os.cpu_count() or 1) // args.workers)
    logs = run_dir / "workers"
    logs.mkdir(exist_ok=True)
    queue, running, failed = list(todo), {}, 0  # running: slot -> (process, cell, log)
    while queue or running:
        for slot in [s for s in range(args.workers) if s not in running][:len(queue)]:
            cell = queue.pop(0)
            env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
            if args.gpus:
                env["CUDA_VISIBLE_DEVICES"] = str(args.gpus[slot % len(args.gpus)])
            log = open(logs / f"{cell}.log", "a", encoding="utf-8")  # closed when the worker ends
            running[slot] = (start_module("bench", cell_arguments(args, run_dir, cell, threads), env=env, log=log),
                             cell, log)
            print(f"{cell}: started on worker {slot}" + (f" (GPU {env['CUDA_VISIBLE_DEVICES']})" if args.gpus else ""))
        for slot, (process, cell, log) in list(running.items()):
            if process.poll() is not None:
                log.close()
                del running[slot]
                failed += process.returncode != 0
                print(f"{cell}: {'done' if process.returncode == 0 else f'failed (exit {process.returncode})'}"
                      f", log {logs / (cell + '.log')}")
        time.sleep(0.2)
    return failed


def add_train_cell_command(commands) -> None:
    cmd = commands.add_parser("train-cell", help="train one planned cell of a grid's run folder (what pool and "
                                                 "SLURM workers run)")
    cmd.add_argument("cell", help="the cell id (plan.json lists a grid's, with the settings the cell runs with)")
    cmd.add_argument("--run-dir", type=Path, required=True, help="the grid's run folder")
    cmd.add_argument("--data-dir", type=Path, default=None, help="data cache folder")
    cmd.add_argument("--threads", type=positive_int, default=None, help="CPU threads")
    add_device_argument(cmd)
    cmd.set_defaults(run=run_train_cell)


def run_train_cell(args) -> int:
    """One cell, by id; a failure is a train_failure row and exit status 1."""
    die_with_parent()
    return train_one(args.cell, args.run_dir, args.data_dir, args.device, args.threads)
