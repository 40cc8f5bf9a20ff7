"""Checksums, atomic writes, downloads and safe zip extraction: the careful parts of fetching data.

Usage:
    digest = sha256_of(path)
    verify_sha256(path, "4edb74e2...")                    # mismatch -> DataFormatError naming both digests
    download("https://.../ml-1m.zip", dest)               # streamed to a temporary file, then renamed
    safe_extract(archive, folder, ["ml-1m/ratings.dat"])  # refuses members that would land outside `folder`
    expected = recorded_sha256(data_dir, "file.gz")       # trust on first use: checksums.json in data_dir
"""
from __future__ import annotations

import hashlib
import http.client
import json
import re
import shutil
import sys
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

from ..results import atomic_write, write_json
from .errors import DataFormatError, DownloadError

CHUNK = 1 << 20
CHECKSUMS_FILE = "checksums.json"


def sha256_of(path: str | Path) -> str:
    """Usage: sha256_of(path) -> hex SHA-256 of the file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(CHUNK), b""):
                digest.update(chunk)
    except OSError as err:
        raise DataFormatError(f"{path}: cannot read it to check its SHA-256 ({err.strerror or err})") from None
    return digest.hexdigest()


def verify_sha256(path: str | Path, expected: str) -> str:
    """Usage: verify_sha256(path, expected) -> the digest; a mismatch raises DataFormatError naming both digests."""
    found = sha256_of(path)
    if found != expected.lower():
        raise DataFormatError(f"{path}: SHA-256 mismatch: expected {expected.lower()}, found {found}")
    return found


def write_bytes_atomic(path: Path, data: bytes, expected_sha256: str | None = None) -> Path:
    """Usage: write_bytes_atomic(path, data, expected_sha256=None) -> path; verified before it replaces `path`."""
    check = (lambda tmp: verify_sha256(tmp, expected_sha256)) if expected_sha256 else None
    with atomic_write(path, "wb", check=check) as handle:
        handle.write(data)
    return path


def download(url: str, dest: Path, timeout: float = 60.0) -> Path:
    """Usage: download(url, dest) -> dest. Streams to a temporary file, renames on success; failures raise
    DownloadError naming the URL and the reason. file:// URLs work (tests use them)."""
    print(f"downloading {url} -> {dest}", file=sys.stderr)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, atomic_write(dest, "wb") as out:
            shutil.copyfileobj(response, out, CHUNK)
    except (OSError, http.client.HTTPException, ValueError) as err:
        raise DownloadError(f"could not download {url} ({getattr(err, 'reason', None) or err})") from None
    return dest


def member_destination(target: Path, archive: Path, name: str) -> Path:
    """Usage: member_destination(folder, archive, "ml-1m/ratings.dat") -> where it goes; DataFormatError if it
    would escape `folder` (absolute path, drive letter, '..')."""
    pure = PurePosixPath(name.replace("\\", "/"))
    escapes = pure.is_absolute() or re.match(r"^[A-Za-z]:", name) or ".." in pure.parts
    dest = (target / pure).resolve()
    if escapes or not dest.is_relative_to(target):
        raise DataFormatError(f"{archive}: refusing to extract member {name!r}: it would land outside {target}")
    return dest


def safe_extract(archive: str | Path, target: str | Path, members: list[str] | None = None) -> list[Path]:
    """Usage: safe_extract("ml-1m.zip", data_dir, ["ml-1m/ratings.dat"]) -> extracted file paths.

    Every member is checked before anything is written, so an archive with one escaping member extracts nothing.
    Each file is written to a temporary name and renamed.
    """
    archive, target = Path(archive), Path(target).resolve()
    try:
        with zipfile.ZipFile(archive) as zipped:
            infos = zipped.infolist() if members is None else [member_info(zipped, archive, m) for m in members]
            plan = [(info, member_destination(target, archive, info.filename)) for info in infos]
            return [extract_member(zipped, info, dest) for info, dest in plan if not info.is_dir()]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as err:
        raise DataFormatError(f"{archive}: expected a valid zip archive ({err})") from None


def member_info(zipped: zipfile.ZipFile, archive: Path, name: str) -> zipfile.ZipInfo:
    """Usage: member_info(zipped, archive, "ml-1m/ratings.dat") -> ZipInfo, or DataFormatError naming the archive."""
    try:
        return zipped.getinfo(name)
    except KeyError:
        raise DataFormatError(f"{archive}: expected a member {name!r}, found none") from None


def extract_member(zipped: zipfile.ZipFile, info: zipfile.ZipInfo, dest: Path) -> Path:
    """Usage: extract_member(zipped, info, dest) -> dest, written atomically (CRC checked by zipfile)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with zipped.open(info) as source, atomic_write(dest, "wb") as out:
        shutil.copyfileobj(source, out, CHUNK)
    return dest


def read_checksums(data_dir: Path) -> dict:
    """Usage: read_checksums(data_dir) -> {file name: sha256} recorded on first use ({} if none yet)."""
    path = data_dir / CHECKSUMS_FILE
    if not path.exists():
        return {}
    try:
        recorded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise DataFormatError(f"{path}: expected a JSON object of file name -> SHA-256 ({err})") from None
    if not isinstance(recorded, dict):
        raise DataFormatError(f"{path}: expected a JSON object of file name -> SHA-256, "
                              f"found {type(recorded).__name__}")
    return recorded


def recorded_sha256(data_dir: Path, name: str) -> str | None:
    """Usage: recorded_sha256(data_dir, "loc-gowalla_totalCheckins.txt.gz") -> the digest trusted on first use."""
    return read_checksums(data_dir).get(name)


def record_sha256(data_dir: Path, name: str, digest: str) -> None:
    """Usage: record_sha256(data_dir, name, digest): adds it to checksums.json, written atomically."""
    write_json(data_dir / CHECKSUMS_FILE, {**read_checksums(data_dir), name: digest})
