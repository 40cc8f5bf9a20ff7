"""``python -m bench train``: train and evaluate one model; and run_cell, how every executor runs one cell.

Usage:
    python -m bench train --model sasrec --attention linrec --dataset ml-100k --k-core 5 --max-len 200 --epochs 50
    python -m bench train --mixer mamba --mixer-option d_state=16 --max-len 200       # any token mixer
    run_cell(run_dir, config, data, dataset_spec, progress, environment())   # claimed, skipped when finished

A grid of cells: ``python -m bench train-grid`` (grid.py).
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import asdict, fields
from pathlib import Path

from ..cli import add_device_argument, add_mixer_argument, non_negative_float, positive_float, positive_int
from ..data.cli import add_dataset_arguments, dataset_from_args
from ..results import new_run_dir, read_json, write_json
from ..runs.claims import claimed
from .config import (LAST_PATHS, LOSSES, OBJECTIVES, PROTOCOLS, TrainConfig, backbone_spec, dataset_label,
                     mixer_options_text)
from .log import check_same_data, finished_cells

COMMAND = "train"
DEFAULTS = TrainConfig()
CLI_LAST_PATH = "auto"  # one pass per sequence where it gives the same pairs; the reference cells keep per-prefix


def fraction(text: str) -> float:
    """argparse type: a number in [0, 1)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}")
    return value


def add_model_arguments(cmd) -> None:
    """Usage: add_model_arguments(cmd) adds one option per TrainConfig field, each defaulting to TrainConfig's."""
    d = DEFAULTS
    cmd.add_argument("--model", default=d.model, metavar="NAME",
                     help="the backbone: sasrec, bert4rec, pop, or a plug-in's (default: %(default)s)")
    add_mixer_argument(cmd, default=d.attention)
    cmd.add_argument("--mixer-option", action="append", default=[], metavar="KEY=VALUE", dest="mixer_options",
                     help="an option of the token mixer, repeatable (for example --mixer-option d_state=16)")
    cmd.add_argument("--block", choices=["controlled", "published"], default=d.block,
                     help="controlled: the SASRec frame for every mixer (default); published: the mixer's paper's "
                          "own block (Mamba4Rec for mamba, LRURec for lru)")
    cmd.add_argument("--max-len", type=positive_int, default=d.max_len, help="N: most recent items a window holds")
    cmd.add_argument("--hidden", type=positive_int, default=d.hidden, help="hidden size d (default: %(default)s)")
    cmd.add_argument("--heads", type=positive_int, default=d.heads, help="attention heads (default: %(default)s)")
    cmd.add_argument("--inner", type=positive_int, default=d.inner, help="feed-forward inner size")
    cmd.add_argument("--layers", type=positive_int, default=d.layers, help="Transformer layers (default: %(default)s)")
    cmd.add_argument("--dropout", type=fraction, default=d.dropout, help="dropout rate (default: %(default)s)")
    cmd.add_argument("--activation", choices=["gelu", "relu"], default=d.activation,
                     help="feed-forward activation (default: %(default)s)")
    cmd.add_argument("--objective", choices=OBJECTIVES, default=None,
                     help="last (per prefix, default for sasrec), all (every position, causal only), cloze (bert4rec)")
    cmd.add_argument("--loss", choices=LOSSES, default=d.loss, help="ce over all items, or bce with one negative")
    cmd.add_argument("--last-path", choices=LAST_PATHS, default=CLI_LAST_PATH,
                     help="objective last: one pass per sequence where that gives the same pairs (a causal model "
                          "whose attention honours masks), else one window per prefix (auto, default); or force one")
    cmd.add_argument("--mask-ratio", type=fraction, default=d.mask_ratio, help="BERT4Rec cloze mask ratio")
    cmd.add_argument("--epochs", type=positive_int, default=d.epochs, help="the epoch limit (default: %(default)s)")
    cmd.add_argument("--batch-size", type=positive_int, default=d.batch_size,
                     help="(prefix, next item) pairs per step under objective last, windows otherwise "
                          "(default: %(default)s)")
    cmd.add_argument("--lr", type=positive_float, default=d.lr, help="Adam's learning rate (default: %(default)s)")
    cmd.add_argument("--weight-decay", type=non_negative_float, default=d.weight_decay,
                     help="Adam's weight decay (default: %(default)s)")
    cmd.add_argument("--patience", type=positive_int, default=d.patience,
                     help="epochs without a better valid NDCG@10")
    cmd.add_argument("--seed", type=int, default=d.seed, help="seed of initialisation, order, dropout and negatives")
    cmd.add_argument("--protocol", choices=PROTOCOLS, default=d.protocol, help="evaluation protocol")
    cmd.add_argument("--exclude-seen", action="store_true", help="full ranking without the user's earlier items")
    cmd.add_argument("--eval-batch-size", type=positive_int, default=d.eval_batch_size,
                     help="users per evaluation batch (default: %(default)s)")
    cmd.add_argument("--shuffle-train-order", action="store_true",
                     help="sanity check: shuffle each training sequence (valid/test targets stay last)")
    add_device_argument(cmd)


def add_train_command(commands) -> None:
    cmd = commands.add_parser("train", help="train and evaluate one recommender (results as tidy rows)",
                              description=__doc__.split("\n\n")[0])
    add_dataset_arguments(cmd, include_seed=False)  # --seed is the training seed here
    add_model_arguments(cmd)
    cmd.add_argument("--run-dir", type=Path, default=None, help="results folder (default: a new results/train-*)")
    cmd.add_argument("--no-progress", action="store_true", help="no progress bar")
    cmd.set_defaults(run=run_train)


def config_from_args(args) -> TrainConfig:
    names = {f.name for f in fields(TrainConfig)}
    values = {name: getattr(args, name) for name in names if hasattr(args, name)}
    from ..environment import select_device

    values["objective"] = args.objective or backbone_spec(args.model).default_objective
    values["mixer_options"] = mixer_options_text(args.mixer_options)
    values["attention"] = args.attention or DEFAULTS.attention
    values["device"] = select_device(args.device)  # checked before the data loads or a run folder is made
    return TrainConfig(**values)


def claim_run_dir(run_dir: Path | None, root: str = "results") -> Path:
    """Usage: claim_run_dir(path) -> the folder, created; refuses one written by a different command."""
    if run_dir is None:
        return new_run_dir(root, COMMAND)
    config_path = run_dir / "config.json"
    if config_path.exists() and read_json(config_path).get("command") != COMMAND:
        raise ValueError(f"{run_dir} holds results of another command ({read_json(config_path).get('command')}); "
                         f"choose another --run-dir")
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


def record_cell(run_dir: Path, cell: str, config: TrainConfig, dataset: dict, statistics: dict, env: dict) -> None:
    """Usage: record_cell(run_dir, cell, config, dataset, statistics, env) -> the cell's resolved settings and the
    environment its process started in (versions, git commit) go into cells/<cell>.config.json, written by this
    cell's worker alone (results.recorded_cells reads them all); config.json names the command, env.json holds the
    latest environment."""
    write_json(run_dir / "cells" / f"{cell}.config.json",
               {"train": asdict(config), "dataset": dataset, "statistics": statistics, "env": env})
    if not (run_dir / "config.json").exists():
        write_json(run_dir / "config.json", {"command": COMMAND})
    write_json(run_dir / "env.json", env)


def run_cell(run_dir: Path, config: TrainConfig, data, dataset: dict, progress: bool, env: dict,
             where: str = "") -> dict | None:
    """Usage: run_cell(...) -> the training summary, or None when the cell has already finished or another worker
    holds it (bench/runs/claims.py: two workers never train one cell). ``where``: the cell's place in its grid and
    what it varies, for the console ("[3/22] hidden=16, inner=64")."""
    label = dataset_label(data)
    cell = config.cell_id(label)
    with claimed(run_dir, cell) as holder:
        if holder is not None:
            print(f"{cell}: being trained by {holder.get('owner', 'another worker')}, skipped")
            return None
        if cell in finished_cells(run_dir):  # finished before this claim, by this or another worker
            check_same_data(run_dir, [cell], data.content_sha256())
            print(f"{cell}: already finished in {run_dir}, skipped")
            return None
        record_cell(run_dir, cell, config, dataset, data.statistics(), env)
        from .loop import train

        what = f"{config.model}, {config.attention}" if backbone_spec(config.model).mixes else config.model
        order = ", shuffled training order" if config.shuffle_train_order else ""
        print(f"{where + ' ' if where else ''}{cell}: training ({what}, N={config.max_len}, seed {config.seed}{order})")
        summary = train(config, data, run_dir, dataset=label, progress=progress)
    test = ", ".join(f"{k} {summary['test'][k]:.4f}" for k in ("hr@10", "ndcg@10", "mrr@10") if k in summary["test"])
    print(f"{cell}: {summary['status']} (best epoch {summary['best_epoch']} of {summary['epochs_run']}) "
          f"test {test or 'not evaluated'} {summary['message']}".rstrip())
    return summary


def run_train(args) -> int:
    from ..environment import environment

    config = config_from_args(args)
    data = dataset_from_args(args)
    run_dir = claim_run_dir(args.run_dir)
    summary = run_cell(run_dir, config, data, args.dataset_options, not args.no_progress, environment())
    print(f"results: {run_dir}")
    if summary is not None and summary["status"] == "diverged":
        print(f"error: training diverged: {summary['message']}", file=sys.stderr)
        return 1
    return 0
