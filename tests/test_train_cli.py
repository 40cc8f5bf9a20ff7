"""``python -m bench train`` and ``train-grid`` end to end on a tiny RecBole .inter file the test writes."""
import pytest

from bench.__main__ import main
from bench.results import read_json, read_rows, recorded_cells, write_json
from bench.train import TrainConfig, grids
from tests.conftest import cyclic_data

FAST = ["--max-len", "6", "--hidden", "8", "--inner", "16", "--layers", "1", "--epochs", "2", "--batch-size", "128",
        "--no-progress"]


@pytest.fixture
def inter_file(tmp_path):
    data = cyclic_data(users=30, items=15)
    lines = ["user_id:token\titem_id:token\trating:float\ttimestamp:float"]
    for user in range(len(data.offsets) - 1):
        for step, item in enumerate(data.items[data.offsets[user]:data.offsets[user + 1]]):
            lines.append(f"u{user}\ti{item}\t1\t{1000 + step}")
    path = tmp_path / "toy.inter"
    path.write_text("\n".join(lines) + "\n")
    return path


def train_args(inter_file, run_dir, *extra):
    return ["train", "--dataset", "inter", "--path", str(inter_file), "--run-dir", str(run_dir), *FAST, *extra]


def test_train_writes_rows_and_skips_a_finished_cell(inter_file, tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert main(train_args(inter_file, run_dir, "--attention", "linrec")) == 0
    rows = read_rows(run_dir / "rows.jsonl")
    assert {r["attention"] for r in rows} == {"linrec"} and {r["dataset"] for r in rows} == {"toy"}
    assert (run_dir / "env.json").exists() and read_json(run_dir / "config.json") == {"command": "train"}
    assert list(recorded_cells(run_dir)) == [rows[0]["cell"]]  # the cell's own record, cells/<cell>.config.json
    assert main(train_args(inter_file, run_dir, "--attention", "linrec")) == 0
    assert "already finished" in capsys.readouterr().out
    assert len(read_rows(run_dir / "rows.jsonl")) == len(rows)


def test_a_mixer_trains_by_name_and_records_its_path(inter_file, tmp_path):
    run_dir = tmp_path / "run"
    assert main(train_args(inter_file, run_dir, "--mixer", "gru", "--mixer-option", "path=naive")) == 0
    rows = read_rows(run_dir / "rows.jsonl")
    assert {r["attention"] for r in rows} == {"gru"} and {r["mixer_options"] for r in rows} == {"path=naive"}
    assert "-sasrec-gru-" in rows[0]["cell"]
    assert {r.get("kernel") for r in rows if "kernel" in r} <= {"naive"}


def test_mixer_and_attention_are_one_option(inter_file, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(train_args(inter_file, tmp_path / "run", "--mixer", "gru", "--attention", "dot"))
    assert "not allowed with argument" in capsys.readouterr().err


@pytest.mark.parametrize("extra, message", [
    pytest.param(["--attention", "linrec", "--objective", "all"], "is not causal", id="all-noncausal"),
    pytest.param(["--attention", "nope"], "unknown mixer 'nope'; valid names: dot", id="unknown-attention"),
    pytest.param(["--mixer", "nope"], "unknown mixer 'nope'; valid names: dot", id="unknown-mixer"),
    pytest.param(["--model", "bert4rec", "--mixer", "gru"], "is causal only", id="bert4rec-causal-only-mixer"),
    pytest.param(["--mixer", "gru", "--mixer-option", "nope=1"], "has no option nope", id="unknown-mixer-option"),
    pytest.param(["--mixer", "gru", "--mixer-option", "path"], "is not key=value", id="mixer-option-not-pair"),
    pytest.param(["--mixer", "gru", "--block", "published"], "has none", id="no-published-block"),
    pytest.param(["--model", "bert4rec", "--objective", "last"], "trains with objective cloze", id="bert4rec-last"),
    pytest.param(["--heads", "3"], "not divisible", id="heads"),
])
def test_bad_settings_are_one_line_errors(inter_file, tmp_path, capsys, extra, message):
    assert main(train_args(inter_file, tmp_path / "run", *extra)) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("extra", [["--dropout", "1.5"], ["--epochs", "0"], ["--lr", "-1"], ["--protocol", "pop5"],
                                   ["--lr", "inf"], ["--lr", "nan"], ["--weight-decay", "inf"],
                                   ["--weight-decay", "-1"]],
                         ids=["dropout", "epochs", "lr", "protocol", "lr-inf", "lr-nan", "decay-inf", "decay-negative"])
def test_bad_numbers_are_refused_by_the_parser(inter_file, tmp_path, extra):
    with pytest.raises(SystemExit) as exit_info:
        main(train_args(inter_file, tmp_path / "run", *extra))
    assert exit_info.value.code == 2


def test_a_folder_of_another_command_is_refused(inter_file, tmp_path, capsys):
    run_dir = tmp_path / "bench"
    run_dir.mkdir()
    write_json(run_dir / "config.json", {"command": "microbench"})
    assert main(train_args(inter_file, run_dir)) == 2
    assert "holds results of another command (microbench)" in capsys.readouterr().err


def test_train_grid_resumes(inter_file, tmp_path, monkeypatch, capsys):
    tiny = TrainConfig(max_len=6, hidden=8, inner=16, layers=1, epochs=1, batch_size=128)
    cells = [({"name": "inter", "options": {"path": str(inter_file)}}, TrainConfig(**{**tiny.__dict__, "attention": a}))
             for a in ("dot", "linrec", "linrec_official")]
    monkeypatch.setitem(grids.GRIDS, "reference-ml100k", lambda: cells)
    run_dir = tmp_path / "grid"
    assert main(["train-grid", "reference-ml100k", "--run-dir", str(run_dir), "--limit", "2", "--no-progress"]) == 0
    assert main(["train-grid", "reference-ml100k", "--run-dir", str(run_dir), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "3 cells, 2 finished, 1 to run" in out
    assert "[1/1, about " in out  # the time left comes from the cells the first run finished
    statuses = [r for r in read_rows(run_dir / "rows.jsonl") if r["metric"] == "status"]
    assert sorted(r["attention"] for r in statuses) == ["dot", "linrec", "linrec_official"]


def test_a_failing_cell_does_not_stop_the_grid(inter_file, tmp_path, monkeypatch, capsys):
    tiny = TrainConfig(max_len=6, hidden=8, inner=16, layers=1, epochs=1, batch_size=128)
    spec = {"name": "inter", "options": {"path": str(inter_file)}}
    cells = [(spec, TrainConfig(**{**tiny.__dict__, "attention": "xformers"})), (spec, tiny)]
    monkeypatch.setitem(grids.GRIDS, "reference-ml100k", lambda: cells)
    run_dir = tmp_path / "grid"
    assert main(["train-grid", "reference-ml100k", "--run-dir", str(run_dir), "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert "failed: attention 'xformers' cannot run on cpu" in out and "1 cells failed" in out
    assert [r["attention"] for r in read_rows(run_dir / "rows.jsonl") if r["metric"] == "status"] == ["dot"]


@pytest.mark.parametrize("device, message", [
    pytest.param("tpu", "unknown device 'tpu'", id="unknown"),
    pytest.param("cuda", "no CUDA device", id="cuda-without-gpu"),
])
def test_a_device_that_cannot_run_is_one_line_and_writes_nothing(inter_file, tmp_path, capsys, device, message):
    import torch

    if device == "cuda" and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert main(train_args(inter_file, tmp_path / "run", "--device", device)) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and not (tmp_path / "run").exists()
    assert main(["list", "--device", "tpu"]) == 2
    assert "unknown device 'tpu'" in capsys.readouterr().err


def test_weights_that_diverge_end_the_cell_as_diverged(inter_file, tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert main(train_args(inter_file, run_dir, "--lr", "1e30", "--batch-size", "4096")) == 1
    status = [r for r in read_rows(run_dir / "rows.jsonl") if r["metric"] == "status"]
    assert [r["status"] for r in status] == ["diverged"] and "NaN" in status[0]["message"]
    assert "training diverged" in capsys.readouterr().err



def edit_one_interaction(inter_file):
    """Same users and item count, one interaction moved to another item."""
    lines = inter_file.read_text().splitlines()
    user, item, rating, time = lines[3].split("\t")
    lines[3] = "\t".join([user, "i1" if item != "i1" else "i2", rating, time])
    inter_file.write_text("\n".join(lines) + "\n")


def test_a_finished_cell_on_changed_data_is_not_skipped_but_refused(inter_file, tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert main(train_args(inter_file, run_dir)) == 0
    rows = (run_dir / "rows.jsonl").read_text()
    edit_one_interaction(inter_file)
    capsys.readouterr()
    assert main(train_args(inter_file, run_dir)) == 2
    err = capsys.readouterr().err.strip()
    assert "the data changed since" in err and "use another --run-dir" in err and len(err.splitlines()) == 1
    assert (run_dir / "rows.jsonl").read_text() == rows


def test_train_grid_checks_the_data_of_finished_cells_before_running_any(inter_file, tmp_path, monkeypatch, capsys):
    tiny = TrainConfig(max_len=6, hidden=8, inner=16, layers=1, epochs=1, batch_size=128)
    cells = [({"name": "inter", "options": {"path": str(inter_file)}}, TrainConfig(**{**tiny.__dict__, "attention": a}))
             for a in ("dot", "linrec")]
    monkeypatch.setitem(grids.GRIDS, "reference-ml100k", lambda: cells)
    run_dir = tmp_path / "grid"
    assert main(["train-grid", "reference-ml100k", "--run-dir", str(run_dir), "--limit", "1", "--no-progress"]) == 0
    rows = (run_dir / "rows.jsonl").read_text()
    edit_one_interaction(inter_file)
    capsys.readouterr()
    assert main(["train-grid", "reference-ml100k", "--run-dir", str(run_dir), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert "the data changed since" in err and len(err.splitlines()) == 1
    assert (run_dir / "rows.jsonl").read_text() == rows, "nothing trained, nothing lost"
