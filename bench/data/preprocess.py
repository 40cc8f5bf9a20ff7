"""Interactions -> SequenceData: deterministic id indexing, stable chronological order, k-core, truncation.

Usage:
    frame = k_core(read_atomic_inter(path), user_k=5, item_k=5)     # repeated until every count is >= k
    data = to_sequences(frame, "ml-100k", source=str(path))          # users by sorted id, items 1..N by sorted id
    data = truncate(data, max_history=200)                           # each user's 200 most recent items
Duplicates (same user, item and timestamp) are kept, as RecBole keeps them.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import DataFormatError
from .sequences import SequenceData


def sort_keys(ids: np.ndarray) -> np.ndarray:
    """Usage: sort_keys(unique_ids) -> keys: numbers when every id is an integer ("2" < "10"), else the ids as str."""
    if ids.dtype.kind in "iuf":
        return ids
    numbers = pd.to_numeric(pd.Series(ids, dtype=object), errors="coerce").to_numpy(dtype=np.float64,
                                                                                     na_value=np.nan)
    if np.isfinite(numbers).all() and (numbers == np.round(numbers)).all():
        return numbers
    return ids.astype(str)


def index_ids(values) -> tuple[np.ndarray, np.ndarray]:
    """Usage: codes, ids = index_ids(frame["user"]) -> codes 0..K-1 in sorted-id order, and the K original ids."""
    codes, uniques = pd.factorize(np.asarray(values))
    uniques = np.asarray(uniques)
    order = np.argsort(sort_keys(uniques), kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return rank[codes].astype(np.int64), uniques[order]


def require_columns(frame: pd.DataFrame, name: str) -> None:
    """Usage: require_columns(frame, "ml-1m"): columns user and item present, or a one-line DataFormatError."""
    if "user" not in frame.columns or "item" not in frame.columns:
        found = ", ".join(map(str, frame.columns))
        raise DataFormatError(f"{name}: expected columns user, item[, timestamp], found {found}")


def check_frame(frame: pd.DataFrame, name: str) -> None:
    """Usage: check_frame(frame, "ml-1m"): columns user and item present, timestamps finite, at least one row."""
    require_columns(frame, name)
    if len(frame) == 0:
        raise DataFormatError(f"{name}: expected at least one interaction, found none")
    if "timestamp" in frame.columns:
        bad = np.flatnonzero(~np.isfinite(frame["timestamp"].to_numpy(dtype=np.float64, na_value=np.nan)))
        if bad.size:
            raise DataFormatError(f"{name}: expected finite timestamps, found {frame['timestamp'].iloc[bad[0]]!r} "
                                  f"in row {bad[0]}")


def to_sequences(frame: pd.DataFrame, name: str, *, source: str | None = None,
                 preprocessing: dict | None = None) -> SequenceData:
    """Usage: to_sequences(frame, "ml-100k", source=path) -> SequenceData.

    Users in sorted-id order; items re-indexed 1..N in sorted-id order (0 = padding). Each user's items are
    sorted by (timestamp, row position): a stable tie-break, so equal timestamps keep file order. Without a
    timestamp column the file order is the order (recorded in preprocessing["order"]).
    """
    check_frame(frame, name)
    users, user_ids = index_ids(frame["user"])
    items, item_ids = index_ids(frame["item"])
    position = np.arange(len(frame))
    if "timestamp" in frame.columns:
        order = np.lexsort((position, frame["timestamp"].to_numpy(dtype=np.float64), users))
        ordering = "timestamp, ties in file order"
    else:
        order = np.lexsort((position, users))
        ordering = "file order (no timestamp)"
    counts = np.bincount(users, minlength=user_ids.size)
    offsets = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
    record = {"source": source, "order": ordering, "duplicates": "kept", **(preprocessing or {})}
    return SequenceData(name=name, num_items=int(item_ids.size), offsets=offsets, items=items[order] + 1,
                        user_ids=user_ids, item_ids=item_ids, preprocessing=record)


def to_frame(data: SequenceData) -> pd.DataFrame:
    """Usage: to_frame(data) -> DataFrame(user, item, timestamp) with original ids; timestamp = position."""
    lengths = data.lengths()
    starts = np.repeat(data.offsets[:-1], lengths)
    return pd.DataFrame({"user": np.repeat(data.user_ids, lengths), "item": data.item_ids[data.items - 1],
                         "timestamp": (np.arange(data.items.size) - starts).astype(np.float64)})


def check_count(argument: str, value) -> int:
    """Usage: check_count("user_k", 5) -> 5; a negative or non-integer value raises a one-line ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{argument}: expected a non-negative integer, found {value!r}")
    return int(value)


def k_core(frame: pd.DataFrame, user_k: int, item_k: int) -> pd.DataFrame:
    """Usage: k_core(frame, user_k=5, item_k=5) -> the rows left once every user has >= user_k and every item
    >= item_k interactions. Filtering repeats until nothing changes (removing items can push a user below k).
    Row order is kept; the index is reset.
    """
    user_k, item_k = check_count("user_k", user_k), check_count("item_k", item_k)
    require_columns(frame, "k_core")
    users, _ = pd.factorize(frame["user"])
    items, _ = pd.factorize(frame["item"])
    keep = np.ones(len(frame), dtype=bool)
    while True:
        user_counts = np.bincount(users[keep], minlength=users.max(initial=-1) + 1)
        item_counts = np.bincount(items[keep], minlength=items.max(initial=-1) + 1)
        still = keep & (user_counts[users] >= user_k) & (item_counts[items] >= item_k)
        if still.sum() == keep.sum():
            return frame[keep].reset_index(drop=True)
        keep = still


def truncate(data: SequenceData, max_history: int) -> SequenceData:
    """Usage: truncate(data, 200) -> each user's 200 most recent items. Item indexing and num_items stay as they
    were (items that no longer occur are allowed); preprocessing records max_history and how many items went unused.
    """
    if isinstance(max_history, bool) or not isinstance(max_history, (int, np.integer)) or max_history < 1:
        raise ValueError(f"max_history: expected a positive integer, found {max_history!r}")
    kept = np.minimum(data.lengths(), max_history)
    offsets = np.concatenate(([0], np.cumsum(kept))).astype(np.int64)
    first_kept = data.offsets[1:] - kept
    positions = np.repeat(first_kept - offsets[:-1], kept) + np.arange(offsets[-1])
    items = data.items[positions]
    unused = int(data.num_items - np.unique(items).size)
    record = {**data.preprocessing, "max_history": int(max_history), "items_unused_after_truncation": unused}
    return SequenceData(name=data.name, num_items=data.num_items, offsets=offsets, items=items,
                        user_ids=data.user_ids, item_ids=data.item_ids, preprocessing=record)
