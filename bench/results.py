"""Results as data: results/<run_id>/{rows.jsonl, env.json, config.json}, written so nothing is lost.

Usage:
    run_dir = new_run_dir("results", "microbench")
    write_json(run_dir / "config.json", {...}); write_json(run_dir / "env.json", environment())
    append_rows(run_dir / "rows.jsonl", [row, ...])   # one JSON object per line, flushed and fsynced
    rows = read_rows(run_dir / "rows.jsonl")          # a torn last line is skipped with a warning
"""
from __future__ import annotations

import datetime as dt
import json
import os
import platform
import socket
import subprocess
import warnings
from pathlib import Path

import torch

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
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
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


def environment() -> dict:
    """Usage: environment() -> versions, device, threads, commit, host: everything a row's numbers depend on."""
    cuda = torch.cuda.is_available()
    return {
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
