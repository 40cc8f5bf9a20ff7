"""Training: objectives, refusals, determinism, divergence, checkpoints, resumption and the sanity floors."""
import json

import pytest
import torch

import bench.train.loop as train_module
from bench.results import read_rows
from bench.train import TrainConfig, train
from bench.train.log import finished_cells
from tests.conftest import cyclic_data

TINY = dict(max_len=8, hidden=16, inner=32, heads=2, layers=1, batch_size=64, epochs=3, lr=5e-3, patience=2)


def run(tmp_path, data=None, **options):
    config = TrainConfig(**{**TINY, **options})
    return train(config, data or cyclic_data(), tmp_path, dataset="cyclic", progress=False), config


def test_rows_describe_every_epoch_and_the_test(tmp_path):
    summary, config = run(tmp_path)
    rows = read_rows(tmp_path / "rows.jsonl")
    metrics = {(r.get("split"), r["metric"]) for r in rows}
    for needed in [("train", "loss"), ("train", "epoch_time"), ("train", "data_share"), ("valid", "ndcg@10"),
                   ("test", "hr@10"), ("test", "mrr@20"), ("train", "best_epoch"), (None, "status")]:
        assert needed in metrics
    assert {r["protocol"] for r in rows} == {"full"} and {r["cell"] for r in rows} == {summary["cell"]}
    assert all(0 <= r["value"] <= 1 for r in rows if r["metric"] == "data_share")
    assert summary["status"] == "finished" and not list((tmp_path / "cells").iterdir())


def test_same_seed_same_metrics_and_other_seed_differs(tmp_path):
    first, _ = run(tmp_path / "a", seed=1)
    again, _ = run(tmp_path / "b", seed=1)
    other, _ = run(tmp_path / "c", seed=2)
    assert first["test"] == again["test"]
    assert first["test"] != other["test"]


@pytest.mark.parametrize("options", [
    dict(attention="dot"), dict(attention="linrec"), dict(attention="linrec_causal", objective="all"),
    dict(attention="dot", objective="all", loss="bce"), dict(model="bert4rec", attention="linrec", objective="cloze"),
    dict(model="pop", attention="dot"),
], ids=["sasrec-dot", "sasrec-linrec", "sasrec-all-linrec_causal", "sasrec-all-bce", "bert4rec-cloze", "pop"])
def test_every_model_and_objective_trains(tmp_path, options):
    summary, _ = run(tmp_path, epochs=1, **options)
    assert summary["status"] == "finished" and 0 <= summary["test"]["ndcg@10"] <= 1


@pytest.mark.parametrize("options, message", [
    pytest.param(dict(attention="linrec", objective="all"), "is not causal", id="all-noncausal"),
    pytest.param(dict(attention="linrec_official", objective="all"), "ignores the attention mask", id="all-official"),
    pytest.param(dict(model="bert4rec", objective="last"), "trains with objective cloze", id="bert4rec-last"),
    pytest.param(dict(loss="hinge"), "unknown loss", id="loss"),
    pytest.param(dict(attention="xformers"), "cannot run on cpu", id="unavailable"),
    pytest.param(dict(protocol="uni100", exclude_seen=True), "full ranking only", id="exclude-sampled"),
])
def test_refusals_are_one_line(tmp_path, options, message):
    with pytest.raises(ValueError, match=message):
        run(tmp_path, **options)
    assert not (tmp_path / "rows.jsonl").exists()


def test_nan_loss_stops_with_a_diverged_row(tmp_path, monkeypatch):
    real = train_module.compute_loss
    calls = {"n": 0}

    def poisoned(*args):
        calls["n"] += 1
        loss = real(*args)
        return loss * float("nan") if calls["n"] > 3 else loss

    monkeypatch.setattr(train_module, "compute_loss", poisoned)
    summary, _ = run(tmp_path, batch_size=512)
    rows = read_rows(tmp_path / "rows.jsonl")
    status = [r for r in rows if r["metric"] == "status"]
    assert summary["status"] == "diverged" and status[0]["status"] == "diverged"
    assert "nan" in status[0]["message"] and "epoch 2" in status[0]["message"]
    tested = [r for r in rows if r.get("split") == "test"]
    assert tested and {r["epoch"] for r in tested} == {1}  # the best model, of epoch 1, was tested


def test_checkpoint_reloads_with_weights_only(tmp_path):
    summary, _ = run(tmp_path, epochs=1)
    state = torch.load(tmp_path / "checkpoints" / f"{summary['cell']}.pt", weights_only=True)
    assert "embedding.items.weight" in state


def test_finished_cells_are_known_and_a_killed_attempt_leaves_no_rows(tmp_path):
    summary, config = run(tmp_path, epochs=1)
    assert finished_cells(tmp_path) == {summary["cell"]}
    partial = tmp_path / "cells" / "other.partial.jsonl"
    partial.write_text(json.dumps({"cell": "other", "metric": "loss", "value": 1}) + "\n")
    assert finished_cells(tmp_path) == {summary["cell"]}


def test_model_beats_pop_and_shuffled_order_does_worse(tmp_path):
    data = cyclic_data(users=80, items=30)
    options = dict(epochs=8, patience=8, lr=1e-2)
    real, _ = run(tmp_path / "real", data, **options)
    shuffled, _ = run(tmp_path / "shuffled", data, shuffle_train_order=True, **options)
    pop, _ = run(tmp_path / "pop", data, model="pop")
    assert real["test"]["ndcg@10"] > 0.5 > pop["test"]["ndcg@10"] + 0.2
    assert real["test"]["ndcg@10"] > shuffled["test"]["ndcg@10"] + 0.2


def test_dataset_labels_name_the_preprocessing():
    from bench.data import make_synthetic
    from bench.train.config import dataset_label

    data = cyclic_data()
    assert dataset_label(data) == "cyclic"
    assert dataset_label(type(data)(**{**data.__dict__, "preprocessing": {"user_k": 5, "item_k": 5}})) == "cyclic-5core"
    small, other = make_synthetic(num_users=3, seed=0), make_synthetic(num_users=3, seed=1)
    assert dataset_label(small).startswith("synthetic-") and dataset_label(small) != dataset_label(other)


@pytest.mark.parametrize("lengths, model, message", [
    pytest.param(3, "sasrec", "no training pairs", id="three-items-each"),
    pytest.param(2, "sasrec", "no user has 3 or more interactions", id="two-items-each"),
    pytest.param(2, "pop", "no user has 3 or more interactions", id="two-items-each-pop"),
])
def test_data_with_nothing_to_learn_is_one_line_before_training(tmp_path, lengths, model, message):
    from tests.conftest import sequence_data

    data = sequence_data([[1 + (u + i) % 5 for i in range(lengths)] for u in range(8)], num_items=5)
    with pytest.raises(ValueError, match=message) as info:
        run(tmp_path, data, model=model)
    assert "\n" not in str(info.value) and not (tmp_path / "rows.jsonl").exists()


def test_every_epoch_records_its_steps_and_the_load_it_was_timed_under(tmp_path):
    config = TrainConfig(max_len=8, hidden=16, inner=32, heads=2, layers=1, batch_size=64, epochs=2, lr=5e-3)
    train(config, cyclic_data(), tmp_path, dataset="cyclic", progress=False)
    rows = read_rows(tmp_path / "rows.jsonl")
    pairs = [r["value"] for r in rows if r["metric"] == "pairs"]
    assert [r["value"] for r in rows if r["metric"] == "steps"] == [-(-p // 64) for p in pairs] and len(pairs) == 2
    for metric in ("others_cpu", "steal"):  # shares of the machine's CPU time: /proc/stat is there on Linux
        values = [r["value"] for r in rows if r["metric"] == metric]
        assert len(values) == 2 and all(0 <= v <= 1 for v in values), metric


def test_the_status_row_records_which_linrec_kernel_ran(tmp_path):
    from models.attention.linrec_kernels import kernel_path

    config = TrainConfig(attention="linrec", max_len=8, hidden=16, inner=32, heads=2, layers=1, epochs=1)
    train(config, cyclic_data(), tmp_path, dataset="cyclic", progress=False)
    status = [r for r in read_rows(tmp_path / "rows.jsonl") if r["metric"] == "status"]
    assert status[0]["kernel"] == kernel_path()


def test_the_message_says_whether_patience_or_the_epoch_limit_stopped_training(tmp_path):
    from bench.train.loop import stop_message

    config = TrainConfig(epochs=6, patience=2)
    assert stop_message(4, config) == "early stop at epoch 4: no better valid NDCG@10 for 2 epochs"
    assert stop_message(6, config) == ("early stop at epoch 6 (also the epoch limit): no better valid NDCG@10 for 2 "
                                       "epochs")
    summary, _ = run(tmp_path, epochs=1, patience=4)
    assert summary["message"] == "epoch limit 1 reached"


def test_progress_bars_only_on_a_terminal():
    from bench.cli import show_progress

    assert show_progress(True) is False  # pytest captures stderr: a log, not a terminal
    assert show_progress(False) is False
