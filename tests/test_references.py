"""The committed reference runs describe clean code: every commit a reference records (its env.json, its rows'
``git_commit``, each training cell's recorded environment) is a clean one, so its numbers belong to a commit anyone
can check out."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.results import load_runs
from reports.provenance import run_commits

ROOT = Path(__file__).resolve().parents[1]
REFERENCES = sorted(path for path in (ROOT / "results").glob("reference-*") if path.is_dir())


def dirty_commits(run: Path) -> list[str]:
    """The commits ``run`` records that were taken on a tree with uncommitted changes; a run that records no
    commit at all counts as one."""
    commits, _ = run_commits(run, load_runs(run))
    return [c for c in commits if c.endswith("-dirty")] if commits else ["no recorded commit"]


def test_there_are_references_to_check():
    assert {"reference-ml100k", "reference-profile-cpu", "reference-perf-cpu"} <= {p.name for p in REFERENCES}


@pytest.mark.parametrize("run", REFERENCES, ids=lambda path: path.name)
def test_a_committed_reference_was_measured_at_a_clean_commit(run):
    assert dirty_commits(run) == [], f"{run.name}: measure it again at a clean commit"


@pytest.mark.parametrize("env, rows, found", [
    ({"git_commit": "abc"}, [{"bench": "perf", "value": 1.0}], []),
    ({"git_commit": "abc-dirty"}, [{"bench": "perf", "value": 1.0}], ["abc-dirty"]),
    ({"git_commit": "abc"}, [{"bench": "perf", "value": 1.0, "git_commit": "def-dirty"}], ["def-dirty"]),
    ({}, [{"bench": "perf", "value": 1.0}], ["no recorded commit"]),
], ids=["clean", "dirty-env", "dirty-row", "none"])
def test_the_check_finds_a_dirty_or_missing_commit(tmp_path, env, rows, found):
    run = tmp_path / "reference-x"
    run.mkdir()
    (run / "env.json").write_text(json.dumps(env))
    (run / "rows.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    assert dirty_commits(run) == found
