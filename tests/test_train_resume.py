"""Epoch-level resumption: a cell killed after any epoch continues and gives the numbers of an uninterrupted run."""
import pytest
import torch

import bench.train.loop as train_module
from bench.results import read_rows
from bench.train import TrainConfig, train
from bench.train.log import DataChanged
from bench.train.resume import resume_path
from tests.conftest import cyclic_data

TINY = dict(max_len=8, hidden=16, inner=32, heads=2, layers=1, batch_size=64, epochs=4, lr=5e-3, patience=4)


CLOCK = ("epoch_time", "eval_time", "data_share", "others_cpu", "steal")  # rows that depend on the clock or load


class Killed(Exception):
    pass


def run(run_dir, **options):
    config = TrainConfig(**{**TINY, **options})
    return train(config, cyclic_data(), run_dir, dataset="cyclic", progress=False)


def epoch_values(run_dir):
    """(split, epoch, metric) -> value for every row whose value does not depend on the clock."""
    rows = [r for r in read_rows(run_dir / "rows.jsonl") if r["metric"] not in CLOCK]
    keys = [(r.get("split"), r.get("epoch"), r["metric"]) for r in rows]
    assert len(keys) == len(set(keys)), "a row was written twice"
    return {key: r["value"] for key, r in zip(keys, rows) if r["metric"] not in ("resumed", "status")}


def kill_after_save(monkeypatch, at_epoch, before=False):
    """Make the run die right after (or right before) the resume state of ``at_epoch`` is written."""
    real = train_module.save_resume

    def dying(path, cell, epoch, *args):
        if before and epoch == at_epoch:
            raise Killed
        real(path, cell, epoch, *args)
        if epoch == at_epoch:
            raise Killed

    monkeypatch.setattr(train_module, "save_resume", dying)


@pytest.fixture
def uninterrupted(tmp_path):
    summary = run(tmp_path / "whole")
    return summary, epoch_values(tmp_path / "whole")


@pytest.mark.parametrize("at_epoch, before", [(1, False), (2, False), (3, True)],
                         ids=["after-epoch-1", "after-epoch-2", "rows-written-state-not"])
def test_a_killed_cell_resumes_to_the_same_numbers(tmp_path, monkeypatch, uninterrupted, at_epoch, before):
    run_dir = tmp_path / "killed"
    kill_after_save(monkeypatch, at_epoch, before)
    with pytest.raises(Killed):
        run(run_dir)
    monkeypatch.undo()
    summary = run(run_dir)
    assert summary["test"] == uninterrupted[0]["test"] and summary["best_epoch"] == uninterrupted[0]["best_epoch"]
    assert epoch_values(run_dir) == uninterrupted[1]
    resumed = [r for r in read_rows(run_dir / "rows.jsonl") if r["metric"] == "resumed"]
    assert [r["value"] for r in resumed] == [at_epoch - 1 if before else at_epoch]
    assert not list((run_dir / "cells").iterdir()), "the resume state and partial rows are removed at the end"


def test_an_early_stopped_cell_killed_before_its_test_resumes_without_training(tmp_path, monkeypatch):
    options = dict(epochs=12, patience=1, lr=5e-2)
    whole = run(tmp_path / "whole", **options)
    assert whole["epochs_run"] < 12, "the fixture must stop early"
    real_evaluate = train_module.evaluate
    monkeypatch.setattr(train_module, "evaluate",
                        lambda model, split, which, **kw: (_ for _ in ()).throw(Killed) if which == "test"
                        else real_evaluate(model, split, which, **kw))
    with pytest.raises(Killed):
        run(tmp_path / "killed", **options)
    monkeypatch.undo()
    trained = []
    monkeypatch.setattr(train_module, "train_one_epoch", lambda *a: trained.append(1))
    again = run(tmp_path / "killed", **options)
    assert not trained and again["test"] == whole["test"] and again["epochs_run"] == whole["epochs_run"]


@pytest.mark.parametrize("damage", ["torn", "other-cell"])
def test_an_unusable_resume_state_starts_the_cell_over(tmp_path, monkeypatch, uninterrupted, damage):
    run_dir = tmp_path / "killed"
    kill_after_save(monkeypatch, 2)
    with pytest.raises(Killed):
        run(run_dir)
    monkeypatch.undo()
    path = next((run_dir / "cells").glob("*.resume.pt"))
    if damage == "torn":
        path.write_bytes(path.read_bytes()[:100])
    else:
        state = torch.load(path, weights_only=True)
        torch.save({**state, "cell": "another"}, path)
    with pytest.warns(UserWarning, match="starts over"):
        summary = run(run_dir)
    assert summary["test"] == uninterrupted[0]["test"] and epoch_values(run_dir) == uninterrupted[1]
    assert not any(r["metric"] == "resumed" for r in read_rows(run_dir / "rows.jsonl"))


def test_a_resume_state_without_its_rows_starts_over(tmp_path, monkeypatch, uninterrupted):
    run_dir = tmp_path / "killed"
    kill_after_save(monkeypatch, 2)
    with pytest.raises(Killed):
        run(run_dir)
    monkeypatch.undo()
    next((run_dir / "cells").glob("*.partial.jsonl")).unlink()
    summary = run(run_dir)
    assert summary["test"] == uninterrupted[0]["test"] and epoch_values(run_dir) == uninterrupted[1]


def test_the_resume_state_loads_with_weights_only(tmp_path, monkeypatch):
    kill_after_save(monkeypatch, 1)
    with pytest.raises(Killed):
        run(tmp_path)
    cell = TrainConfig(**TINY).cell_id("cyclic")
    state = torch.load(resume_path(tmp_path, cell), weights_only=True)
    assert state["epoch"] == 1 and state["cell"] == cell and "embedding.items.weight" in state["best_model"]


@pytest.mark.parametrize("changed", [dict(seed=1), dict(items=23)], ids=["same-item-count", "new-item-count"])
def test_resuming_on_changed_data_is_refused_with_one_line(tmp_path, monkeypatch, changed):
    kill_after_save(monkeypatch, 2)
    with pytest.raises(Killed):
        run(tmp_path)
    monkeypatch.undo()
    config = TrainConfig(**TINY)
    other = cyclic_data(**changed)
    assert other.content_sha256() != cyclic_data().content_sha256()
    with pytest.raises(DataChanged, match=r"^cyclic-.*: trained on data with SHA-256 [0-9a-f]{12}\.\.\., but the "
                                          r"data now has [0-9a-f]{12}\.\.\.: the data changed since: .* delete "):
        train(config, other, tmp_path, dataset="cyclic", progress=False)
    assert next((tmp_path / "cells").glob("*.resume.pt")).exists(), "nothing is lost"
    assert run(tmp_path)["status"] == "finished"  # on the data it started with, the cell resumes


def test_the_data_digest_is_in_every_row_and_the_resume_state(tmp_path, monkeypatch):
    kill_after_save(monkeypatch, 1)
    with pytest.raises(Killed):
        run(tmp_path)
    state = torch.load(next((tmp_path / "cells").glob("*.resume.pt")), weights_only=True)
    assert state["data_sha256"] == cyclic_data().content_sha256()
    monkeypatch.undo()
    run(tmp_path)
    assert {r["data_sha256"] for r in read_rows(tmp_path / "rows.jsonl")} == {cyclic_data().content_sha256()}
