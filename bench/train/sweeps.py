"""Sweeps as files: a TOML file of training cells, run by ``python -m bench train-grid path/to/sweep.toml``.

Usage:
    cells = load_sweep("my-sweep.toml")   # [(dataset spec, TrainConfig), ...], as a named grid gives them

The format (every key optional but ``data`` and one of ``axes`` / ``group``):

    seeds = [0, 1, 2]             # each group's cells for seed after seed (default [0])
    [data]                        # the data set: its name and load options, as `python -m bench data` takes them
    name = "ml-100k"
    user_k = 5
    item_k = 5
    [base]                        # TrainConfig fields every cell starts from (bench/train/config.py)
    max_len = 50
    [axes]                        # one group, when there is no [[group]]: each key a non-empty list of values
    attention = ["dot", "linrec"]
    combine = "product"           # every combination (default), or "zip": the lists in step
    [[group]]                     # or several groups, run in order: each with its own set / axes / combine / seeds
    set = {model = "pop", attention = "dot"}

Cells run group after group; within a group seed after seed, then the axes' combinations in order, so a sweep cut
short still has every variant on its first seed. Each cell's id is its TrainConfig's (config.py), so a file that
lists a named grid's cells gives the same ids. Every mistake (an unknown key, a wrong type, an empty axis, an
unknown variant or data set) is one line naming the file, the key and what is valid.
"""
from __future__ import annotations

import itertools
import tomllib
from dataclasses import fields, replace
from pathlib import Path

from .config import TrainConfig

TOP_KEYS = ("seeds", "data", "base", "axes", "group")
GROUP_KEYS = ("set", "axes", "seeds")
COMBINE = ("product", "zip")
DATA_OPTIONS = {"user_k": int, "item_k": int, "max_history": int, "path": str, "synthetic_options": dict}
TYPES = {f.name: type(f.default) for f in fields(TrainConfig)}


class SweepError(ValueError):
    """A sweep file that cannot give cells: one line naming the file, the key and what is valid."""


def read_toml(path: Path) -> dict:
    """Usage: read_toml(Path("s.toml")) -> its table; a missing file or bad TOML is one SweepError line."""
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise SweepError(f"{path}: no such sweep file") from None
    except tomllib.TOMLDecodeError as err:
        raise SweepError(f"{path}: not valid TOML: {err}") from None


def check_keys(path: Path, where: str, table: dict, valid) -> None:
    unknown = [key for key in table if key not in valid]
    if unknown:
        raise SweepError(f"{path}: unknown key {where + unknown[0]!r}; valid: {', '.join(valid)}")


def setting(path: Path, key: str, value):
    """Usage: setting(path, "base.lr", 1) -> 1.0: a TrainConfig field's value, checked against its type."""
    name = key.rsplit(".", 1)[-1]
    if name not in TYPES:
        raise SweepError(f"{path}: unknown setting {key!r}; valid: {', '.join(TYPES)}")
    wanted = TYPES[name]
    if wanted is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)  # lr = 1 means 1.0, and hashes as the float it is
    if type(value) is not wanted:
        raise SweepError(f"{path}: {key} must be {wanted.__name__}, got {type(value).__name__} {value!r}")
    return value


def check_variant(path: Path, key: str, value: str) -> None:
    from models.mixers import mixer_names

    if value not in mixer_names():
        raise SweepError(f"{path}: {key} = {value!r} is not a registered attention or mixer; valid: "
                         f"{', '.join(mixer_names())}")


def settings(path: Path, where: str, table) -> dict:
    """Usage: settings(path, "base", {"max_len": 50}) -> the checked TrainConfig fields of a table."""
    if not isinstance(table, dict):
        raise SweepError(f"{path}: {where} must be a table of settings, got {type(table).__name__}")
    out = {key: setting(path, f"{where}.{key}", value) for key, value in table.items()}
    if "attention" in out:
        check_variant(path, f"{where}.attention", out["attention"])
    return out


def seeds_of(path: Path, where: str, value) -> list[int]:
    if not isinstance(value, list) or not value or not all(type(s) is int and s >= 0 for s in value):
        raise SweepError(f"{path}: {where} must be a non-empty list of seeds (integers >= 0), got {value!r}")
    return value


def combinations(path: Path, where: str, axes) -> list[dict]:
    """Usage: combinations(path, "axes", {"attention": ["dot", "linrec"], "combine": "zip"}) -> [settings, ...]."""
    if not isinstance(axes, dict):
        raise SweepError(f"{path}: {where} must be a table of lists, got {type(axes).__name__}")
    axes = dict(axes)
    combine = axes.pop("combine", "product")
    if combine not in COMBINE:
        raise SweepError(f"{path}: {where}.combine = {combine!r}; valid: {', '.join(COMBINE)}")
    for key, values in axes.items():
        if not isinstance(values, list) or not values:
            raise SweepError(f"{path}: {where}.{key} must be a non-empty list of values, got {values!r}")
        axes[key] = [setting(path, f"{where}.{key}", value) for value in values]
        if key == "attention":
            for value in axes[key]:
                check_variant(path, f"{where}.attention", value)
    if combine == "zip" and len({len(v) for v in axes.values()}) > 1:
        sizes = ", ".join(f"{k}: {len(v)}" for k, v in axes.items())
        raise SweepError(f"{path}: {where} combine = \"zip\" needs lists of one length, got {sizes}")
    rows = zip(*axes.values()) if combine == "zip" else itertools.product(*axes.values())
    return [dict(zip(axes, row)) for row in rows]


def dataset_spec(path: Path, data) -> dict:
    """Usage: dataset_spec(path, {"name": "ml-100k", "user_k": 5}) -> {"name": ..., "options": {...}}."""
    from ..data import DATASETS

    if not isinstance(data, dict) or "name" not in data:
        raise SweepError(f"{path}: [data] must name the data set (name = \"ml-100k\"; valid: {', '.join(DATASETS)})")
    if data["name"] not in DATASETS:
        raise SweepError(f"{path}: data.name = {data['name']!r}; valid: {', '.join(DATASETS)}")
    options = {key: value for key, value in data.items() if key != "name"}
    check_keys(path, "data.", options, DATA_OPTIONS)
    for key, value in options.items():
        if not isinstance(value, DATA_OPTIONS[key]) or isinstance(value, bool):
            raise SweepError(f"{path}: data.{key} must be {DATA_OPTIONS[key].__name__}, got {value!r}")
    return {"name": data["name"], "options": options}


def load_sweep(path) -> list[tuple[dict, TrainConfig]]:
    """Usage: see module docstring."""
    path = Path(path)
    table = read_toml(path)
    check_keys(path, "", table, TOP_KEYS)
    if "data" not in table:
        raise SweepError(f"{path}: no [data] table: name the data set (name = \"ml-100k\")")
    data = dataset_spec(path, table["data"])
    base = replace(TrainConfig(), **settings(path, "base", table.get("base", {})))
    seeds = seeds_of(path, "seeds", table.get("seeds", [0]))
    if "axes" in table and "group" in table:
        raise SweepError(f"{path}: give either [axes] (one group) or [[group]] tables, not both")
    groups = table.get("group", [{"axes": table["axes"]}] if "axes" in table else None)
    if not isinstance(groups, list) or not groups:
        raise SweepError(f"{path}: no cells: add [axes] or at least one [[group]]")
    cells = []
    for i, group in enumerate(groups):
        where = f"group[{i}]"
        if not isinstance(group, dict):
            raise SweepError(f"{path}: {where} must be a table")
        check_keys(path, f"{where}.", group, GROUP_KEYS)
        fixed = settings(path, f"{where}.set", group.get("set", {}))
        combos = combinations(path, f"{where}.axes", group["axes"]) if "axes" in group else [{}]
        for seed in seeds_of(path, f"{where}.seeds", group.get("seeds", seeds)):
            cells += [replace(base, **{"seed": seed, **fixed, **combo}) for combo in combos]
    return [(data, config) for config in dict.fromkeys(cells)]  # a cell listed twice runs once
