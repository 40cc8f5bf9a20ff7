"""Results as data: results/<run_id>/{rows.jsonl, env.json, config.json}, written so nothing is lost.

Usage:
    run_dir = new_run_dir("results", "microbench")
    write_json(run_dir / "config.json", {...}); write_json(run_dir / "env.json", environment())
    append_rows(run_dir / "rows.jsonl", [row, ...])   # one JSON object per line, flushed and fsynced
    rows = read_rows(run_dir / "rows.jsonl")          # a torn last line is skipped with a warning
    frame = load_runs("results/a", "results/b")       # one pandas DataFrame, several runs merged, run_id column
"""
from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shlex
import socket
import subprocess
import warnings
from pathlib import Path

import torch

from models.attention.linrec_kernels import kernel_path

SCHEMA_VERSION = 1


def new_run_dir(root: str | Path, kind: str) -> Path:
    """Usage: new_run_dir("results", "microbench") -> results/microbench-20261129-070102 (created, unique)."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(root) / f"{kind}-{stamp}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    path.mkdir(parents=True)
    return path


def write_json(path: Path, data: dict) -> None:
    """Usage: write_json(path, data). Atomic: written to a temporary file, then renamed over ``path``."""
    _replace_atomically(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def _replace_atomically(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file, flush it to disk, then rename it over ``path``: old or new, never half."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def read_json(path: Path) -> dict:
    """Usage: read_json(run_dir / "config.json") -> dict; a corrupt file is a one-line error naming it."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err.msg} at line {err.lineno})") from None


def append_rows(path: Path, rows: list[dict]) -> None:
    """Usage: append_rows(run_dir / "rows.jsonl", rows). Each row gets the schema version; one write per call."""
    text = "".join(json.dumps({"schema": SCHEMA_VERSION, **row}, sort_keys=True, default=str) + "\n" for row in rows)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def read_rows(path: Path) -> list[dict]:
    """Usage: read_rows(run_dir / "rows.jsonl") -> rows; unreadable (torn) lines are skipped with a warning."""
    rows = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            warnings.warn(f"{path}:{number}: skipped an incomplete or corrupt row", stacklevel=2)
    return rows


def repair_rows(path: Path) -> set[str]:
    """Usage: done = repair_rows(run_dir / "rows.jsonl") -> ids of the cells whose rows are all there.

    For results written a cell at a time, each row carrying ``cell`` and ``cell_rows`` (how many rows its cell
    wrote). A torn line, or a cell with fewer rows than it announced (a kill during the write), is dropped with a
    warning and the file is rewritten atomically, so resuming redoes that cell and never duplicates a row.
    """
    path = Path(path)
    if not path.exists():
        return set()
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = read_rows(path)
    counts: dict[str, int] = {}
    announced: dict[str, set] = {}
    for row in rows:
        counts[row.get("cell")] = counts.get(row.get("cell"), 0) + 1
        announced.setdefault(row.get("cell"), set()).add(row.get("cell_rows"))
    complete = {cell for cell, n in counts.items() if cell is not None and announced[cell] == {n}}
    kept = [row for row in rows if row.get("cell") in complete]
    if len(kept) != len(lines):
        broken = sorted(set(counts) - complete - {None})
        if broken:
            warnings.warn(f"{path}: dropped the incomplete rows of {len(broken)} cell(s), which will be measured "
                          f"again: {', '.join(map(str, broken))}", stacklevel=2)
        if counts.get(None):
            warnings.warn(f"{path}: dropped {counts[None]} row(s) that name no cell", stacklevel=2)
        _replace_atomically(path, "".join(json.dumps(r, sort_keys=True, default=str) + "\n" for r in kept))
    return complete


def load_runs(*run_dirs: str | Path, bench: str | None = None):
    """Usage: load_runs("results/cpu-sweep", "results/gpu-sweep", bench="profile") -> pandas DataFrame of every
    row of every run (torn lines skipped with a warning), each with its run_id; a missing folder is an error."""
    import pandas as pd

    rows = []
    for run_dir in run_dirs:
        path = Path(run_dir) / "rows.jsonl"
        if not path.is_file():
            raise FileNotFoundError(f"{run_dir}: no rows.jsonl (not a results run folder)")
        rows += [{"run_id": Path(run_dir).name, **row} for row in read_rows(path)]
    frame = pd.DataFrame(rows)
    if bench is not None and not frame.empty:
        frame = frame[frame.get("bench") == bench].reset_index(drop=True)
    return frame


def device_name(device: str) -> str:
    """Usage: device_name("cpu") -> the CPU model; device_name("cuda") -> the GPU's name."""
    if torch.device(device).type == "cuda":
        return torch.cuda.get_device_name(torch.device(device))
    return _cpu_model()


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10,
                             cwd=Path(__file__).resolve().parent)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, timeout=10, cwd=Path(__file__).resolve().parent)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def _package_version(name: str) -> str | None:
    from importlib import metadata
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


COMMAND_LINE: list[str] = []  # set by python -m bench for the command it runs (run_all runs several in-process)


def environment() -> dict:
    """Usage: environment() -> versions, device, threads, commit, host, the command: everything a row's numbers
    depend on and how they were made."""
    cuda = torch.cuda.is_available()
    return {
        "command_line": shlex.join(["python", "-m", "bench", *COMMAND_LINE]) if COMMAND_LINE else None,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cuda_available": cuda,
        "gpu": torch.cuda.get_device_name(0) if cuda else None,
        "driver": _nvidia_driver() if cuda else None,
        "xformers": _package_version("xformers"),
        "python": platform.python_version(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "float32_matmul_precision": torch.get_float32_matmul_precision(),  # "highest": no TF32 in fp32 matmuls
        "linrec_cpu_kernels": kernel_path(),  # "compiled" (torch.compile) unless switched off or failed so far
        "git_commit": _git_commit(),
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "time": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
    }


def _nvidia_driver() -> str | None:
    try:
        import pynvml
        pynvml.nvmlInit()
        version = pynvml.nvmlSystemGetDriverVersion()
        return version.decode() if isinstance(version, bytes) else version
    except Exception:  # pynvml missing or NVML not reachable: the driver is simply unknown
        return None
