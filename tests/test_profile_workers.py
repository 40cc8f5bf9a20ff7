"""Several workers on one profiling sweep: every cell measured once, whether two drivers share a folder, a local
pool of workers runs it, or a submitit job array does; a CPU pool of several workers is refused in one line."""
from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from bench.__main__ import main
from bench.results import read_rows

ROOT = Path(__file__).resolve().parents[1]
SWEEP = ["profile", "--attention", "dot", "linrec", "--lengths", "16", "32", "64", "--mode", "fwd", "--no-memory",
         "--repeats", "2", "--warmup", "0", "--device", "cpu", "--no-progress", "--load-attempts", "1"]
CELLS = 6


def measured_once(run_dir: Path) -> bool:
    rows = read_rows(run_dir / "rows.jsonl")
    per_cell = Counter(r["cell"] for r in rows)
    return len(per_cell) == CELLS and all(per_cell[r["cell"]] == r["cell_rows"] for r in rows)


def test_a_cpu_pool_of_several_workers_is_refused_in_one_line(tmp_path, capsys):
    assert main([*SWEEP, "--run-dir", str(tmp_path / "run"), "--executor", "local", "--workers", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert "measures their contention" in err and len(err.splitlines()) == 1 and not (tmp_path / "run").exists()


def test_two_drivers_on_one_folder_measure_every_cell_once(tmp_path):
    command = [sys.executable, "-m", "bench", *SWEEP, "--run-dir", str(tmp_path / "run")]
    drivers = [subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
               for _ in range(2)]
    assert [d.wait(timeout=600) for d in drivers] == [0, 0], [d.stderr.read() for d in drivers]
    assert measured_once(tmp_path / "run")


def test_a_local_pool_with_a_gpu_each_measures_every_cell_once(tmp_path):
    run_dir = tmp_path / "run"
    assert main([*SWEEP, "--run-dir", str(run_dir), "--executor", "local", "--workers", "2", "--gpus", "0", "1"]) == 0
    assert measured_once(run_dir) and len(list((run_dir / "workers").glob("*.log"))) == 2


def test_a_submitit_array_of_workers_measures_every_cell_once(tmp_path):
    pytest.importorskip("submitit")
    run_dir = tmp_path / "run"
    assert main([*SWEEP, "--run-dir", str(run_dir), "--executor", "submitit", "--cluster", "debug",
                 "--max-parallel", "2"]) == 0
    assert measured_once(run_dir)
