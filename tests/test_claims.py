"""Claims on cells (bench/runs/claims.py): one worker per cell, stale claims taken over, two drivers on one folder at
once train every cell of the smoke grid exactly once."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import bench.runs.claims as claims
from bench.results import read_rows

ROOT = Path(__file__).resolve().parents[1]


def write_claim(path: Path, owner: str, heartbeat: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"owner": owner, "since": heartbeat, "heartbeat": heartbeat}))


def test_the_first_worker_holds_a_cell_and_a_second_is_told_who_does(tmp_path):
    with claims.claimed(tmp_path, "cell-a") as mine:
        assert mine is None and claims.claim_path(tmp_path, "cell-a").exists()
        other = claims.take_over(claims.claim_path(tmp_path, "cell-a"))
        assert other["owner"] == claims.owner_id()  # alive (this very process): not taken
    assert not claims.claim_path(tmp_path, "cell-a").exists(), "released when the cell ends"


@pytest.mark.parametrize("owner, age", [("some-other-host:123", claims.STALE_S + 5),
                                        (f"{__import__('socket').gethostname()}:999999999", 0.0)],
                         ids=["no-heartbeat", "dead-process-here"])
def test_a_stale_claim_is_taken_over(tmp_path, owner, age):
    path = claims.claim_path(tmp_path, "cell-a")
    write_claim(path, owner, time.time() - age)
    assert claims.try_claim(path) is None
    assert json.loads(path.read_text())["owner"] == claims.owner_id()


def test_a_live_claim_elsewhere_is_left_alone_and_so_is_a_takeover_in_progress(tmp_path):
    path = claims.claim_path(tmp_path, "cell-a")
    write_claim(path, "some-other-host:123", time.time())
    assert claims.try_claim(path)["owner"] == "some-other-host:123"
    write_claim(path, "some-other-host:123", time.time() - claims.STALE_S - 5)
    path.with_name(path.name + ".takeover").write_text("")  # another worker is taking it over right now
    assert claims.try_claim(path) is not None and json.loads(path.read_text())["owner"] == "some-other-host:123"


def test_an_unwritten_claim_is_judged_by_its_files_age(tmp_path):
    path = claims.claim_path(tmp_path, "cell-a")
    path.parent.mkdir(parents=True)
    path.write_text("")  # a worker killed between creating and writing its claim
    assert claims.try_claim(path) is not None  # fresh: left alone
    old = time.time() - claims.STALE_S - 5
    os.utime(path, (old, old))
    assert claims.try_claim(path) is None


def test_the_heartbeat_is_renewed_while_the_cell_runs_and_stops_once_taken_over(tmp_path, monkeypatch):
    monkeypatch.setattr(claims, "HEARTBEAT_S", 0.05)
    path = claims.claim_path(tmp_path, "cell-a")
    with claims.claimed(tmp_path, "cell-a"):
        first = json.loads(path.read_text())["heartbeat"]
        time.sleep(0.3)
        assert json.loads(path.read_text())["heartbeat"] > first
        write_claim(path, "thief:1", time.time())  # this worker stalled past STALE_S and lost the cell
        time.sleep(0.3)
        assert json.loads(path.read_text())["owner"] == "thief:1"
    assert path.exists(), "another worker's claim is not removed"


def test_two_drivers_on_one_folder_train_every_cell_once(tmp_path):
    run_dir = tmp_path / "smoke"
    command = [sys.executable, "-m", "bench", "train-grid", "smoke", "--run-dir", str(run_dir), "--no-progress",
               "--device", "cpu"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    drivers = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True) for _ in range(2)]
    outputs = [driver.communicate(timeout=600)[0] for driver in drivers]
    assert [driver.returncode for driver in drivers] == [0, 0], outputs
    statuses = [r["cell"] for r in read_rows(run_dir / "rows.jsonl") if r["metric"] == "status"]
    assert len(statuses) == len(set(statuses)) == 5, "every cell once, none twice"
    assert not list((run_dir / "cells").glob("*.claim")), "every claim released"
    assert main_summary(run_dir) == 0


def main_summary(run_dir) -> int:
    from bench.__main__ import main

    return main(["train-summary", str(run_dir)])
