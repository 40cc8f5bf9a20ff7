"""Readers for the real interaction file formats; each returns DataFrame(user, item, timestamp) with original ids.

Usage:
    frame = read_atomic_inter("ml-100k.inter")           # RecBole atomic file: ids are str tokens
    frame = read_ml1m("ml-1m/ratings.dat")                # UserID::MovieID::Rating::Timestamp, int ids
    frame = read_ml100k_udata("ml-100k/u.data")           # user<TAB>item<TAB>rating<TAB>timestamp, int ids
    frame = read_gowalla("loc-gowalla_totalCheckins.txt.gz")  # user, ISO time, lat, lon, location id
Every bad file raises DataFormatError with one line: file, 1-based line number, what was expected and found.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .delimited import field_bounds, parse_columns, read_bytes, require_fields, scan_lines
from .errors import DataFormatError
from .values import iso_utc_seconds

__all__ = ["DataFormatError", "INTER_TYPES", "read_atomic_inter", "read_gowalla", "read_ml100k_udata", "read_ml1m"]

INTER_TYPES = ("token", "float", "token_seq", "float_seq")
REQUIRED_INTER_COLUMNS = {"user_id": "token", "item_id": "token"}
OPTIONAL_INTER_COLUMNS = {"timestamp": "float"}


def interactions(user: np.ndarray, item: np.ndarray, timestamp: np.ndarray | None) -> pd.DataFrame:
    """Usage: interactions(users, items, times) -> DataFrame(user, item[, timestamp]) in file order."""
    columns = {"user": user, "item": item}
    if timestamp is not None:
        columns["timestamp"] = np.asarray(timestamp, dtype=np.float64)
    return pd.DataFrame(columns)


def parse_inter_header(path: Path, data: bytes) -> dict[str, tuple[int, str]]:
    """Usage: parse_inter_header(path, data) -> {name: (column index, type)}; checks the required columns."""
    end = data.find(b"\n")
    line = data[:end if end >= 0 else len(data)].decode("utf-8").rstrip("\r")
    if not line.strip():
        raise DataFormatError(f"{path}:1: expected a header of name:type fields such as user_id:token, "
                              "found an empty line")
    header: dict[str, tuple[int, str]] = {}
    for index, field in enumerate(line.split("\t")):
        name, colon, kind = field.partition(":")
        if not colon or not name or kind not in INTER_TYPES:
            raise DataFormatError(f"{path}:1: expected tab-separated name:type header fields with a type in "
                                  f"{', '.join(INTER_TYPES)}, found {field!r}")
        if name in header:
            raise DataFormatError(f"{path}:1: expected each column once in the header, found {name!r} twice")
        header[name] = (index, kind)
    check_inter_columns(path, header)
    return header


def check_inter_columns(path: Path, header: dict[str, tuple[int, str]]) -> None:
    """Usage: check_inter_columns(path, header). user_id:token and item_id:token required, timestamp:float optional."""
    found = ", ".join(f"{name}:{kind}" for name, (_, kind) in header.items())
    missing = [f"{name}:{kind}" for name, kind in REQUIRED_INTER_COLUMNS.items() if name not in header]
    if missing:
        raise DataFormatError(f"{path}:1: expected columns user_id:token and item_id:token in the header, "
                              f"missing {', '.join(missing)}; found {found}")
    for name, kind in {**REQUIRED_INTER_COLUMNS, **OPTIONAL_INTER_COLUMNS}.items():
        if name in header and header[name][1] != kind:
            raise DataFormatError(f"{path}:1: expected {name}:{kind} in the header, found {name}:{header[name][1]}")


def read_atomic_inter(path: str | Path) -> pd.DataFrame:
    """Usage: read_atomic_inter("ml-100k.inter") -> DataFrame(user: str, item: str[, timestamp: float])."""
    path = Path(path)
    data = read_bytes(path, "a RecBole atomic .inter file (tab-separated, header of name:type fields)")
    header = parse_inter_header(path, data)
    lines = scan_lines(data, b"\t", first_line=2)
    if not lines.numbers.size:
        raise DataFormatError(f"{path}: expected interactions after the header line, found none")
    require_fields(path, lines, len(header), "tabs (one per header column)")
    wanted = {header["user_id"][0]: ("user_id", "token"), header["item_id"][0]: ("item_id", "token")}
    if "timestamp" in header:
        wanted[header["timestamp"][0]] = ("timestamp", "float")
    columns = parse_columns(path, data, "\t", len(header), lines, wanted, first_line=2)
    timestamp = columns[header["timestamp"][0]] if "timestamp" in header else None
    return interactions(columns[header["user_id"][0]], columns[header["item_id"][0]], timestamp)


def read_ml1m(path: str | Path) -> pd.DataFrame:
    """Usage: read_ml1m("ml-1m/ratings.dat") -> DataFrame(user: int, item: int, timestamp: float).

    Lines are UserID::MovieID::Rating::Timestamp. Parsed as ':'-separated (7 fields, every other one empty) so
    pandas' fast C parser can read it; a tab, comma or single-':' file is reported with the first bad line.
    """
    path = Path(path)
    data = read_bytes(path, "ML-1M ratings lines UserID::MovieID::Rating::Timestamp")
    lines = scan_lines(data, b":")
    require_fields(path, lines, 4, "'::'", fields=(lines.fields + 1) // 2)
    stray = np.flatnonzero(lines.fields != 7)
    if stray.size:
        raise DataFormatError(f"{path}:{lines.numbers[stray[0]]}: expected fields separated by '::', found a stray ':'")
    gap = ("nothing between the two ':' of '::'", "blank")
    columns = parse_columns(path, data, ":", 7, lines, {0: ("UserID", "int"), 1: gap, 2: ("MovieID", "int"), 3: gap,
                                                        4: ("Rating", "float"), 5: gap, 6: ("Timestamp", "int")})
    return interactions(columns[0], columns[2], columns[6])


def read_ml100k_udata(path: str | Path) -> pd.DataFrame:
    """Usage: read_ml100k_udata("ml-100k/u.data") -> DataFrame(user: int, item: int, timestamp: float).

    GroupLens u.data: user id<TAB>item id<TAB>rating<TAB>timestamp, no header.
    """
    path = Path(path)
    data = read_bytes(path, "MovieLens-100K u.data lines user<TAB>item<TAB>rating<TAB>timestamp")
    lines = scan_lines(data, b"\t")
    require_fields(path, lines, 4, "tabs")
    columns = parse_columns(path, data, "\t", 4, lines, {0: ("user id", "int"), 1: ("item id", "int"),
                                                         2: ("rating", "float"), 3: ("timestamp", "int")})
    return interactions(columns[0], columns[1], columns[3])


def read_gowalla(path: str | Path) -> pd.DataFrame:
    """Usage: read_gowalla("loc-gowalla_totalCheckins.txt[.gz]") -> DataFrame(user: int, item: int, timestamp).

    SNAP check-ins: user<TAB>check-in time<TAB>latitude<TAB>longitude<TAB>location id, time in ISO-8601 UTC
    (2010-10-19T23:55:27Z), converted to unix seconds; the item is the location id.
    """
    path = Path(path)
    data = read_bytes(path, "Gowalla check-ins user<TAB>time<TAB>latitude<TAB>longitude<TAB>location id")
    lines = scan_lines(data, b"\t")
    require_fields(path, lines, 5, "tabs")
    columns = parse_columns(path, data, "\t", 5, lines, {0: ("user", "int"), 4: ("location id", "int")})
    begin, end = field_bounds(lines, 1)
    timestamp = iso_utc_seconds(path, data, begin, end, lines.numbers, "check-in time")
    return interactions(columns[0], columns[4], timestamp)
