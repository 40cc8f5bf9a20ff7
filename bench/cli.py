"""Shared pieces of the command line: argparse types with one-line errors, and ``python -m bench list``.

Usage:
    cmd.add_argument("--lengths", nargs="+", type=positive_int)     # "0" or "abc" -> "expected a positive integer"
    add_list_command(commands)                                      # python -m bench list [--device cuda]
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
    """argparse type: a number > 0, with a one-line error otherwise."""
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
