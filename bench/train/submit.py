"""train-grid's submitit executor: the unfinished cells as one SLURM job array, or, to try it without SLURM, on
submitit's ``local`` cluster (every job at once, a test double rather than a scheduler) or ``debug`` cluster (in
this process, one after another).

Usage:
    python -m bench train-grid full-accuracy --executor submitit --partition gpu --timeout-min 240 --max-parallel 8
    failed = run_array(args, run_dir, cell_ids)

Each job loads the plug-ins this process loaded (models/plugins.py), then runs cells.train_one for its cell as
plan.json records it: claimed, skipped when finished, resumed after its last finished epoch.
A job cut by its time limit or preempted is requeued by submitit (CellJob.checkpoint) and so continues where its
cell's resume state left it. submitit's logs and pickles go to <run dir>/submitit/.
"""
from __future__ import annotations

from pathlib import Path

from models.plugins import modules_from_environment

from ..cli import positive_int

CLUSTERS = ("slurm", "local", "debug")


def add_submitit_arguments(group) -> None:
    group.add_argument("--cluster", choices=CLUSTERS, default=None,
                       help="submitit: slurm (default where sbatch exists), local or debug (no SLURM needed)")
    group.add_argument("--partition", default=None, help="submitit: the SLURM partition")
    group.add_argument("--timeout-min", type=positive_int, default=240,
                       help="submitit: minutes per job; a job cut there is requeued and resumes (default: 240)")
    group.add_argument("--max-parallel", type=positive_int, default=16,
                       help="submitit: jobs of the array running at once (default: 16)")
    group.add_argument("--gpus-per-task", type=int, default=None,
                       help="submitit: GPUs per job (default: 1 with --device cuda, else 0)")


class CellJob:
    """One cell of a grid as a submitit job; requeued, not lost, when SLURM preempts it or its time runs out."""

    def __init__(self, plugins: tuple[str, ...] = ()):
        self.plugins = tuple(plugins)  # the submitting process's plug-in modules: a job's node may not get its env

    def __call__(self, cell: str, run_dir: str, data_dir, device: str, threads) -> int:
        from models.plugins import load_plugins

        from .cells import train_one

        load_plugins(self.plugins)
        return train_one(cell, Path(run_dir), data_dir, device, threads)

    def checkpoint(self, *args, **kwargs):
        import submitit

        return submitit.helpers.DelayedSubmission(self, *args, **kwargs)  # the cell's own resume state carries on


def array_executor(args, run_dir: Path):
    """Usage: executor = array_executor(args, run_dir) -> a submitit executor set up from the command's options
    (cluster, partition, time limit, parallel jobs, GPUs per job), its files in <run dir>/submitit/."""
    import submitit

    executor = submitit.AutoExecutor(folder=run_dir / "submitit", cluster=args.cluster)
    gpus = args.gpus_per_task if args.gpus_per_task is not None else int(str(args.device).startswith("cuda"))
    executor.update_parameters(timeout_min=args.timeout_min, gpus_per_node=gpus, tasks_per_node=1,
                               slurm_partition=args.partition, slurm_array_parallelism=args.max_parallel)
    return executor


def run_array(args, run_dir: Path, cells: list[str]) -> int:
    """Usage: see module docstring. Waits for every job; returns how many failed."""
    if not cells:
        return 0
    executor = array_executor(args, run_dir)
    n = len(cells)
    jobs = executor.map_array(CellJob(modules_from_environment()), cells, [str(run_dir)] * n,
                              [str(args.data_dir) if args.data_dir else None] * n, [args.device] * n,
                              [args.threads] * n)
    print(f"submitit ({executor.cluster}): {n} jobs, first {jobs[0].job_id}; logs in {run_dir / 'submitit'}")
    failed = 0
    for job, cell in zip(jobs, cells):
        try:
            code = job.result()
        except Exception as err:  # noqa: BLE001 - a job that died: its reason is this cell's failure
            from .cells import record_failure

            record_failure(run_dir, cell, err)
            code = 1
        failed += code != 0
        print(f"{cell}: {'done' if code == 0 else 'failed'} (job {job.job_id})")
    return failed
