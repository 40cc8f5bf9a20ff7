"""Download-and-verify for the real datasets, cached in a data folder outside git.

Usage:
    path = fetch_ml100k()          # <data_dir>/ml-100k.inter, SHA-256 verified (from the recbole wheel or GroupLens)
    path = fetch_ml1m()            # <data_dir>/ml-1m/ratings.dat from the verified GroupLens ml-1m.zip
    path = fetch_gowalla()         # <data_dir>/loc-gowalla_totalCheckins.txt.gz (trust on first use, see below)
The data folder is `data_dir` if given, else $LINREC_BENCH_DATA, else <repo root>/data in a source checkout
(ignored by git), else (an installed wheel) the user cache folder, $XDG_CACHE_HOME or ~/.cache, /linrec-bench/data.
Checksums: ml-100k.inter is RecBole 1.2.1's file; the GroupLens zips' SHA-256 are those tensorflow-datasets
publishes (url_checksums/movielens.txt). No SHA-256 is published for the SNAP Gowalla file, so it is trusted
on first use: the first download's digest goes into <data_dir>/checksums.json and later reads are verified
against it. Where the network is unavailable each fetch fails with one line saying to pass --path instead.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from ..processes import run_module
from .archives import (download, record_sha256, recorded_sha256, safe_extract, sha256_of, verify_sha256,
                       write_bytes_atomic)
from .errors import DataFormatError, DownloadError
from .formats import read_ml100k_udata

DATA_DIR_VARIABLE = "LINREC_BENCH_DATA"
REPO_ROOT = Path(__file__).resolve().parents[2]

RECBOLE_REQUIREMENT = "recbole==1.2.1"
ML100K_MEMBER = "recbole/dataset_example/ml-100k/ml-100k.inter"
ML100K_INTER_SHA256 = "4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff"
ML100K_INTER_HEADER = b"user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
ML100K_ZIP_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
ML100K_ZIP_SHA256 = "50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229"
ML1M_ZIP_URL = "https://files.grouplens.org/datasets/movielens/ml-1m.zip"
ML1M_ZIP_SHA256 = "a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20"
GOWALLA_URL = "https://snap.stanford.edu/data/loc-gowalla_totalCheckins.txt.gz"
PIP_TIMEOUT_S = 300


def in_checkout(root: Path | None = None) -> bool:
    """Usage: in_checkout() -> whether this code runs from a source checkout (its pyproject.toml beside bench/),
    not from an installed wheel (site-packages, where a data/ folder beside the packages would be nobody's)."""
    root = REPO_ROOT if root is None else root
    return (root / "pyproject.toml").is_file() and (root / "bench").is_dir()


def user_cache_dir() -> Path:
    """Usage: user_cache_dir() -> $XDG_CACHE_HOME/linrec-bench/data, by default ~/.cache/linrec-bench/data."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "linrec-bench" / "data"


def default_data_dir() -> Path:
    """Usage: default_data_dir() -> $LINREC_BENCH_DATA if set, else <repo root>/data in a source checkout, else
    the user cache folder (an installed wheel)."""
    if os.environ.get(DATA_DIR_VARIABLE):
        return Path(os.environ[DATA_DIR_VARIABLE]).expanduser()
    return REPO_ROOT / "data" if in_checkout() else user_cache_dir()


def resolve_data_dir(data_dir: str | Path | None = None) -> Path:
    """Usage: resolve_data_dir(None) -> the data folder, created if missing."""
    path = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DataFormatError(f"{path}: cannot use it as the data folder ({err.strerror or err})") from None
    return path


def pip_download(requirement: str, dest: Path) -> Path:
    """Usage: pip_download("recbole==1.2.1", tmpdir) -> the wheel; no install, no dependencies, no pip cache."""
    args = ["download", "--no-deps", "--no-cache-dir", "--only-binary=:all:", "--disable-pip-version-check",
            "--quiet", requirement, "-d", dest]
    try:
        result = run_module("pip", args, timeout=PIP_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError) as err:
        raise DownloadError(f"pip download {requirement} did not run ({err})") from None
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or [f"exit code {result.returncode}"])[-1]
        raise DownloadError(f"pip download {requirement} failed ({reason})")
    wheels = sorted(dest.glob("*.whl"))
    if not wheels:
        raise DownloadError(f"pip download {requirement} left no wheel in {dest}")
    return wheels[0]


def read_wheel_member(wheel: Path, member: str) -> bytes:
    """Usage: read_wheel_member(wheel, "recbole/.../ml-100k.inter") -> the member's bytes."""
    try:
        with zipfile.ZipFile(wheel) as zipped:
            return zipped.read(member)
    except KeyError:
        raise DataFormatError(f"{wheel}: expected a member {member!r}, found none") from None
    except (zipfile.BadZipFile, EOFError) as err:
        raise DataFormatError(f"{wheel}: expected a valid wheel (zip) ({err})") from None


def ml100k_from_wheel(workdir: Path) -> bytes:
    """Usage: ml100k_from_wheel(tmpdir) -> ml-100k.inter bytes from the recbole 1.2.1 wheel (not installed)."""
    return read_wheel_member(pip_download(RECBOLE_REQUIREMENT, workdir), ML100K_MEMBER)


def ml100k_from_grouplens(workdir: Path) -> bytes:
    """Usage: ml100k_from_grouplens(tmpdir) -> ml-100k.inter bytes made from GroupLens' verified ml-100k.zip.

    RecBole's file is exactly its header line followed by u.data, so the result has the same SHA-256.
    """
    archive = download(ML100K_ZIP_URL, workdir / "ml-100k.zip")
    verify_sha256(archive, ML100K_ZIP_SHA256)
    (udata,) = safe_extract(archive, workdir, ["ml-100k/u.data"])
    read_ml100k_udata(udata)  # a malformed u.data is reported with its line, not converted
    body = udata.read_bytes()
    return ML100K_INTER_HEADER + body + (b"" if body.endswith(b"\n") else b"\n")


def fetch_ml100k(data_dir: str | Path | None = None) -> Path:
    """Usage: fetch_ml100k() -> <data_dir>/ml-100k.inter (RecBole atomic format), SHA-256 verified.

    A cached file with the right digest is reused. Otherwise: `pip download recbole==1.2.1` and read the file
    from the wheel; if that fails, GroupLens' ml-100k.zip. Written atomically once verified.
    """
    target = resolve_data_dir(data_dir) / "ml-100k.inter"
    if target.exists() and sha256_of(target) == ML100K_INTER_SHA256:
        return target
    failures = []
    for label, source in (("the recbole 1.2.1 wheel", ml100k_from_wheel),
                          ("GroupLens ml-100k.zip", ml100k_from_grouplens)):
        print(f"ml-100k: fetching with {label}", file=sys.stderr)
        with tempfile.TemporaryDirectory(prefix="ml-100k-", dir=target.parent) as workdir:
            try:
                return write_bytes_atomic(target, source(Path(workdir)), ML100K_INTER_SHA256)
            except DataFormatError as err:  # DownloadError included: try the next source
                failures.append(f"{label}: {err}")
    raise DownloadError(f"ml-100k: could not fetch it ({'; '.join(failures)}); pass --path to a local "
                        "ml-100k.inter or u.data instead")


def fetch_verified(url: str, dest: Path, expected_sha256: str | None) -> Path:
    """Usage: fetch_verified(url, dest, sha256_or_None) -> dest, reused if it verifies, else downloaded again.

    With no known digest the file is trusted on first use: its digest is recorded in checksums.json next to it.
    """
    expected = expected_sha256 or recorded_sha256(dest.parent, dest.name)
    if dest.exists() and (expected is None or sha256_of(dest) == expected):
        if expected is None:
            record_sha256(dest.parent, dest.name, sha256_of(dest))
        return dest
    partial = dest.with_name(dest.name + ".download")
    try:
        download(url, partial)
        digest = verify_sha256(partial, expected) if expected else sha256_of(partial)
        os.replace(partial, dest)
    finally:
        partial.unlink(missing_ok=True)
    if expected is None:
        record_sha256(dest.parent, dest.name, digest)
    return dest


def fetch_or_explain(dataset: str, url: str, dest: Path, expected_sha256: str | None, local: str) -> Path:
    """Usage: fetch_or_explain("ml-1m", url, dest, sha, "ratings.dat") -> dest, or one DownloadError line."""
    try:
        return fetch_verified(url, dest, expected_sha256)
    except DownloadError as err:
        raise DownloadError(f"{dataset}: {err}; download it yourself and pass --path to {local}") from None


def fetch_ml1m(data_dir: str | Path | None = None) -> Path:
    """Usage: fetch_ml1m() -> <data_dir>/ml-1m/ratings.dat, extracted from GroupLens' SHA-256-verified zip."""
    folder = resolve_data_dir(data_dir)
    archive = fetch_or_explain("ml-1m", ML1M_ZIP_URL, folder / "ml-1m.zip", ML1M_ZIP_SHA256, "ratings.dat")
    (ratings,) = safe_extract(archive, folder, ["ml-1m/ratings.dat"])
    return ratings


def fetch_gowalla(data_dir: str | Path | None = None) -> Path:
    """Usage: fetch_gowalla() -> <data_dir>/loc-gowalla_totalCheckins.txt.gz (SNAP), trusted on first use."""
    folder = resolve_data_dir(data_dir)
    return fetch_or_explain("gowalla", GOWALLA_URL, folder / "loc-gowalla_totalCheckins.txt.gz", None,
                            "loc-gowalla_totalCheckins.txt[.gz]")
