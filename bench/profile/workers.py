"""Several workers on one profiling sweep: copies of the same ``bench profile`` command over one run folder, each
claiming the cells it measures (bench/runs/claims.py), as a local pool (one GPU each) or a SLURM job array.

Usage:
    failed = run_workers(args, run_dir, argv)     # argv: the profile command line; --executor local or submitit

A worker is the command itself with ``--executor serial --worker``: it measures the unfinished cells nobody else
holds, one by one, and leaves the folder's repairs, the second look at loaded cells and the tables to the driver,
which runs them once every worker has ended. Timings of cells measured side by side on one CPU would measure their
contention, so a local pool of more than one worker needs --gpus (one GPU per worker).
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from ..processes import run_module, start_module


def worker_argv(argv: list[str], run_dir: Path) -> list[str]:
    """Usage: worker_argv(["profile", "--attention", "dot", ...], run_dir) -> the worker's command line (later
    options win in argparse, so the driver's own executor settings are overridden)."""
    return [*argv, "--executor", "serial", "--worker", "--no-progress", "--run-dir", str(run_dir)]


def check_pool(workers: int, gpus, device: str) -> None:
    """Usage: check_pool(2, None, "cpu") raises: side-by-side CPU timings measure contention, not the cells."""
    if workers > 1 and not gpus:
        raise ValueError(f"--workers {workers} would time cells side by side on one {device}, which measures their "
                         f"contention; give each worker its own GPU with --gpus (or use --workers 1)")


def run_pool(argv: list[str], run_dir: Path, workers: int, gpus) -> int:
    """``workers`` copies of the command, worker i on GPU gpus[i % len(gpus)]; returns how many failed."""
    logs = run_dir / "workers"
    logs.mkdir(exist_ok=True)
    running = []
    for slot in range(workers):
        env = dict(os.environ)
        if gpus:
            env["CUDA_VISIBLE_DEVICES"] = str(gpus[slot % len(gpus)])
        log = open(logs / f"profile-worker-{slot}.log", "a", encoding="utf-8")  # closed when the worker ends
        running.append((start_module("bench", worker_argv(argv, run_dir), env=env, log=log), log))
    while any(process.poll() is None for process, _ in running):
        time.sleep(0.5)
    for _, log in running:
        log.close()
    return sum(process.returncode != 0 for process, _ in running)


class ProfileWorker:
    """One worker of a sweep as a submitit job; requeued when SLURM preempts it or its time runs out (the cells it
    finished stay, the one it held is measured again)."""

    def __call__(self, argv: list[str]) -> int:
        return run_module("bench", argv, capture=False).returncode

    def checkpoint(self, *args, **kwargs):
        import submitit

        return submitit.helpers.DelayedSubmission(self, *args, **kwargs)


def run_array(args, argv: list[str], run_dir: Path) -> int:
    """``--max-parallel`` workers as one submitit job array; returns how many failed."""
    from ..train.submit import array_executor

    jobs = array_executor(args, run_dir).map_array(ProfileWorker(), [worker_argv(argv, run_dir)] * args.max_parallel)
    failed = 0
    for job in jobs:
        try:
            failed += job.result() != 0
        except Exception as err:  # noqa: BLE001 - a worker that died: its cells are measured by the others or again
            print(f"profile worker {job.job_id} failed: {str(err).splitlines()[0] if str(err) else type(err).__name__}")
            failed += 1
    return failed
