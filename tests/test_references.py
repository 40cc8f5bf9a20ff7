"""The committed reference runs describe clean code at one commit: every commit a reference records (its env.json,
its rows' ``git_commit``, each training cell's recorded environment) is the same clean one, and every training cell
has its record, so its numbers belong to a commit anyone can check out."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.results import load_runs
from reports.provenance import read_optional, run_commits

ROOT = Path(__file__).resolve().parents[1]
REFERENCES = sorted(path for path in (ROOT / "results").glob("reference-*") if path.is_dir())


def reference_problems(run: Path) -> list[str]:
    """Usage: reference_problems(run_dir) -> what keeps its numbers from naming one clean commit (empty: none)."""
    commits, unrecorded = run_commits(run, load_runs(run))
    env = read_optional(run / "env.json")
    if not commits:
        return ["no recorded commit"]
    problems = [f"dirty {commit}" for commit in commits if commit.endswith("-dirty")]
    if len(commits) > 1:
        problems.append(f"{len(commits)} commits")
    if unrecorded:
        problems.append(f"{unrecorded} training cell(s) without cells/<cell>.config.json")
    if env.get("git_commit") != commits[0]:
        problems.append(f"env.json names {env.get('git_commit')}, the numbers {commits[0]}")
    return problems


def test_there_are_references_to_check():
    assert {"reference-ml100k", "reference-profile-cpu", "reference-perf-cpu"} <= {p.name for p in REFERENCES}


@pytest.mark.parametrize("run", REFERENCES, ids=lambda path: path.name)
def test_a_committed_reference_names_one_clean_commit(run):
    assert reference_problems(run) == [], f"{run.name}: measure it again at one clean commit"


def write_run(run: Path, env: dict, rows: list[dict], cells: dict | None = None) -> Path:
    (run / "cells").mkdir(parents=True)
    (run / "env.json").write_text(json.dumps(env))
    (run / "rows.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    for cell, commit in (cells or {}).items():
        (run / "cells" / f"{cell}.config.json").write_text(json.dumps({"env": {"git_commit": commit}}))
    return run


PERF = {"bench": "perf", "value": 1.0}
TRAINED = {"bench": "train", "cell": "c1", "metric": "status", "status": "finished", "git_commit": "abc",
           "model": "sasrec", "attention": "dot", "dataset": "d", "max_len": 50, "protocol": "full", "seed": 0}


@pytest.mark.parametrize("env, rows, cells, found", [
    ({"git_commit": "abc"}, [PERF], None, []),
    ({"git_commit": "abc"}, [TRAINED], {"c1": "abc"}, []),
    ({"git_commit": "abc-dirty"}, [PERF], None, ["dirty abc-dirty"]),
    ({"git_commit": "abc"}, [{**PERF, "git_commit": "def-dirty"}], None,
     ["dirty def-dirty", "env.json names abc, the numbers def-dirty"]),
    ({}, [PERF], None, ["no recorded commit"]),
    ({"git_commit": "abc"}, [TRAINED, {**TRAINED, "cell": "c2", "git_commit": "def"}], {"c1": "abc", "c2": "def"},
     ["2 commits"]),
    ({"git_commit": "abc"}, [TRAINED], None, ["1 training cell(s) without cells/<cell>.config.json"]),
    ({"git_commit": "old"}, [TRAINED], {"c1": "abc"}, ["env.json names old, the numbers abc"]),
], ids=["clean", "clean-training", "dirty-env", "dirty-row", "none", "mixed-commits", "unrecorded-cell",
        "env-disagrees"])
def test_the_check_finds_each_problem(tmp_path, env, rows, cells, found):
    assert reference_problems(write_run(tmp_path / "reference-x", env, rows, cells)) == found
