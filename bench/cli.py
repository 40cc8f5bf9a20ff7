"""Sub-commands of ``python -m bench``: argument parsing and the run folder, nothing measured here.

Usage: see bench/__main__.py.
"""
from __future__ import annotations

import argparse


def int_at_least(text: str, minimum: int, expected: str) -> int:
    """Usage: int_at_least("3", 1, "a positive integer") -> 3; anything else raises a one-line ArgumentTypeError."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """argparse type: a positive integer, with a one-line error otherwise."""
    return int_at_least(text, 1, "a positive integer")


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0, with a one-line error otherwise."""
    return int_at_least(text, 0, "a non-negative integer")


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def add_list_command(commands) -> None:
    cmd = commands.add_parser("list", help="list every attention variant with its capabilities")
    cmd.add_argument("--device", default="cpu", help="device to report availability for (default: cpu)")
    cmd.set_defaults(run=run_list)


def run_list(args) -> int:
    import pandas as pd

    from models.attention import list_attentions

    table = pd.DataFrame(list_attentions(args.device)).set_index("name")
    with pd.option_context("display.width", 200, "display.max_colwidth", 110, "display.max_rows", None):
        print(table[["causal", "padding", "exact", "ignores_masks", "devices", "options"]].to_string())
        print()
        print(table[[c for c in table.columns if c.startswith("available_on")] + ["description"]].to_string())
    return 0


def add_microbench_command(commands) -> None:
    from .microbench import DEFAULT_VARIANTS

    cmd = commands.add_parser("microbench", help="forward+backward time and peak memory, side by side, on CPU",
                              description="Baseline micro-benchmark (see bench/microbench.py for the method).")
    cmd.add_argument("--variants", nargs="+", default=DEFAULT_VARIANTS, metavar="NAME",
                     help=f"attention names (default: {' '.join(DEFAULT_VARIANTS)})")
    cmd.add_argument("--lengths", nargs="+", type=positive_int, default=[200, 1024, 4096], metavar="T")
    cmd.add_argument("--tokens", type=positive_int, default=12800, help="token budget: B = tokens // T")
    cmd.add_argument("--heads", type=positive_int, default=8)
    cmd.add_argument("--head-dim", type=positive_int, default=16)
    cmd.add_argument("--repeats", type=positive_int, default=9, help="timed calls per cell (upper bound)")
    cmd.add_argument("--warmup", type=positive_int, default=2)
    cmd.add_argument("--max-seconds", type=positive_float, default=30.0,
                     help="stop timing a cell after this much time once it has 3 calls")
    cmd.add_argument("--no-memory", action="store_true", help="skip the memory pass")
    cmd.add_argument("--results", default="results", help="folder for the run folder (default: results)")
    cmd.set_defaults(run=run_microbench)


def run_microbench(args) -> int:
    import torch
    from tqdm import tqdm

    from models.attention import get_spec

    from .microbench import BASELINE, cell_rows, make_cells, memory_in_subprocess, ratio_table, time_side_by_side
    from .results import append_rows, environment, new_run_dir, write_json

    for name in args.variants:
        get_spec(name)  # unknown names fail here, before anything is measured
    variants = list(dict.fromkeys([BASELINE, *args.variants]))
    cells = make_cells(variants, args.lengths, args.tokens, args.heads, args.head_dim)
    run_dir = new_run_dir(args.results, "microbench")
    write_json(run_dir / "config.json", {"command": "microbench", **{k: v for k, v in vars(args).items() if k != "run"},
                                         "variants": variants})
    write_json(run_dir / "env.json", environment())
    print(f"microbench: {len(cells)} cells, {torch.get_num_threads()} threads, results in {run_dir}")

    by_length: dict[int, list] = {}
    for cell in cells:
        by_length.setdefault(cell.T, []).append(cell)
    rows = []
    for T, group in by_length.items():
        with tqdm(total=len(group) + args.repeats, desc=f"time T={T}", unit="step", leave=False) as bar:
            timing = time_side_by_side(group, args.repeats, args.warmup, args.max_seconds, progress=bar)
        for cell in tqdm(group, desc=f"memory T={T}", unit="cell", leave=False):
            memory = None if args.no_memory else memory_in_subprocess(cell)
            new = cell_rows(cell, timing[cell], memory, run_dir.name)
            append_rows(run_dir / "rows.jsonl", new)
            rows += new

    print(f"\nforward+backward median time, ms (ratio to {BASELINE}); H={args.heads}, D={args.head_dim}, fp32, CPU")
    print(ratio_table(rows, "time", "median").to_string())
    if not args.no_memory:
        print(f"\npeak memory above inputs, MiB (ratio to {BASELINE}); one fresh process per cell")
        print(ratio_table(rows, "peak_memory", "peak").to_string())
    print(f"\nrows: {run_dir / 'rows.jsonl'}")
    return 0
