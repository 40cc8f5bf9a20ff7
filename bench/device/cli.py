"""``python -m bench device-check``: one command that validates a GPU, within a time budget.

Usage:
    python -m bench device-check [--budget-s 540] [--device cuda|cuda:N] [--run-dir DIR] [--data-dir DIR]

Runs every GPU path once (steps.py: environment, the CUDA tests, the SDPA backends, xformers, the Triton kernels'
correctness and timing against sdpa and the roofline, NVML against the allocator, one SASRec training epoch per
attention, a report) and writes results/device-check-<gpu>/: rows.jsonl (the verdicts), verdict.md, env.json,
profile/, train/, report/. A step that raises is a FAIL row with its first line and the next step runs; steps the
budget cannot reach are skipped rows. Without a GPU: one line, exit 2. Exit 1 when a verdict is FAIL.
"""
from __future__ import annotations

import re
import time
from pathlib import Path

from ..cli import add_device_argument, positive_float
from ..results import append_rows, atomic_write, unique_dir, write_json

BUDGET_S = 540.0  # 9 minutes: a lent GPU's 15 leave room for its start and one rerun


def add_device_check_command(commands) -> None:
    cmd = commands.add_parser("device-check", help="validate a GPU: every GPU path once, a verdict table",
                              description=__doc__.split("\n\n")[0])
    cmd.add_argument("--budget-s", type=positive_float, default=BUDGET_S,
                     help="seconds for the whole check; steps it cannot reach are skipped (default: %(default)s)")
    add_device_argument(cmd, default="cuda")
    cmd.add_argument("--run-dir", type=Path, default=None, help="a new folder (default: results/device-check-<gpu>)")
    cmd.add_argument("--data-dir", type=Path, default=None, help="data cache folder (ML-100K for the training step)")
    cmd.set_defaults(run=run_device_check)


def gpu_slug(name: str) -> str:
    """Usage: gpu_slug("NVIDIA H200") -> "h200"."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower().removeprefix("nvidia").strip()).strip("-") or "gpu"


def new_folder(run_dir: Path | None, gpu: str) -> Path:
    """The run folder: ``run_dir`` (refused when it holds anything), else results/device-check-<gpu>[-n]."""
    if run_dir is not None:
        if run_dir.exists() and any(run_dir.iterdir()):
            raise ValueError(f"{run_dir} is not empty; device-check writes a new folder each time")
        run_dir.mkdir(parents=True, exist_ok=True)
        return run_dir
    return unique_dir(Path("results") / f"device-check-{gpu_slug(gpu)}")


def run_steps(steps, check) -> list[dict]:
    """Usage: run_steps(STEPS, check) -> every verdict row: a step that raises is one FAIL row; one past the
    deadline is one skipped row."""
    from .verdicts import verdict

    rows = []
    for name, step in steps:
        if check.left() <= 0:
            rows.append(verdict(name, "not run", "skipped", "the budget was spent before it"))
            continue
        started = time.monotonic()
        try:
            found = step(check)
        except Exception as err:  # noqa: BLE001 - a broken GPU path is this check's finding, not its end
            first = (str(err).strip().splitlines() or [""])[0][:300]
            found = [verdict(name, "ran", "FAIL", f"{type(err).__name__}: {first}")]
        print(f"{name}: {time.monotonic() - started:.0f} s, " + ", ".join(r["verdict"] for r in found), flush=True)
        rows += found
    return rows


def run_device_check(args) -> int:
    import torch

    from ..environment import environment, select_device
    from .steps import STEPS, Check
    from .verdicts import verdict_table

    if not torch.cuda.is_available():
        build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "CPU only"
        raise ValueError(f"device-check validates a GPU, and torch {torch.__version__} ({build}) sees none here")
    if select_device(args.device) != "cuda":
        raise ValueError(f"device-check validates a GPU; --device {args.device} is not one")
    run_dir = new_folder(args.run_dir, torch.cuda.get_device_name())
    write_json(run_dir / "env.json", environment())
    check = Check(run_dir, time.monotonic() + args.budget_s, args.data_dir)
    rows = run_steps(STEPS, check)
    append_rows(run_dir / "rows.jsonl", [{"run_id": run_dir.name, **row} for row in rows])
    table = verdict_table(rows).to_markdown(index=False)
    with atomic_write(run_dir / "verdict.md") as handle:
        handle.write(table + "\n")
    print("\n" + table + f"\n\nresults: {run_dir}")
    return 1 if any(r["verdict"] == "FAIL" for r in rows) else 0
