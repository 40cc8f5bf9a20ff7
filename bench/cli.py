"""Shared pieces of the command line: argparse types with one-line errors, and ``python -m bench list``.

Usage:
    cmd.add_argument("--lengths", nargs="+", type=positive_int)     # "0" or "abc" -> "expected a positive integer"
    add_list_command(commands)                                      # python -m bench list [--device cuda]
"""
from __future__ import annotations

import argparse
import math
import re
import sys


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


def float_at_least(text: str, minimum: float, expected: str, strict: bool = False) -> float:
    """Usage: float_at_least("0.5", 0, "a positive number", strict=True) -> 0.5; inf, nan and anything below
    ``minimum`` (or equal to it, ``strict``) raise a one-line ArgumentTypeError."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if not math.isfinite(value) or value < minimum or (strict and value == minimum):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0, with a one-line error otherwise."""
    return float_at_least(text, 0.0, "a positive finite number", strict=True)


def non_negative_float(text: str) -> float:
    """argparse type: a finite number >= 0, with a one-line error otherwise."""
    return float_at_least(text, 0.0, "a finite number >= 0")


def show_progress(wanted: bool = True) -> bool:
    """Usage: tqdm(..., disable=not show_progress(wanted)): bars only on a terminal; a log file gets the one line per
    epoch or cell the commands print, not thousands of carriage returns."""
    return wanted and sys.stderr.isatty()


def add_device_argument(cmd, default: str = "auto") -> None:
    """Usage: add_device_argument(cmd): ``--device auto|cpu|cuda|cuda:N`` (auto: CUDA where there is a GPU),
    checked against the machine when the command runs (environment.select_device: one line, exit 2)."""
    cmd.add_argument("--device", default=default, metavar="DEVICE",
                     help="auto (CUDA where torch sees a GPU, else the CPU), cpu, cuda or cuda:N "
                          "(default: %(default)s)")


def add_mixer_argument(cmd, default: str | None = None) -> None:
    """Usage: add_mixer_argument(cmd, default="dot"): ``--mixer NAME`` or its older spelling ``--attention NAME``
    (not both), into ``args.attention``; None when neither is given (the caller applies ``default``, so that
    argparse can tell "not given" from "given the default")."""
    group = cmd.add_mutually_exclusive_group()
    group.add_argument("--mixer", dest="attention", metavar="NAME",
                       help="token mixer: any attention, or mamba, lru, gla, retnet, hstu, gru (python -m bench "
                            f"list shows them all){f' (default: {default})' if default else ''}")
    group.add_argument("--attention", dest="attention", metavar="NAME",
                       help="the same as --mixer (every attention is a mixer)")


def add_list_command(commands) -> None:
    cmd = commands.add_parser("list", help="list every attention variant and token mixer with its capabilities")
    cmd.add_argument("--device", default="cpu", help="device to report availability for (default: cpu)")
    cmd.add_argument("--brief", action="store_true", help="one line: how many variants, which cannot run here and why")
    cmd.set_defaults(run=run_list)


def brief_listing(table, device: str) -> str:
    """Usage: brief_listing(list table, "cpu") -> "30 attention variants; 5 unavailable on cpu: linrec_triton,
    linrec_causal_triton (Triton kernels run on CUDA tensors, ...); ...": names sharing a reason share it, each
    reason cut to its first clause (``bench list`` gives them whole)."""
    reasons = table[f"available_on_{device.split(':')[0]}"]
    missing = reasons[reasons != "yes"]
    grouped: dict[str, list[str]] = {}
    for name, why in missing.items():
        short = re.split(r" \(|; ", str(why).removeprefix("no: "), maxsplit=1)[0]
        grouped.setdefault(short, []).append(name)
    names = "; ".join(f"{', '.join(group)} ({why})" for why, group in grouped.items())
    return (f"{len(table)} attention variants ('python -m bench list' lists them with every reason in full); "
            + (f"{len(missing)} unavailable on {device}: {names}" if len(missing) else f"all available on {device}"))


def run_list(args) -> int:
    import pandas as pd

    from models.attention import list_attentions

    from .environment import check_device

    check_device(args.device, present=False)  # listing what CUDA could run needs no GPU
    table = pd.DataFrame(list_attentions(args.device)).set_index("name")
    if args.brief:
        print(brief_listing(table, args.device))
        return 0
    mixers = pd.DataFrame(mixer_rows(args.device)).set_index("mixer")
    with pd.option_context("display.width", 200, "display.max_colwidth", 110, "display.max_rows", None):
        print(table[["causal", "padding", "exact", "ignores_masks", "devices", "options"]].to_string())
        print()
        print(table[[c for c in table.columns if c.startswith("available_on")] + ["description"]].to_string())
        print()
        print(f"token mixers (every attention is one, inside its query/key/value projections); parameters of one "
              f"layer at d={LIST_HIDDEN}, {LIST_HEADS} heads, N={LIST_MAX_LEN}:")
        print(mixers.drop(columns="description").to_string())
        print()
        print(mixers.loc[mixers["family"] != "attention", ["description"]].to_string())
    return 0


LIST_HIDDEN, LIST_HEADS, LIST_MAX_LEN = 64, 2, 50  # the reference cells' size, for the parameter counts


def mixer_rows(device: str) -> list[dict]:
    """Usage: pandas.DataFrame(mixer_rows("cpu")) -> one row per token mixer: family, direction, state, matrix,
    trainable parameters of one layer (the block's projections included, the LayerNorm not), paths, availability."""
    from models.backbones.blocks import MixerBlock, token_mixer_block
    from models.mixers import get_mixer_spec, mixer_names, mixer_unavailable_reason

    rows = []
    for name in mixer_names():
        spec = get_mixer_spec(name)
        reason = mixer_unavailable_reason(name, device)
        block = token_mixer_block(name, LIST_HIDDEN, LIST_HEADS, 0.0, LIST_MAX_LEN, seed=0)
        counted = block.mixer if isinstance(block, MixerBlock) else block
        params = sum(p.numel() for n, p in counted.named_parameters() if p.requires_grad and not n.startswith("norm."))
        rows.append({"mixer": name, "family": spec.family,
                     "direction": "both" if spec.causal and spec.bidirectional else
                     ("causal only" if spec.causal else "bidirectional only"),
                     "state_per_layer": spec.state, "matrix": "yes" if spec.matrix else "no", "parameters": params,
                     "paths": ", ".join(spec.paths) or "-", "block": spec.paper_block or "-",
                     "available": "yes" if reason is None else "no (see above)" if spec.attention else f"no: {reason}",
                     "description": spec.description})
    return rows
