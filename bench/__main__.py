"""LinRec-Bench command line.

Usage:
    python -m bench list [--device cpu]          # every attention variant: description, capabilities, availability
    python -m bench microbench [--lengths ...]   # baseline forward+backward time and memory table (perf/microbench.py)
    python -m bench profile --attention dot linrec --lengths 512 1024   # time and peak memory per cell (profile/)
    python -m bench data --dataset ml-100k --k-core 5          # fetch, preprocess, print and save statistics
    python -m bench train --model sasrec --attention linrec    # train and evaluate one model (train/)
    python -m bench train-grid reference-ml100k                # a named grid of training cells, resumable
    python -m bench train-grid smoke --executor local --workers 2   # ... by a pool of workers, or --executor submitit
    python -m bench train-summary results/reference-ml100k     # test metrics over seeds, epochs, time per epoch
    python -m bench perf [--quick]                             # the LinRec performance claims, side by side (perf/)
    python -m bench heatmaps results/my-run                    # attention matrices of trained cells, for reports
    python -m bench run-all [--quick | --full]                 # the main job: every stage, resumable (run_all.sh)
    python -m bench device-check [--budget-s 540]              # validate a GPU: every GPU path once (device/)
    python -m bench status results/smoke                       # cells finished, running, failed, left; time left
"""
from __future__ import annotations

import argparse
import sys

from . import shadowing_models

if shadowing_models():  # before anything imports models: one line, not an ImportError deep in the zoo
    print(f"error: {shadowing_models()}", file=sys.stderr)
    sys.exit(2)

# Every file below imports no torch or pandas at its top: the work is imported when a command runs, so --help and
# argument errors answer at once (tests/test_cli_startup.py).
from . import environment  # noqa: E402
from .cli import add_list_command  # noqa: E402
from .commands import (add_heatmaps_command, add_microbench_command, add_perf_command,  # noqa: E402
                       add_train_summary_command, run_handler)
from .data.cli import add_data_command  # noqa: E402
from .device.cli import add_device_check_command  # noqa: E402
from .profile.cli import add_profile_command  # noqa: E402
from .run_all import add_run_all_command  # noqa: E402
from .runs.status import add_status_command  # noqa: E402
from .train.cli import add_train_command  # noqa: E402
from .train.grid import add_train_cell_command, add_train_grid_command  # noqa: E402


def build_parser(prog: str = "python -m bench") -> argparse.ArgumentParser:
    """Usage: build_parser().parse_args(["list"]) -> every command's parser, each with help for every option."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0],
                                     epilog="linrec-bench also has: report RUN... (python -m reports build)"
                                     if prog == "linrec-bench" else None)
    parser.add_argument("--plugin", metavar="MODULE", action="append",
                        help="import a plug-in module that registers attentions or mixers first; anywhere on the "
                             "line, repeatable; child processes load it too (models/plugins.py)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_list_command(commands)
    add_microbench_command(commands)
    add_profile_command(commands)
    add_data_command(commands)
    add_train_command(commands)
    add_train_grid_command(commands)
    add_train_cell_command(commands)
    add_train_summary_command(commands)
    add_perf_command(commands)
    add_heatmaps_command(commands)
    add_run_all_command(commands, run_bench=main)  # run-all runs the other commands in this process
    add_device_check_command(commands)
    add_status_command(commands)
    return parser


def plugin_arguments(argv: list[str]) -> tuple[list[str], list[str]]:
    """Usage: plugin_arguments(["train", "--plugin", "pkg.mod", "--attention", "mine"]) -> (["pkg.mod"],
    ["train", "--attention", "mine"]): ``--plugin MODULE`` (or ``--plugin=MODULE``) anywhere on the line, taken
    out before the commands parse theirs, so every command accepts it."""
    modules, rest, items = [], [], iter(argv)
    for item in items:
        if item == "--plugin":
            module = next(items, None)
            if module is None or module.startswith("-"):
                raise ValueError("--plugin needs a module name (for example --plugin my_package.attention)")
            modules.append(module)
        elif item.startswith("--plugin="):
            modules.append(item.split("=", 1)[1])
        else:
            rest.append(item)
    return modules, rest


def main(argv=None, prog: str = "python -m bench") -> int:
    """Usage: main(["profile", "--attention", "linrec", "--lengths", "512"]) -> the command's exit status; bad
    input is one line on stderr and status 2, Ctrl-C status 130. Plug-ins (entry points, $LINREC_BENCH_PLUGINS,
    ``--plugin MODULE`` anywhere on the line) are loaded first: models/plugins.py."""
    from models.plugins import load_plugins

    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        modules, rest = plugin_arguments(argv)
        load_plugins(modules)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    parser = build_parser(prog)
    args = parser.parse_args(rest)
    environment.COMMAND_LINE[:] = argv  # env.json: how a run was made
    try:
        return run_handler(args)
    except (ValueError, OSError) as err:  # bad input: one line, no traceback
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: rows written so far are kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
