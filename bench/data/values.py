"""Exact, line-numbered parsing of text columns: the slow path that finds and names the first bad value.

Usage:
    users = parse_numbers(path, lines.numbers, table[0], "UserID", integer=True)   # int64, or DataFormatError
    times = iso_utc_seconds(path, data, begin, end, lines.numbers, "check-in time")  # unix seconds, from bytes
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .errors import DataFormatError

ISO_UTC_EXAMPLE = "2010-10-19T23:55:27Z"
ISO_UTC_LITERALS = {4: "-", 7: "-", 10: "T", 13: ":", 16: ":", 19: "Z"}
ISO_UTC_PLACEHOLDER = {"year": 1970, "month": 1, "day": 1, "hour": 0, "minute": 0, "second": 0}
ISO_UTC_NUMBERS = {"year": (0, 4), "month": (5, 2), "day": (8, 2), "hour": (11, 2), "minute": (14, 2),
                   "second": (17, 2)}


def first_bad(path: Path, numbers: np.ndarray, bad: np.ndarray, expected: str, found) -> None:
    """Usage: first_bad(path, numbers, bad_mask, "an integer for X", lambda i: value_i): raises for the first bad."""
    if bad.any():
        index = np.flatnonzero(bad)[0]
        raise DataFormatError(f"{path}:{numbers[index]}: expected {expected}, found {found(index)!r}")


def parse_numbers(path: Path, numbers: np.ndarray, values: pd.Series, column: str, integer: bool = False
                  ) -> np.ndarray:
    """Usage: parse_numbers(path, lines.numbers, table[3], "timestamp") -> float64 (int64 if integer) array."""
    parsed = pd.to_numeric(values, errors="coerce")
    as_float = parsed.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(as_float)
    if integer:
        bad |= np.where(bad, False, (as_float != np.round(as_float)) | (np.abs(as_float) >= 2.0 ** 63))
    kind = "an integer" if integer else "a finite number"
    first_bad(path, numbers, bad, f"{kind} for {column}", lambda index: values.iloc[index])
    return parsed.to_numpy().astype(np.int64) if integer else as_float


def parse_integers(path: Path, numbers: np.ndarray, values: pd.Series, column: str) -> np.ndarray:
    """Usage: parse_integers(path, lines.numbers, table[0], "UserID") -> int64 array."""
    return parse_numbers(path, numbers, values, column, integer=True)


def parse_tokens(path: Path, numbers: np.ndarray, values: pd.Series, column: str) -> np.ndarray:
    """Usage: parse_tokens(path, lines.numbers, table[0], "user_id") -> object array of non-empty strings."""
    empty = (values == "").to_numpy()
    first_bad(path, numbers, empty, f"a non-empty {column} token", lambda index: values.iloc[index])
    return values.to_numpy(dtype=object)


def parse_blanks(path: Path, numbers: np.ndarray, values: pd.Series, column: str) -> np.ndarray:
    """Usage: parse_blanks(path, lines.numbers, table[1], "'::' between fields") -> NaNs; a non-empty value raises."""
    first_bad(path, numbers, (values != "").to_numpy(), column, lambda index: values.iloc[index])
    return np.full(len(values), np.nan)


TEXT_PARSERS = {"int": parse_integers, "float": parse_numbers, "token": parse_tokens, "blank": parse_blanks}


def iso_utc_seconds(path: Path, data: bytes, begin: np.ndarray, end: np.ndarray, numbers: np.ndarray,
                    column: str) -> np.ndarray:
    """Usage: iso_utc_seconds(path, data, begin, end, lines.numbers, "check-in time") -> unix seconds (float64).

    Each field data[begin:end] must be YYYY-MM-DDTHH:MM:SSZ; parsed straight from the bytes, vectorised.
    """
    raw = np.frombuffer(data, dtype=np.uint8)
    bad = (end - begin) != len(ISO_UTC_EXAMPLE)
    at = np.where(bad, 0, begin)

    def char(offset: int) -> np.ndarray:
        return raw[np.minimum(at + offset, raw.size - 1)]

    for offset, literal in ISO_UTC_LITERALS.items():
        bad |= char(offset) != ord(literal)
    parts = {}
    for name, (offset, width) in ISO_UTC_NUMBERS.items():
        digits = np.stack([char(offset + k).astype(np.int64) - ord("0") for k in range(width)])
        bad |= ((digits < 0) | (digits > 9)).any(axis=0)
        parts[name] = (digits * 10 ** np.arange(width - 1, -1, -1)[:, None]).sum(axis=0)
    safe = pd.DataFrame({name: np.where(bad, ISO_UTC_PLACEHOLDER[name], value) for name, value in parts.items()})
    times = pd.to_datetime(safe, errors="coerce")
    bad |= times.isna().to_numpy()
    first_bad(path, numbers, bad, f"{column} like {ISO_UTC_EXAMPLE}",
              lambda i: data[begin[i]:end[i]].decode("utf-8", "replace"))
    return ((times - pd.Timestamp(0)) / pd.Timedelta(seconds=1)).to_numpy(dtype=np.float64)
