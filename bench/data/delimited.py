"""Delimited text files read with pandas' C parser and checked per line, every error naming file and line.

Usage:
    data = read_bytes(path, "ratings")                         # .gz aware; missing/empty/not UTF-8 -> DataFormatError
    lines = scan_lines(data, b"\\t", first_line=2)              # non-blank lines from line 2: numbers, field counts
    require_fields(path, lines, 4, "tabs")                     # the first line with another count -> DataFormatError
    columns = parse_columns(path, data, "\\t", 4, lines, {0: ("user id", "int"), 3: ("timestamp", "float")})
Numbers are parsed by the C parser; only when something is wrong is the file parsed again as text, to report
the first bad line and its value (see values.py).
"""
from __future__ import annotations

import csv
import gzip
import io
import zlib
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from .errors import DataFormatError
from .values import TEXT_PARSERS

NEWLINE, CARRIAGE_RETURN = 10, 13
NUMERIC_KINDS = ("int", "float", "blank")   # "blank": a field that must be empty (read as NaN)


class Lines(NamedTuple):
    numbers: np.ndarray     # (L,) 1-based line numbers of the non-blank lines at or after first_line
    fields: np.ndarray      # (L,) fields on each of those lines (separators + 1)
    starts: np.ndarray      # (L,) byte offset where each of those lines starts
    keep: np.ndarray        # (P,) bool over every physical line at or after first_line: True = not blank
    separators: np.ndarray  # byte offsets of every separator in the file


def read_bytes(path: str | Path, what: str) -> bytes:
    """Usage: read_bytes(path, "ML-1M ratings") -> file bytes (gunzipped for .gz), checked non-empty UTF-8."""
    path = Path(path)
    if not path.exists():
        raise DataFormatError(f"{path}: no such file (expected {what})")
    if not path.is_file():
        raise DataFormatError(f"{path}: not a file (expected {what})")
    try:
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, zlib.error) as err:
        raise DataFormatError(f"{path}: cannot read it ({err})") from None
    data = data.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte-order mark (spreadsheet exports) is not data
    if not data.strip():
        raise DataFormatError(f"{path}: expected {what}, found an empty file")
    check_utf8(path, data)
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise DataFormatError(f"{path}:{line}: expected text, found a NUL byte")
    return data


def check_utf8(path: Path, data: bytes) -> None:
    """Usage: check_utf8(path, data). Decodes only when a non-ASCII byte is present (real data files are ASCII)."""
    if not (np.frombuffer(data, dtype=np.uint8) >= 128).any():
        return
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise DataFormatError(f"{path}:{line}: expected UTF-8 text, found the byte 0x{data[err.start]:02x}") from None


def scan_lines(data: bytes, separator: bytes, first_line: int = 1) -> Lines:
    """Usage: scan_lines(data, b"\\t") -> Lines. Vectorised over bytes; a blank line is empty (or only '\\r')."""
    raw = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(raw == NEWLINE)
    if raw.size and raw[-1] != NEWLINE:
        ends = np.append(ends, raw.size)
    starts = np.concatenate(([0], ends[:-1] + 1))
    has_cr = (ends > starts) & (raw[np.maximum(ends - 1, 0)] == CARRIAGE_RETURN)
    content_ends = ends - has_cr
    separators = np.flatnonzero(raw == separator[0])
    fields = np.searchsorted(separators, content_ends) - np.searchsorted(separators, starts) + 1
    numbers = np.arange(1, ends.size + 1)
    keep = (content_ends > starts)[first_line - 1:]
    rest = slice(first_line - 1, None)
    return Lines(numbers[rest][keep], fields[rest][keep], starts[rest][keep], keep, separators)


def require_fields(path: Path, lines: Lines, expected: int, separator: str, fields: np.ndarray | None = None) -> None:
    """Usage: require_fields(path, lines, 4, "tabs"): the first line with another field count -> DataFormatError.
    `fields` replaces lines.fields when a separator is longer than one byte (ML-1M's '::')."""
    fields = lines.fields if fields is None else fields
    bad = np.flatnonzero(fields != expected)
    if bad.size:
        first = bad[0]
        raise DataFormatError(f"{path}:{lines.numbers[first]}: expected {expected} fields separated by {separator}, "
                              f"found {fields[first]}")


def field_bounds(lines: Lines, field: int) -> tuple[np.ndarray, np.ndarray]:
    """Usage: begin, end = field_bounds(lines, 1) -> byte range of field 1 on every line (not the last field)."""
    first = np.searchsorted(lines.separators, lines.starts)
    begin = lines.starts if field == 0 else lines.separators[first + field - 1] + 1
    return begin, lines.separators[first + field]


def read_table(path: Path, data: bytes, separator: str, field_count: int, lines: Lines, first_line: int,
               dtypes: dict) -> pd.DataFrame:
    """Usage: read_table(path, data, "\\t", 4, lines, 1, {0: str}) -> the kept (non-blank) rows of those columns.
    All-str dtypes read the text as it is; otherwise an empty field is NaN (and a bad number a ValueError)."""
    as_text = all(dtype is str for dtype in dtypes.values())   # text: "" stays ""; otherwise only "" is NaN
    missing = {"na_filter": False} if as_text else {"keep_default_na": False, "na_values": [""]}
    table = pd.read_csv(io.BytesIO(data), sep=separator, header=None, names=list(range(field_count)),
                        usecols=list(dtypes), dtype=dtypes, **missing,
                        quoting=csv.QUOTE_NONE, skip_blank_lines=False, engine="c", skiprows=first_line - 1,
                        encoding="utf-8")
    if len(table) != lines.keep.size:
        raise DataFormatError(f"{path}: expected lines ending in '\\n' or '\\r\\n', found {len(table)} rows "
                              f"for {lines.keep.size} lines (stray '\\r' line endings?)")
    return table[lines.keep].reset_index(drop=True)


class Recheck(Exception):
    """A fast-path value failed its check: parse again as text to report the line."""


def fast_column(values: pd.Series, kind: str) -> np.ndarray:
    """Usage: fast_column(table[0], "int") -> checked array; raises Recheck when any value is not acceptable."""
    if kind == "token":
        array = values.to_numpy(dtype=object)
        if values.isna().any():   # "" is read as NaN
            raise Recheck
        return array
    array = values.to_numpy(dtype=np.float64)
    if kind == "blank":
        if not np.isnan(array).all():
            raise Recheck
        return array
    if not np.isfinite(array).all():
        raise Recheck
    if kind == "int" and ((array != np.round(array)).any() or (np.abs(array) >= 2.0 ** 53).any()):
        raise Recheck   # not an integer, or too large for a float to hold exactly: the text path decides
    return array.astype(np.int64) if kind == "int" else array


def parse_columns(path: Path, data: bytes, separator: str, field_count: int, lines: Lines,
                  columns: dict[int, tuple[str, str]], first_line: int = 1) -> dict[int, np.ndarray]:
    """Usage: parse_columns(path, data, "\\t", 4, lines, {0: ("user id", "int")}) -> {0: int64 array}.

    kinds: "int", "float" (finite), "token" (non-empty str), "blank" (must be empty). Rows are the kept lines.
    """
    dtypes = {index: (object if kind == "token" else np.float64) for index, (_, kind) in columns.items()}
    try:
        table = read_table(path, data, separator, field_count, lines, first_line, dtypes)
        return {index: fast_column(table[index], kind) for index, (_, kind) in columns.items()}
    except DataFormatError:
        raise
    except (Recheck, ValueError):
        pass  # something is wrong: parse again as text to find and name the first bad value
    text = read_table(path, data, separator, field_count, lines, first_line, {index: str for index in columns})
    return {index: TEXT_PARSERS[kind](path, lines.numbers, text[index], name)
            for index, (name, kind) in columns.items()}
