"""Datasets as chronological item sequences: real files (verified downloads) or a synthetic generator.

Usage:
    from bench.data import load_dataset
    data = load_dataset("ml-100k", user_k=5, item_k=5)           # fetched and verified once, cached in data/
    data = load_dataset("ml-1m", path="ml-1m/ratings.dat", max_history=200)
    data = load_dataset("inter", path="my.inter")                 # any RecBole atomic .inter file
    data = load_dataset("synthetic", synthetic_options={"num_users": 100, "mean_length": 1000, "max_length": 4000})
    save_statistics(data, "data/ml-100k-stats.json")
"""
from __future__ import annotations

DATASETS = ("ml-100k", "ml-1m", "gowalla", "inter", "synthetic")

# Everything else loads on first use, so that a command's parser (bench/data/cli.py) can import DATASETS without
# pandas: ``python -m bench <command> --help`` answers at once.
LAZY = {"DataFormatError": "errors", "DownloadError": "errors", "SequenceData": "sequences",
        "make_synthetic": "synthetic", "load_dataset": "loading", "save_statistics": "loading"}
__all__ = ["DATASETS", *LAZY]


def __getattr__(name: str):
    """Usage: bench.data.load_dataset: the name's module imported when first asked for (PEP 562)."""
    if name not in LAZY:
        raise AttributeError(f"module 'bench.data' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f".{LAZY[name]}", __name__), name)
