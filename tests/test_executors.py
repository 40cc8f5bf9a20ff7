"""train-grid's executors on the smoke grid: a pool of two workers (its driver killed with SIGKILL and started
again) and submitit's local cluster give the serial run's finished cells and test metrics; failures are rows that
the next run retries; ``bench status`` describes finished, running, failed and left cells."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.__main__ import main
from bench.results import read_rows, recorded_cells
from bench.runs.status import describe, report_lines

ROOT = Path(__file__).resolve().parents[1]
GRID = ["train-grid", "smoke", "--device", "cpu", "--no-progress"]


def cell_metrics(run_dir: Path) -> dict:
    """{cell: (hr@10, ndcg@10, mrr@10)} of the finished cells; a cell committed twice fails here."""
    rows = read_rows(run_dir / "rows.jsonl")
    statuses = [r["cell"] for r in rows if r.get("bench") == "train" and r["metric"] == "status"]
    assert len(statuses) == len(set(statuses)), "a cell was committed twice"
    return {c: tuple(r["value"] for r in rows if r.get("cell") == c and r.get("split") == "test"
                     and r["metric"] in ("hr@10", "ndcg@10", "mrr@10")) for c in statuses}


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("serial") / "smoke"
    assert main([*GRID, "--run-dir", str(run_dir)]) == 0
    return run_dir


@pytest.fixture(scope="module")
def serial(smoke_run):
    return cell_metrics(smoke_run)


def test_the_smoke_grid_is_five_quick_cells(serial):
    assert len(serial) == 5 and all(len(values) == 3 for values in serial.values())


def test_a_pool_killed_with_sigkill_and_started_again_loses_nothing(serial, tmp_path):
    run_dir = tmp_path / "pool"
    command = [sys.executable, "-m", "bench", *GRID, "--run-dir", str(run_dir), "--executor", "local",
               "--workers", "2"]
    driver = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not list((run_dir / "cells").glob("*.claim")):
        time.sleep(0.1)  # until a worker holds a cell
    time.sleep(1.0)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    assert subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600).returncode == 0
    assert cell_metrics(run_dir) == serial  # every cell, once, with the serial run's numbers
    assert describe(run_dir)["running"] == {}  # a killed worker's claim may stay behind, stale: nobody holds it


def test_submitit_runs_the_grid_as_a_job_array(serial, tmp_path):
    pytest.importorskip("submitit")
    run_dir = tmp_path / "array"
    assert main([*GRID, "--run-dir", str(run_dir), "--executor", "submitit", "--cluster", "local",
                 "--timeout-min", "10"]) == 0  # every job a process of its own, all at once
    assert cell_metrics(run_dir) == serial
    assert (run_dir / "submitit").is_dir()


def test_a_failed_cell_is_a_row_with_its_reason_and_the_next_run_retries_it(serial, tmp_path, monkeypatch, capsys):
    import bench.train.grid as grid

    run_dir = tmp_path / "failing"
    real = grid.run_cell

    def failing_once(run_dir_, config, data, dataset, progress, env, *where):
        if not getattr(failing_once, "done", False) and config.attention == "dot" and config.model == "sasrec":
            failing_once.done = True
            raise RuntimeError("CUDA error: out of luck\nsecond line")
        return real(run_dir_, config, data, dataset, progress, env, *where)

    monkeypatch.setattr(grid, "run_cell", failing_once)
    assert main([*GRID, "--run-dir", str(run_dir)]) == 1
    failures = [r for r in read_rows(run_dir / "rows.jsonl") if r.get("bench") == "train_failure"]
    assert len(failures) == 1 and failures[0]["message"] == "RuntimeError: CUDA error: out of luck"
    state = describe(run_dir)
    assert (state["finished"], len(state["failed"]), state["left"]) == (4, 1, 0)
    assert main(["status", str(run_dir)]) == 1 and "failed: " in capsys.readouterr().out
    assert main([*GRID, "--run-dir", str(run_dir)]) == 0  # retried, and now it trains
    assert cell_metrics(run_dir) == serial and describe(run_dir)["failed"] == {}


def test_status_names_who_runs_a_cell_and_since_when(tmp_path):
    run_dir = tmp_path / "run"
    (run_dir / "cells").mkdir(parents=True)
    (run_dir / "config.json").write_text(json.dumps({"command": "train"}))
    (run_dir / "plan.json").write_text(json.dumps({"grid": "smoke", "cells": ["a", "b", "c"]}))
    (run_dir / "rows.jsonl").write_text(json.dumps({"bench": "train", "cell": "a", "metric": "status",
                                                    "status": "finished", "seconds": 30.0}) + "\n")
    (run_dir / "cells" / "b.claim").write_text(json.dumps({"owner": f"elsewhere:{os.getpid()}", "since": time.time(),
                                                           "heartbeat": time.time()}))
    state = describe(run_dir)
    assert (state["finished"], list(state["running"]), state["left"]) == (1, ["b"], 1)
    assert state["seconds_left"] == pytest.approx(60.0)  # two cells at 30 s each, one worker
    lines = report_lines(run_dir, state)
    assert "1 of 3 finished, 1 running, 0 failed, 1 left; about 1.0 min left" in lines[0]
    assert lines[1].startswith("  running: b by elsewhere:")


def test_a_torn_cell_record_leaves_the_others_standing(tmp_path):
    (tmp_path / "cells").mkdir()
    (tmp_path / "cells" / "a.config.json").write_text(json.dumps({"train": {"attention": "dot"}}))
    (tmp_path / "cells" / "b.config.json").write_text('{"train": {"att')
    assert list(recorded_cells(tmp_path)) == ["a"]


def test_a_cell_is_announced_with_what_it_varies_in_its_grid():
    from dataclasses import replace

    from bench.train import TrainConfig
    from bench.train.grid import what_varies

    base = TrainConfig(hidden=32, inner=64)
    grid = [base, replace(base, attention="linrec"), replace(base, hidden=16, inner=32), replace(base, max_len=20)]
    assert what_varies(grid[2], grid) == "hidden=16, inner=32"
    assert what_varies(grid[1], grid) == "" and what_varies(grid[3], grid) == ""  # attention and N are shown anyway


def test_a_finished_identical_cell_is_copied_not_trained_again(smoke_run, serial, tmp_path, capsys):
    run_dir = tmp_path / "ablation"
    assert main([*GRID, "--run-dir", str(run_dir), "--reuse-from", str(smoke_run)]) == 0
    out = capsys.readouterr().out
    assert out.count("reused from smoke (the same cell, finished there on the same data)") == 5
    assert "5 cells, 0 finished, 5 reused from smoke, 0 to run" in out and ": training (" not in out
    assert cell_metrics(run_dir) == serial
    rows = read_rows(run_dir / "rows.jsonl")
    assert {(r["run_id"], r["reused_from"]) for r in rows} == {("ablation", "smoke")}
    assert recorded_cells(run_dir) == recorded_cells(smoke_run)  # the environment each cell was trained in
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == \
        sorted(p.name for p in (smoke_run / "checkpoints").iterdir())
    assert main([*GRID, "--run-dir", str(run_dir), "--reuse-from", str(smoke_run)]) == 0
    assert "5 finished, 0 to run" in capsys.readouterr().out  # copied once: the copy is this folder's own now


def test_only_a_cell_finished_once_on_the_same_data_is_reused(smoke_run, tmp_path):
    from bench.train.reuse import finished_rows

    rows = read_rows(smoke_run / "rows.jsonl")
    status = next(r for r in rows if r.get("metric") == "status" and r.get("bench") == "train")
    cell, digest = status["cell"], status["data_sha256"]
    assert finished_rows(smoke_run, digest)[cell] == [r for r in rows if r.get("cell") == cell]
    assert len(finished_rows(smoke_run, digest)) == 5
    assert finished_rows(smoke_run, "0" * 64) == {}  # the data changed since
    assert finished_rows(tmp_path, digest) == {}  # no rows at all
    for changed, why in (({**status, "status": "diverged"}, "diverged"), (None, "committed twice")):
        other = tmp_path / why
        other.mkdir()
        mine = [changed if r is status else r for r in rows] if changed else rows + [status]
        (other / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in mine))
        assert cell not in finished_rows(other, digest), why
        assert len(finished_rows(other, digest)) == 4  # the other cells stand


def test_reusing_from_a_folder_without_rows_is_one_line(tmp_path, capsys):
    assert main([*GRID, "--run-dir", str(tmp_path / "run"), "--reuse-from", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err.strip()
    assert "--reuse-from" in err and "no rows.jsonl" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "run" / "rows.jsonl").exists()
