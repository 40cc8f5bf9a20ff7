"""The two errors of bench.data: bad input data, and data that could not be downloaded.

Usage:
    from bench.data.errors import DataFormatError, DownloadError
    raise DataFormatError("ratings.dat:17: expected 4 fields separated by '::', found 3")
"""
from __future__ import annotations


class DataFormatError(ValueError):
    """Usage: raise DataFormatError(f"{path}:{line}: expected ..., found ..."): file, line, expected, found."""


class DownloadError(DataFormatError):
    """Usage: raise DownloadError("ml-1m: could not download ...; pass --path ..."). A fetch that found no data."""
