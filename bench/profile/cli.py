"""``python -m bench profile``: time and peak memory of attention variants (or whole models) across lengths.

Usage:
    python -m bench profile --attention dot sdpa linrec linrec_causal --lengths 64 128 256 512 1024 2048 4096 8192 \\
        --level attention --mode fwd fwdbwd infer --device cpu
    python -m bench profile --attention linrec --lengths 512                      # one cell is a first-class use
    python -m bench profile --level model --model sasrec --attention dot linrec --lengths 200 2048 --batch 8
    python -m bench profile --level mixer --mixer sdpa linrec mamba lru gla --lengths 256 1024 4096
    python -m bench profile ... --run-dir results/my-sweep                         # the same command again resumes

Rows go to ``<run dir>/rows.jsonl`` as each cell finishes (one measured value per row; see measure.py),
with env.json and config.json beside them. Re-running the same command into the same folder skips finished cells;
a folder made by a different command is refused. Every argument is checked before the first measurement.
"""
from __future__ import annotations

import argparse
import sys
import warnings
from dataclasses import asdict
from pathlib import Path

from ..cli import add_device_argument, non_negative_int, positive_float, positive_int
from ..machine import available_mib
from ..train.config import mixer_options_text
from .spec import CAUSAL_CHOICES, LEVELS, MODES, GridSpec, MeasureOptions

GRID = GridSpec(variants=[], lengths=[])  # the defaults of every setting below
MEASURE = MeasureOptions()
DEFAULT_TOKENS = GRID.tokens


def add_profile_command(commands) -> None:
    cmd = commands.add_parser("profile", help="time and peak memory per attention (or model) and length",
                              description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    what = cmd.add_argument_group("what to measure")
    what.add_argument("--attention", "--variants", "--mixer", nargs="+", required=True, metavar="NAME",
                      dest="variants", help="attention names, or at --level mixer / model any token mixer "
                                            "(mamba, lru, gla, retnet, hstu, gru; python -m bench list shows them)")
    what.add_argument("--mixer-option", action="append", default=[], metavar="KEY=VALUE", dest="mixer_options",
                      help="an option of the variants, repeatable (for example --mixer-option path=naive)")
    what.add_argument("--lengths", nargs="+", type=positive_int, required=True, metavar="T",
                      help="sequence lengths to measure (required)")
    what.add_argument("--level", choices=LEVELS, default=GRID.level,
                      help="one attention call, one token-mixer block (projections included), or a whole model "
                           "step (default: attention)")
    what.add_argument("--mode", nargs="+", choices=MODES, default=list(MODES), dest="modes",
                      help="fwd, fwdbwd (at model level: a full training step), infer (default: all three)")
    what.add_argument("--causal", choices=CAUSAL_CHOICES, default=GRID.causal,
                      help="auto: non-causal attention, and at model level the model's own choice (default)")
    add_device_argument(what)
    what.add_argument("--dtype", nargs="+", default=GRID.dtypes, dest="dtypes",
                      help="float32/fp32, bfloat16/bf16, float16/fp16 (default: float32)")
    batch = what.add_mutually_exclusive_group()
    batch.add_argument("--batch", type=positive_int, help="a fixed batch size at every length")
    batch.add_argument("--tokens", type=positive_int,
                       help=f"a token budget: B = tokens // T, the same token work at every length "
                            f"(default: {DEFAULT_TOKENS} unless --batch is given)")
    what.add_argument("--heads", type=positive_int, default=GRID.heads, help="attention heads H (default: %(default)s)")
    size = what.add_mutually_exclusive_group()
    size.add_argument("--head-dim", type=positive_int,
                      help=f"D (default {GRID.head_dim}); the hidden size d is heads * D")
    size.add_argument("--hidden", type=positive_int, metavar="d", help="the hidden size d instead: D = d / heads")
    what.add_argument("--model", default=GRID.model, metavar="NAME",
                      help="backbone at --level model: sasrec, bert4rec or a plug-in's (default: %(default)s)")
    what.add_argument("--layers", type=positive_int, default=GRID.layers, help="Transformer layers at --level model")
    what.add_argument("--items", type=positive_int, default=GRID.items, help="item count at --level model (ML-1M's)")
    what.add_argument("--seed", type=non_negative_int, default=GRID.seed,
                      help="seed of the inputs and weights (default: %(default)s)")
    how = cmd.add_argument_group("how to measure")
    how.add_argument("--warmup", type=non_negative_int, default=MEASURE.warmup,
                     help="untimed calls first (default: %(default)s)")
    how.add_argument("--repeats", type=positive_int, default=MEASURE.repeats,
                     help="timed calls per cell (upper bound)")
    how.add_argument("--min-repeats", type=positive_int, default=MEASURE.min_repeats,
                     help="timed calls at least, past --max-seconds too (default: %(default)s)")
    how.add_argument("--max-seconds", type=positive_float, default=MEASURE.max_seconds,
                     help="stop timing a cell after this much time once it has --min-repeats calls")
    how.add_argument("--no-memory", action="store_true", help="skip the peak-memory pass")
    how.add_argument("--memory-cap-mib", type=positive_float,
                     help="CPU: a cell needing more than this is recorded as oom (default: 3/4 of the memory "
                          "available at start)")
    how.add_argument("--isolate", action="store_true", help="run every cell in a fresh subprocess")
    how.add_argument("--timeout", type=positive_float, default=MEASURE.timeout,
                     help="seconds allowed to one subprocess")
    how.add_argument("--threads", type=positive_int, help="CPU threads (default: torch's choice)")
    how.add_argument("--load-attempts", type=positive_int, default=MEASURE.load_attempts,
                     help="time a cell again while other processes load the machine, up to this many times in "
                          "all (default: %(default)s); cells still loaded, or far off their series' trend, are "
                          "measured once more at the end of the sweep")
    out = cmd.add_argument_group("where results go")
    out.add_argument("--run-dir", help="run folder; an existing one made by this same command is resumed")
    out.add_argument("--results", default="results", help="parent of a new run folder (default: results)")
    out.add_argument("--no-progress", action="store_true", help="no progress bar (logs, CI)")
    add_worker_arguments(cmd)
    cmd.set_defaults(run=run_profile)


def add_worker_arguments(cmd) -> None:
    """How many workers measure the sweep (workers.py): serial, a local pool with one GPU each, or a job array."""
    from ..train.submit import add_submitit_arguments

    how = cmd.add_argument_group("how cells run")
    how.add_argument("--executor", choices=("serial", "local", "submitit"), default="serial",
                     help="serial (this process, default), local (--workers copies, one GPU each) or submitit (a job "
                          "array of --max-parallel copies)")
    how.add_argument("--workers", type=positive_int, default=1, help="local: workers (more than 1 needs --gpus)")
    how.add_argument("--gpus", nargs="+", default=None, metavar="ID", help="local: a GPU per worker in turn")
    how.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)  # a copy started by a driver
    add_submitit_arguments(how)


def grid_from_args(args) -> GridSpec:
    """Usage: grid_from_args(args) -> GridSpec with the device resolved (and checked: environment.select_device)."""
    from ..environment import select_device

    device = select_device(args.device)
    tokens = None if args.batch is not None else (args.tokens or DEFAULT_TOKENS)
    head_dim = args.head_dim or GRID.head_dim
    if args.hidden is not None:
        if args.hidden % args.heads:
            raise ValueError(f"--hidden {args.hidden} is not divisible by --heads {args.heads}")
        head_dim = args.hidden // args.heads
    return GridSpec(variants=args.variants, lengths=args.lengths, level=args.level, modes=args.modes,
                    causal=args.causal, dtypes=args.dtypes, device=device, batch=args.batch, tokens=tokens,
                    heads=args.heads, head_dim=head_dim, model=args.model, layers=args.layers,
                    items=args.items, seed=args.seed, options=mixer_options_text(args.mixer_options))


def options_from_args(args) -> MeasureOptions:
    """Usage: options_from_args(args) -> MeasureOptions (the CPU memory cap resolved)."""
    cap = args.memory_cap_mib
    if cap is None:
        cap = round(0.75 * available_mib()) or None
    return MeasureOptions(warmup=args.warmup, repeats=args.repeats, min_repeats=args.min_repeats,
                          max_seconds=args.max_seconds, memory=not args.no_memory, memory_cap_mib=cap,
                          isolate=args.isolate, timeout=args.timeout, threads=args.threads,
                          load_attempts=args.load_attempts)


def command_config(grid: GridSpec, args) -> dict:
    """What makes a run folder's rows comparable: the grid in canonical form (so ``bf16`` and ``bfloat16``, or
    lengths in another order, are the same command) and the measuring settings as given."""
    from .cells import canonical_dtype

    how = ("warmup", "repeats", "min_repeats", "max_seconds", "no_memory", "memory_cap_mib", "isolate", "threads")
    canonical = {**asdict(grid), "lengths": sorted(set(grid.lengths)), "variants": sorted(set(grid.variants)),
                 "modes": sorted(set(grid.modes)), "dtypes": sorted({canonical_dtype(d) for d in grid.dtypes})}
    return {"command": "profile", "grid": canonical, "measure": {k: getattr(args, k) for k in how}}


def open_run_dir(args, config: dict) -> Path:
    """Usage: open_run_dir(args, config) -> the run folder: new, or an existing one made by the same command.
    A folder whose config.json records a different command is a one-line error naming what differs. The caller
    writes config.json (with the resolved settings) right after."""
    from ..results import new_run_dir

    if args.run_dir is None:
        return new_run_dir(args.results, "profile")
    run_dir = Path(args.run_dir)
    for _ in range(2):  # a second look: another driver of this same new folder may have just written its config
        if (run_dir / "config.json").exists():
            return same_command(run_dir, config)
        in_the_making = ("config.json.tmp-",)  # that driver writing it right now
        if not run_dir.exists() or all(p.name.startswith(in_the_making) for p in run_dir.iterdir()):
            run_dir.mkdir(parents=True, exist_ok=True)
            return run_dir
    raise ValueError(f"{run_dir} exists and is not a profile run folder (no config.json); use a new --run-dir")


def same_command(run_dir: Path, config: dict) -> Path:
    """The folder, when its config.json records this command; else a one-line error naming what differs."""
    from ..results import read_json

    before = read_json(run_dir / "config.json")
    mine = {k: before.get(k) for k in config}
    if mine != config:
        raise ValueError(f"{run_dir} holds results of a different command (differs in: "
                         f"{_differences(mine, config)}); use a new --run-dir")
    return run_dir


def _differences(before: dict, now: dict) -> str:
    names = []
    for section in now:
        old, new = before.get(section), now[section]
        if isinstance(new, dict) and isinstance(old, dict):
            names += [key for key in new if old.get(key) != new[key]]
        elif old != new:
            names.append(section)
    return ", ".join(names)


MACHINE_KEYS = ("cpu", "cpu_count", "gpu", "torch", "cuda", "xformers")  # what the numbers depend on


def check_same_machine(run_dir: Path, env: dict, resuming: bool) -> None:
    """Usage: check_same_machine(run_dir, environment(), resuming=True). A run is resumed only on the machine and
    software it was started with (same CPU model and count, GPU, torch, CUDA and xformers), so its rows stay
    comparable; another host name or commit is only noted (rows record their commit). env.json is written for a
    new run."""
    from ..results import read_json, write_json

    path = run_dir / "env.json"
    if resuming and path.exists():
        before = read_json(path)
        differ = [key for key in MACHINE_KEYS if before.get(key) != env.get(key)]
        if differ:
            raise ValueError(f"{run_dir} was measured on another machine or software (differs in: "
                             f"{', '.join(differ)}); resume it there, or use a new --run-dir")
        for key, what in (("git_commit", "commit"), ("hostname", "host")):
            if before.get(key) != env.get(key):
                print(f"note: resuming on {what} {env.get(key)}, started on {before.get(key)}", file=sys.stderr)
        return
    write_json(path, env)


def run_profile(args) -> int:
    import torch

    from ..environment import COMMAND_LINE, environment
    from ..results import complete_cells, read_rows, repair_rows, write_json
    from .cells import make_grid
    from .recheck import recheck_cells
    from .table import print_run_table
    from .workers import check_pool, run_array, run_pool

    if args.threads:
        torch.set_num_threads(args.threads)
    grid = grid_from_args(args)
    cells = make_grid(grid)  # every bad argument fails here, before anything is measured
    options = options_from_args(args)
    if args.executor == "local" and not args.worker:
        check_pool(args.workers, args.gpus, grid.device)
    config = command_config(grid, args)
    run_dir = open_run_dir(args, config)
    write_json(run_dir / "config.json", {**config, "resolved": {"memory_cap_mib": options.memory_cap_mib,
                                                                 "cells": len(cells)}})
    rows_path = run_dir / "rows.jsonl"
    if args.worker:  # the driver repaired the folder; rewriting it now would lose the other workers' rows
        done = complete_cells(read_rows(rows_path)) if rows_path.exists() else set()
    else:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            done = repair_rows(rows_path)
        for warning in caught:
            print(f"warning: {warning.message}", file=sys.stderr)
    env = environment()
    check_same_machine(run_dir, env, resuming=bool(done))
    todo = [cell for cell in cells if cell.cell_id() not in done]
    print(f"profile: {len(cells)} cells, {len(cells) - len(todo)} finished, {len(todo)} to run; "
          f"{grid.device}, {torch.get_num_threads()} threads; results in {run_dir}")
    if grid.device == "cuda" and args.memory_cap_mib:
        print("note: --memory-cap-mib applies to CPU cells; on CUDA the device's own memory is the limit")
    if grid.device == "cuda" and not args.worker:
        from ..environment import device_name
        from .estimate import estimate_line

        print(estimate_line(todo, options, device_name("cuda")))
    failed = 0
    if args.executor == "local" and not args.worker:
        failed = run_pool(list(COMMAND_LINE), run_dir, args.workers, args.gpus)
    elif args.executor == "submitit" and not args.worker:
        failed = run_array(args, list(COMMAND_LINE), run_dir)
    else:
        measure_cells(todo, len(cells), options, run_dir, env["git_commit"], grid.device, args.no_progress)
    if args.worker:
        return 0
    again = recheck_cells(rows_path, cells, options, {"run_id": run_dir.name, "git_commit": env["git_commit"]})
    for cell_id, why in again.items():
        print(f"{cell_id}: measured again: {why}")
    print_run_table(run_dir)
    print(f"\nrows: {rows_path}" + (f" ({failed} workers failed; run the command again)" if failed else ""))
    return 1 if failed else 0


def measure_cells(todo, total: int, options, run_dir: Path, commit: str, device: str, quiet: bool) -> None:
    """Measure each cell of ``todo`` that no other worker holds or has finished meanwhile (claims.py), appending
    its rows in one write."""
    from tqdm import tqdm

    from ..cli import show_progress
    from ..results import append_rows, complete_cells, read_rows
    from ..runs.claims import claimed
    from .measure import measure_cell
    from .memory import address_space_cap

    rows_path = run_dir / "rows.jsonl"
    cap = options.memory_cap_mib if device == "cpu" else None
    with tqdm(total=total, initial=total - len(todo), unit="cell", disable=not show_progress(not quiet)) as bar, \
            address_space_cap(cap):  # cells timed in this process obey the cap too
        for cell in todo:
            cell_id = cell.cell_id()
            bar.set_postfix_str(cell.label())
            with claimed(run_dir, cell_id) as holder:
                measured = rows_path.exists() and cell_id in complete_cells(read_rows(rows_path))
                if holder is None and not measured:
                    rows = measure_cell(cell, options)
                    append_rows(rows_path, [{"run_id": run_dir.name, "cell": cell_id, "cell_rows": len(rows),
                                             "git_commit": commit, **row} for row in rows])
            bar.update(1)
