"""Results as data: results/<run_id>/{rows.jsonl, env.json, config.json}, written so nothing is lost.

Usage:
    run_dir = new_run_dir("results", "microbench")
    write_json(run_dir / "config.json", {...})        # atomic: the old file or the new one, never half
    append_rows(run_dir / "rows.jsonl", [row, ...])   # one JSON object per line, flushed and fsynced
    rows = read_rows(run_dir / "rows.jsonl")          # a torn last line is skipped with a warning
    frame = load_runs("results/a", "results/b")       # one pandas DataFrame, several runs merged, run_id column
    with atomic_write(path, "wb") as handle: ...      # any file, replaced whole once the block succeeds

No torch here: reports read results through this module alone. What a run's numbers depend on (versions, device,
commit) is described by bench/environment.py.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import warnings
from pathlib import Path

SCHEMA_VERSION = 1
# Every measured row has these; load_runs gives each its column even when no row of a run has it (a run whose
# cells all failed has no value, stat or unit), so readers never meet a missing column.
ROW_COLUMNS = ("bench", "split", "epoch", "metric", "stat", "value", "unit", "status", "message")
RETRY_STATUSES = ("killed",)  # a cell ended from outside says nothing about itself: a resume measures it again
# What readers of each bench's rows rely on (missing_keys adds the keys of measured rows).
REQUIRED_KEYS = {
    "train": ("cell", "model", "attention", "dataset", "max_len", "seed", "protocol", "metric"),
    "profile": ("level", "mode", "causal", "dtype", "device", "variant", "T", "B", "H", "D", "metric", "status"),
}


def new_run_dir(root: str | Path, kind: str) -> Path:
    """Usage: new_run_dir("results", "microbench") -> results/microbench-20261129-070102 (created, unique)."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return unique_dir(Path(root) / f"{kind}-{stamp}")


def unique_dir(base: Path) -> Path:
    """Usage: unique_dir(Path("results/device-check-h200")) -> that folder, or base-2, base-3, ... (created)."""
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    path.mkdir(parents=True)
    return path


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "w", check=None):
    """Usage: with atomic_write(path, "wb", check=verify) as handle: handle.write(data).

    The block writes a temporary sibling of ``path`` (named after the process, so two writers never share one),
    which is flushed to disk, handed to ``check(tmp_path)`` if given (it raises to refuse the file), then renamed
    over ``path``: readers see the old file or the new one, never half. On any error the temporary file goes and
    ``path`` is untouched."""
    path = Path(path)
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        if check is not None:
            check(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path: Path, data: dict) -> None:
    """Usage: write_json(path, data). Atomic (atomic_write): the old file or the new one, never half."""
    with atomic_write(path) as handle:
        handle.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def read_text(path: Path) -> str:
    """Usage: read_text(path) -> the file as UTF-8 text; other bytes are a one-line ValueError naming the file."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None


def read_json(path: Path) -> dict:
    """Usage: read_json(run_dir / "config.json") -> dict; a corrupt file, or JSON that is not an object, is a
    one-line error naming it."""
    try:
        data = json.loads(read_text(path))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err.msg} at line {err.lineno})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object, found {type(data).__name__}")
    return data


def _jsonl(rows: list[dict]) -> str:
    """One JSON object per line, each with the schema version (a row that has one keeps its own)."""
    return "".join(json.dumps({"schema": SCHEMA_VERSION, **row}, sort_keys=True, default=str) + "\n" for row in rows)


def append_rows(path: Path, rows: list[dict]) -> None:
    """Usage: append_rows(run_dir / "rows.jsonl", rows). Each row gets the schema version; one write per call,
    under an exclusive lock of the file, so writers in several processes never interleave. A last line cut short
    by a kill is dropped first (with a warning), so the new rows never glue onto it."""
    with open(path, "a+b") as handle:  # one descriptor only: closing another would drop this process's lock
        fcntl.lockf(handle, fcntl.LOCK_EX)  # POSIX locks: honoured on NFS too
        _end_with_a_whole_line(handle, path)
        handle.write(_jsonl(rows).encode("utf-8"))
        handle.flush()
        os.fsync(handle.fileno())


def _end_with_a_whole_line(handle, path: Path) -> None:
    """A file whose last byte is not a newline ends in a torn row (dropped) or a whole row missing its newline
    (ended). ``handle``: the file, open for appending and reading, locked."""
    size = handle.seek(0, os.SEEK_END)
    if size == 0:
        return
    handle.seek(size - 1)
    if handle.read(1) == b"\n":
        return
    handle.seek(0)
    data = handle.read()
    start = data.rfind(b"\n") + 1
    try:
        json.loads(data[start:])
    except ValueError:
        warnings.warn(f"{path}: dropped a torn last line ({len(data) - start} bytes)", stacklevel=3)
        handle.truncate(start)
    else:
        handle.write(b"\n")


def write_rows(path: Path, rows: list[dict]) -> None:
    """Usage: write_rows(path, rows): ``path`` holds exactly these rows afterwards, replaced atomically."""
    with atomic_write(path) as handle:
        handle.write(_jsonl(rows))


def read_rows(path: Path) -> list[dict]:
    """Usage: read_rows(run_dir / "rows.jsonl") -> rows; unreadable (torn) lines are skipped with a warning."""
    rows = []
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            row = None
        if isinstance(row, dict):
            rows.append(row)
        else:
            warnings.warn(f"{path}:{number}: skipped an incomplete or corrupt row", stacklevel=2)
    return rows


def complete_cells(rows: list[dict]) -> set[str]:
    """Usage: complete_cells(read_rows(path)) -> ids of the cells written a cell at a time whose rows are all there
    (as many as their ``cell_rows`` announce) and none of them in RETRY_STATUSES."""
    counts: dict[str, int] = {}
    announced: dict[str, set] = {}
    for row in rows:
        counts[row.get("cell")] = counts.get(row.get("cell"), 0) + 1
        announced.setdefault(row.get("cell"), set()).add(row.get("cell_rows"))
    retried = {row.get("cell") for row in rows if row.get("status") in RETRY_STATUSES}
    return {cell for cell, n in counts.items() if cell is not None and announced[cell] == {n}} - retried


def repair_rows(path: Path) -> set[str]:
    """Usage: done = repair_rows(run_dir / "rows.jsonl") -> ids of the cells whose rows are all there.

    For results written a cell at a time, each row carrying ``cell`` and ``cell_rows`` (how many rows its cell
    wrote). A torn line, or a cell with fewer rows than it announced (a kill during the write), is dropped with a
    warning and the file is rewritten atomically, so resuming redoes that cell and never duplicates a row. So is a
    cell with a row in RETRY_STATUSES.
    """
    path = Path(path)
    if not path.exists():
        return set()
    lines = [line for line in read_text(path).splitlines() if line.strip()]
    rows = read_rows(path)
    counts = {}
    for row in rows:
        counts[row.get("cell")] = counts.get(row.get("cell"), 0) + 1
    complete = complete_cells(rows)
    kept = [row for row in rows if row.get("cell") in complete]
    if len(kept) != len(lines):
        broken = sorted(set(counts) - complete - {None})
        if broken:
            warnings.warn(f"{path}: dropped the incomplete or killed rows of {len(broken)} cell(s), which will be "
                          f"measured again: {', '.join(map(str, broken))}", stacklevel=2)
        if counts.get(None):
            warnings.warn(f"{path}: dropped {counts[None]} row(s) that name no cell", stacklevel=2)
        write_rows(path, kept)
    return complete


def recorded_cells(run_dir: str | Path) -> dict:
    """Usage: recorded_cells(run_dir) -> {cell: what training recorded for it (settings, data, environment)}: each
    cell's own ``cells/<cell>.config.json`` (written by its worker alone), over the folder's config.json."""
    run_dir = Path(run_dir)
    config = read_json(run_dir / "config.json") if (run_dir / "config.json").exists() else {}
    recorded = config.get("cells")
    cells = dict(recorded) if isinstance(recorded, dict) else {}  # other commands list their cells, unrecorded
    for path in sorted((run_dir / "cells").glob("*.config.json")):
        try:
            cells[path.name.removesuffix(".config.json")] = read_json(path)
        except ValueError:  # a torn file: that cell's record is missing, the others stand
            continue
    return cells


def missing_keys(row: dict) -> list[str]:
    """Usage: missing_keys(row) -> the keys a row of its bench needs (REQUIRED_KEYS) that it lacks or holds null."""
    bench = row.get("bench")
    needed = REQUIRED_KEYS.get(bench, ())
    if bench == "train":
        needed += ("status",) if row.get("metric") == "status" else ("split", "value")
    elif bench == "profile" and row.get("status") == "ok":
        needed += ("stat", "value")
    return [key for key in needed if row.get(key) is None]


def usable_rows(path: Path) -> list[dict]:
    """Usage: usable_rows(run_dir / "rows.jsonl") -> read_rows(path) less the rows that lack keys their bench
    needs, skipped with one warning naming the file, how many and which keys."""
    rows, skipped, missing = [], 0, set()
    for row in read_rows(path):
        lacking = missing_keys(row)
        missing.update(lacking)
        skipped += bool(lacking)
        if not lacking:
            rows.append(row)
    if skipped:
        warnings.warn(f"{path}: skipped {skipped} row(s) lacking keys their bench needs: {', '.join(sorted(missing))}",
                      stacklevel=2)
    return rows


def load_runs(*run_dirs: str | Path, bench: str | None = None):
    """Usage: load_runs("results/cpu-sweep", "results/gpu-sweep", bench="profile") -> pandas DataFrame of every
    usable row of every run (torn lines and rows lacking needed keys skipped with a warning), each with its run_id:
    the folder's name, so a renamed or copied run reads under the name it has now; a missing folder is an error."""
    import pandas as pd

    rows = []
    for run_dir in run_dirs:
        path = Path(run_dir) / "rows.jsonl"
        if not path.is_file():
            raise FileNotFoundError(f"{run_dir}: no rows.jsonl (not a results run folder)")
        rows += [{**row, "run_id": Path(run_dir).name} for row in usable_rows(path)]
    frame = pd.DataFrame(rows)
    frame = frame.assign(**{column: None for column in ROW_COLUMNS if column not in frame})
    if bench is not None and not frame.empty:
        frame = frame[frame["bench"] == bench].reset_index(drop=True)
    return frame
