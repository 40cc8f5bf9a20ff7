"""``python -m bench data``: load a dataset, print its statistics, save them as JSON; shared dataset options.

Usage:
    python -m bench data --dataset ml-100k --k-core 5            # fetch, filter, print, write data/ml-100k-stats.json
    python -m bench data --dataset inter --path my.inter --max-history 200 --stats-out stats.json
    python -m bench data --dataset synthetic --synthetic-users 10 --synthetic-mean-length 5000 \\
        --synthetic-max-length 10000
In another command: add_dataset_arguments(parser); data = dataset_from_args(args).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ..cli import non_negative_int, positive_int

SYNTHETIC_ARGUMENTS = {  # argparse destination -> make_synthetic keyword
    "synthetic_users": "num_users",
    "synthetic_items": "num_items",
    "synthetic_mean_length": "mean_length",
    "synthetic_max_length": "max_length",
    "synthetic_lengths": "length_distribution",
    "synthetic_seed": "seed",
}


def length_argument(text: str) -> float:
    """argparse type: a number >= 5 (the shortest synthetic sequence)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 5, got {text!r}") from None
    if not value >= 5:
        raise argparse.ArgumentTypeError(f"expected a number >= 5, got {text!r}")
    return value


def add_dataset_arguments(parser: argparse.ArgumentParser, *, include_seed: bool = True) -> None:
    """Usage: add_dataset_arguments(cmd) adds --dataset, --path, --data-dir, k-core, --max-history and the
    synthetic options (with --seed unless include_seed=False, for a command that has its own)."""
    from . import DATASETS

    group = parser.add_argument_group("dataset")
    group.add_argument("--dataset", choices=DATASETS, default="ml-100k", help="default: ml-100k")
    group.add_argument("--path", type=Path, default=None,
                       help="local file instead of a download (.inter, u.data, ratings.dat, Gowalla check-ins)")
    group.add_argument("--data-dir", type=Path, default=None,
                       help="download cache (default: $LINREC_BENCH_DATA or <repo>/data)")
    group.add_argument("--k-core", type=non_negative_int, default=None, metavar="K",
                       help="keep users and items with >= K interactions (repeated until stable)")
    group.add_argument("--user-k", type=non_negative_int, default=None,
                       help="keep users with >= this many interactions (overrides --k-core)")
    group.add_argument("--item-k", type=non_negative_int, default=None,
                       help="keep items with >= this many interactions (overrides --k-core)")
    group.add_argument("--max-history", type=positive_int, default=None,
                       help="keep each user's most recent items only")
    group.add_argument("--synthetic-users", type=positive_int, default=None,
                       help="synthetic: number of users (default: the generator's)")
    group.add_argument("--synthetic-items", type=positive_int, default=None,
                       help="synthetic: number of items (default: the generator's)")
    group.add_argument("--synthetic-mean-length", type=length_argument, default=None,
                       help="synthetic: mean sequence length (default: the generator's)")
    group.add_argument("--synthetic-max-length", type=positive_int, default=None,
                       help="synthetic: longest sequence (default: the generator's)")
    group.add_argument("--synthetic-lengths", choices=("lognormal", "fixed", "uniform"), default=None,
                       help="length distribution (default: lognormal)")
    if include_seed:
        group.add_argument("--seed", dest="synthetic_seed", type=int, default=None,
                           help="synthetic generator seed (default: 0)")


def dataset_options_from_args(args: argparse.Namespace) -> dict:
    """Usage: dataset_options_from_args(args) -> {"name": ..., "options": {...}} such that
    load_dataset(spec["name"], **spec["options"]) loads the same data (data_dir left out)."""
    k_core = args.k_core or 0
    options = {"user_k": args.user_k if args.user_k is not None else k_core,
               "item_k": args.item_k if args.item_k is not None else k_core,
               "max_history": args.max_history}
    if args.path is not None:
        options["path"] = str(args.path)
    given = {keyword: getattr(args, dest, None) for dest, keyword in SYNTHETIC_ARGUMENTS.items()}
    if args.dataset != "synthetic" and any(value is not None for value in given.values()):
        used = [dest for dest, keyword in SYNTHETIC_ARGUMENTS.items() if given[keyword] is not None]
        flags = ", ".join("--seed" if dest == "synthetic_seed" else "--" + dest.replace("_", "-") for dest in used)
        raise ValueError(f"{flags}: only used with --dataset synthetic, not with --dataset {args.dataset}")
    if args.dataset == "synthetic":
        options["synthetic_options"] = {k: (int(v) if k == "mean_length" and float(v).is_integer() else v)
                                        for k, v in given.items() if v is not None}
    return {"name": args.dataset, "options": options}


def dataset_from_args(args: argparse.Namespace):
    """Usage: data = dataset_from_args(args) -> SequenceData. Also sets args.dataset_options (see
    dataset_options_from_args) so the caller can record exactly what was loaded."""
    from . import load_dataset

    args.dataset_options = dataset_options_from_args(args)
    return load_dataset(args.dataset_options["name"], data_dir=args.data_dir, **args.dataset_options["options"])


def add_data_command(commands) -> None:
    """Usage: add_data_command(parser.add_subparsers()) adds ``data``."""
    cmd = commands.add_parser("data", help="load a dataset, print its statistics and save them as JSON",
                              description=__doc__.split("\n\n")[0])
    add_dataset_arguments(cmd)
    cmd.add_argument("--stats-out", type=Path, default=None,
                     help="statistics JSON (default: <data dir>/<dataset>-stats.json)")
    cmd.set_defaults(run=run_data)


def statistics_table(data):
    """Usage: statistics_table(data) -> a one-column pandas DataFrame of data.statistics(), readable numbers."""
    import pandas as pd

    stats = data.statistics()
    shown = {key: (f"{value:,}" if isinstance(value, int) else f"{value:.6g}" if key == "density" else f"{value:,.2f}")
             for key, value in stats.items()}
    return pd.DataFrame({data.name: shown})


def run_data(args: argparse.Namespace) -> int:
    """Usage: run_data(args) -> 0 after printing the statistics table and writing the statistics JSON."""
    from . import save_statistics
    from .fetch import resolve_data_dir

    data = dataset_from_args(args)
    stats_out = args.stats_out or resolve_data_dir(args.data_dir) / f"{data.name}-stats.json"
    print(statistics_table(data).to_string())
    steps = {k: v for k, v in data.preprocessing.items() if k in ("source", "user_k", "item_k", "max_history")}
    print("preprocessing: " + ", ".join(f"{k}={v}" for k, v in steps.items()))
    print(f"statistics: {save_statistics(data, stats_out)}")
    return 0
