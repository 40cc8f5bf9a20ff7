"""The parsers of the commands whose work lives in files that import torch or pandas at their top: ``heatmaps``,
``perf``, ``microbench`` and ``train-summary``. Each names its handler as "module:function", imported only when
the command runs (``run_handler``), so ``--help`` and argument errors answer before torch is imported.

Usage:
    add_perf_command(commands)            # python -m bench perf [--quick] ...
    run_handler(args)                     # imports args.run ("bench.perf.cli:run_perf") and calls it
"""
from __future__ import annotations

from importlib import import_module
from pathlib import Path

from .cli import add_device_argument, positive_float, positive_int
from .profile.spec import GridSpec

MICROBENCH_VARIANTS = ["linrec_official", "linrec", "linrec_causal", "dot", "sdpa"]
PROFILE_DEFAULTS = GridSpec(variants=[], lengths=[])  # microbench measures at the profile's heads and head size


def run_handler(args) -> int:
    """Usage: run_handler(args) -> the exit status of args.run: a function, or "module:function" imported now."""
    handler = args.run
    if isinstance(handler, str):
        module, name = handler.split(":")
        handler = getattr(import_module(module), name)
    return handler(args)


def add_heatmaps_command(commands) -> None:
    cmd = commands.add_parser("heatmaps", help="implicit attention matrices of trained cells, for the report",
                              description="Implicit attention matrices of a training run's cells "
                                          "(bench/heatmaps.py), written beside its rows for the report.")
    cmd.add_argument("run_dir", type=Path, help="a training run folder (rows.jsonl, config.json, checkpoints/)")
    cmd.add_argument("--user", type=int, default=None, help="user index (default: the median-length test history)")
    cmd.add_argument("--layer", type=int, default=0, help="the layer whose matrix is drawn (default: %(default)s)")
    cmd.add_argument("--head", type=int, default=0, help="the head whose matrix is drawn (default: %(default)s)")
    cmd.add_argument("--mixer", "--attention", nargs="+", default=None, metavar="NAME", dest="mixers",
                     help="only these token mixers' cells (default: every cell whose mixer has a T x T matrix)")
    cmd.add_argument("--data-dir", type=Path, default=None,
                     help="data cache folder (default: $LINREC_BENCH_DATA or <repo>/data)")
    add_device_argument(cmd)
    cmd.set_defaults(run="bench.heatmaps:run_heatmaps")


def add_perf_command(commands) -> None:
    cmd = commands.add_parser("perf", help="the LinRec performance claims, measured side by side, in one table",
                              description="The LinRec performance claims (bench/perf/checks.py), measured side "
                                          "by side: rows, the claims table and the SASRec step breakdown.")
    cmd.add_argument("--quick", action="store_true", help="5 repeats a cell, memory fit up to T=8192")
    cmd.add_argument("--no-breakdown", action="store_true", help="skip the SASRec step breakdown")
    cmd.add_argument("--no-mixers", action="store_true",
                     help="skip the token mixers' checks (fast path against naive loop, memory growth, SASRec step)")
    cmd.add_argument("--no-training", action="store_true",
                     help="skip the training epochs on ML-100K (about 4 minutes on 2 cores)")
    cmd.add_argument("--data-dir", type=Path, default=None,
                     help="where ML-100K is cached (default: $LINREC_BENCH_DATA or <repo>/data)")
    cmd.add_argument("--results", type=Path, default=Path("results"), help="parent of the new run folder")
    cmd.add_argument("--run-dir", type=Path, default=None, help="a new, empty run folder (default results/perf-*)")
    cmd.add_argument("--no-progress", action="store_true", help="no progress bar (bars show on a terminal only)")
    add_device_argument(cmd)
    cmd.set_defaults(run="bench.perf.cli:run_perf")


def add_microbench_command(commands) -> None:
    cmd = commands.add_parser("microbench", help="forward+backward time and peak memory, side by side, on CPU",
                              description="Baseline micro-benchmark (see bench/perf/microbench.py for the method).")
    cmd.add_argument("--variants", nargs="+", default=MICROBENCH_VARIANTS, metavar="NAME",
                     help=f"attention names (default: {' '.join(MICROBENCH_VARIANTS)})")
    cmd.add_argument("--lengths", nargs="+", type=positive_int, default=[200, 1024, 4096], metavar="T",
                     help="sequence lengths (default: %(default)s)")
    cmd.add_argument("--tokens", type=positive_int, default=12800, help="token budget: B = tokens // T")
    cmd.add_argument("--heads", type=positive_int, default=PROFILE_DEFAULTS.heads,
                     help="attention heads (default: %(default)s)")
    cmd.add_argument("--head-dim", type=positive_int, default=PROFILE_DEFAULTS.head_dim,
                     help="head dimension D (default: %(default)s)")
    cmd.add_argument("--repeats", type=positive_int, default=9, help="timed calls per cell (upper bound)")
    cmd.add_argument("--warmup", type=positive_int, default=2, help="untimed calls first (default: %(default)s)")
    cmd.add_argument("--max-seconds", type=positive_float, default=30.0,
                     help="stop timing a cell after this much time once it has 3 calls")
    cmd.add_argument("--no-memory", action="store_true", help="skip the memory pass")
    cmd.add_argument("--results", default="results", help="folder for the run folder (default: results)")
    cmd.set_defaults(run="bench.perf.microbench:run_microbench")


def add_train_summary_command(commands) -> None:
    cmd = commands.add_parser("train-summary", help="test metrics over seeds, epochs and time per epoch of runs")
    cmd.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR", help="training run folders")
    cmd.add_argument("--markdown", action="store_true", help="print a Markdown table")
    cmd.set_defaults(run="bench.train.summary:run_train_summary")
