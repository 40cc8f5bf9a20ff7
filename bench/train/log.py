"""The rows of a training cell: collected while it runs, committed in one write when it ends.

Usage:
    log = CellLog(run_dir, base)           # base: the fields every row of the cell carries
    log_epoch(log, epoch, stats, valid, "ce")
    log.commit("finished")                 # -> run_dir/rows.jsonl
    finished_cells(run_dir)                # ids of the cells with a final status row
    check_same_data(run_dir, cells, digest)  # DataChanged when a finished cell was trained on other data
"""
from __future__ import annotations

import sys
from pathlib import Path

from tqdm import tqdm

from ..results import append_rows, read_rows, write_rows


class DataChanged(ValueError):
    """A cell would be resumed or skipped although the data it was trained on has changed since."""


def status_rows(run_dir: Path) -> list[dict]:
    path = Path(run_dir) / "rows.jsonl"
    rows = read_rows(path) if path.exists() else []
    return [r for r in rows if r.get("metric") == "status" and r.get("bench") == "train"]


def finished_cells(run_dir: Path) -> set[str]:
    """Usage: finished_cells(run_dir) -> ids of cells whose final status row is in rows.jsonl."""
    return {r["cell"] for r in status_rows(run_dir)}


def data_changed(cell: str, then: str, now: str) -> str:
    """Usage: data_changed(cell, recorded_digest, current_digest) -> the one line that says what changed."""
    return f"{cell}: trained on data with SHA-256 {then[:12]}..., but the data now has {now[:12]}...: the data " \
           f"changed since"


def check_same_data(run_dir: Path, cells, digest: str) -> None:
    """Usage: check_same_data(run_dir, ["cell-a", ...], data.content_sha256()). Raises DataChanged naming the
    first of ``cells`` whose status row records another data digest (rows without one are not checked)."""
    recorded = {r["cell"]: r.get("data_sha256") for r in status_rows(run_dir)}
    changed = [c for c in cells if recorded.get(c) not in (None, digest)]
    if changed:
        more = f" ({len(changed) - 1} more cells alike)" if len(changed) > 1 else ""
        raise DataChanged(f"{data_changed(changed[0], recorded[changed[0]], digest)}{more}; its results in "
                          f"{run_dir} would not be skipped honestly: use another --run-dir")


class CellLog:
    """Usage: log = CellLog(run_dir, base); log.add(metric=..., value=...); log.commit() -> rows.jsonl.
    ``keep_epochs=E`` keeps the rows of epochs 1..E from an earlier attempt (the cell resumes after epoch E)."""

    def __init__(self, run_dir: Path, base: dict, keep_epochs: int = 0):
        self.run_dir, self.base = Path(run_dir), base
        self.partial = self.run_dir / "cells" / f"{base['cell']}.partial.jsonl"
        self.partial.parent.mkdir(parents=True, exist_ok=True)
        kept = [r for r in read_rows(self.partial) if r.get("epoch", 0) <= keep_epochs] \
            if keep_epochs and self.partial.exists() else []
        write_rows(self.partial, kept)  # an attempt killed mid-cell starts over, or keeps only its resumable epochs

    def epochs_logged(self) -> int:
        """Usage: log.epochs_logged() -> the last epoch with validation rows (0 when none)."""
        return max((r["epoch"] for r in read_rows(self.partial) if r.get("split") == "valid"), default=0)

    def add(self, **row) -> None:
        append_rows(self.partial, [{**self.base, **row}])

    def metrics(self, split: str, epoch: int, values: dict) -> None:
        for name, value in values.items():
            self.add(split=split, epoch=epoch, metric=name, value=value)

    def commit(self, status: str, message: str = "", **fields) -> None:
        """Usage: log.commit("finished", kernel="compiled"): the status row (with ``fields``), then every row of the
        cell appended to rows.jsonl in one write."""
        self.add(metric="status", status=status, message=message, **fields)
        rows = read_rows(self.partial)
        append_rows(self.run_dir / "rows.jsonl", [{k: v for k, v in r.items() if k != "schema"} for r in rows])
        self.partial.unlink()


def log_epoch(log, epoch: int, stats: dict, valid: dict, loss: str) -> None:
    """Usage: log_epoch(log, epoch, stats, valid, "ce"): the epoch's rows and one console line."""
    log.add(split="train", epoch=epoch, metric="loss", value=stats["loss"], unit=loss)
    log.add(split="train", epoch=epoch, metric="epoch_time", value=stats["seconds"], unit="s")
    log.add(split="train", epoch=epoch, metric="data_share", value=stats["data_seconds"] / stats["seconds"])
    log.add(split="train", epoch=epoch, metric="samples", value=stats["samples"])
    log.add(split="train", epoch=epoch, metric="pairs", value=stats["pairs"])
    log.add(split="train", epoch=epoch, metric="steps", value=stats["steps"])
    for name in ("others_cpu", "steal"):  # what else ran while the epoch was timed (bench/load.py)
        if stats.get("load", {}).get(name) is not None:
            log.add(split="train", epoch=epoch, metric=name, value=stats["load"][name])
    log.add(split="train", epoch=epoch, metric="eval_time", value=stats["eval_seconds"], unit="s")
    log.metrics("valid", epoch, valid)
    tqdm.write(f"epoch {epoch}: loss {stats['loss']:.4f}, valid ndcg@10 {valid['ndcg@10']:.4f}, "
               f"{stats['seconds']:.1f}s (data {100 * stats['data_seconds'] / stats['seconds']:.1f}%)",
               file=sys.stdout)
