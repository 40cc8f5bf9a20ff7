"""Loading a data set by name: the file read (fetched and verified where it has a source), k-core filtered,
truncated, with a record of every step.

Usage:
    from bench.data import load_dataset     # this module, loaded when first used (bench/data/__init__.py)
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from . import DATASETS
from .archives import sha256_of
from .errors import DataFormatError
from .fetch import fetch_gowalla, fetch_ml100k, fetch_ml1m
from .formats import read_atomic_inter, read_gowalla, read_ml100k_udata, read_ml1m
from .preprocess import check_count, k_core, to_frame, to_sequences, truncate
from .sequences import SequenceData
from .synthetic import make_synthetic


FETCHERS = {"ml-100k": fetch_ml100k, "ml-1m": fetch_ml1m, "gowalla": fetch_gowalla}


def reader_for(name: str, path: Path):
    """Usage: reader_for("ml-100k", path) -> the reader of that file: .inter files are RecBole atomic files,
    other ml-100k files are GroupLens u.data."""
    if name == "inter" or path.suffix == ".inter":
        return read_atomic_inter
    return {"ml-100k": read_ml100k_udata, "ml-1m": read_ml1m, "gowalla": read_gowalla}[name]


def read_source(name: str, path: str | Path | None, data_dir: str | Path | None):
    """Usage: read_source("ml-1m", None, None) -> (DataFrame(user, item, timestamp), the file it came from)."""
    if path is None:
        if name == "inter":
            raise ValueError("dataset 'inter' needs a path to a RecBole atomic .inter file (--path)")
        path = FETCHERS[name](data_dir)
    path = Path(path)
    return reader_for(name, path)(path), path


def load_dataset(name: str, *, path: str | Path | None = None, data_dir: str | Path | None = None,
                 user_k: int = 0, item_k: int = 0, max_history: int | None = None,
                 synthetic_options: dict | None = None) -> SequenceData:
    """Usage: load_dataset("ml-100k", user_k=5, item_k=5, max_history=200) -> SequenceData.

    name: ml-100k (path: an .inter file or u.data; else fetched), ml-1m (ratings.dat), gowalla (SNAP check-ins,
    .txt or .txt.gz), inter (path required) or synthetic (synthetic_options go to make_synthetic).
    Then k-core filtering (users >= user_k, items >= item_k, repeated until stable), then each user's most
    recent max_history items. preprocessing records all of it, with the source file and its SHA-256.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; valid names: {', '.join(DATASETS)}")
    user_k, item_k = check_count("user_k", user_k), check_count("item_k", item_k)
    if name == "synthetic" and path is not None:
        raise ValueError("dataset 'synthetic' is generated: it takes no path")
    if synthetic_options and name != "synthetic":
        raise ValueError(f"synthetic_options only apply to dataset 'synthetic', not {name!r}")
    if name == "synthetic":
        data = make_synthetic(**(synthetic_options or {}))
        frame, record = to_frame(data), dict(data.preprocessing)
    else:
        frame, source = read_source(name, path, data_dir)
        record = {"source": str(source), "sha256": sha256_of(source)}
        name = source.stem if name == "inter" else name
    record.update(raw_interactions=len(frame), user_k=user_k, item_k=item_k, max_history=max_history)
    if user_k or item_k:
        frame = k_core(frame, user_k, item_k)
        if frame.empty:
            raise DataFormatError(f"{name}: k-core filtering (user_k={user_k}, item_k={item_k}) removed every "
                                  f"interaction of {record['source']}; use smaller values")
    if name == "synthetic" and not (user_k or item_k):
        data = replace(data, preprocessing=record)  # keeps every generated item index, used or not
    else:
        data = to_sequences(frame, name, source=record["source"], preprocessing=record)
    return truncate(data, max_history) if max_history is not None else data


def save_statistics(data: SequenceData, path: str | Path) -> Path:
    """Usage: save_statistics(data, "data/ml-100k-stats.json") -> path; JSON {name, statistics, preprocessing},
    written atomically."""
    from bench.results import write_json

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, {"name": data.name, "statistics": data.statistics(), "preprocessing": data.preprocessing})
    return path
