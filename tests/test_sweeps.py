"""Sweeps as files (bench/train/sweeps.py): the shipped reference files give the committed cells' ids, every mistake
in a file is one line naming the file and the key, and workers run a cell from plan.json's record of it, a plug-in
variant included."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from bench.__main__ import main
from bench.results import read_json, read_rows
from bench.train.config import TrainConfig, dataset_label
from bench.train.grids import GRIDS, SWEEPS
from bench.train.sweeps import SweepError, load_sweep

ROOT = Path(__file__).resolve().parents[1]
ML100K = SimpleNamespace(name="ml-100k", preprocessing={"user_k": 5, "item_k": 5})  # what a label is made of
TINY = """
[data]
name = "synthetic"
[data.synthetic_options]
num_users = 60
num_items = 40
mean_length = 12
max_length = 20
seed = 0
[base]
max_len = 8
hidden = 8
inner = 16
layers = 1
epochs = 1
batch_size = 256
eval_batch_size = 256
"""


def write(tmp_path, text: str, name: str = "sweep.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_the_shipped_reference_file_gives_the_committed_cells_ids():
    committed = read_json(ROOT / "results" / "reference-ml100k" / "plan.json")["cells"]
    ids = [config.cell_id(dataset_label(ML100K)) for _, config in load_sweep(SWEEPS / "reference-ml100k.toml")]
    assert ids == committed


def test_every_shipped_file_is_a_named_grid_and_the_mixers_share_the_reference_cells():
    assert {path.stem for path in SWEEPS.glob("*.toml")} <= set(GRIDS)
    ids = lambda grid: {c.cell_id("x") for _, c in GRIDS[grid]()}
    shared = ids("reference-mixers-ml100k") & ids("reference-ml100k")
    assert len(shared) == 8  # dot and linrec at N=50 (3 seeds) and N=200


def test_axes_combine_as_a_product_or_in_step_seed_after_seed(tmp_path):
    product = load_sweep(write(tmp_path, TINY + """
        [axes]
        attention = ["dot", "linrec"]
        max_len = [8, 16]
    """))
    assert [(c.attention, c.max_len, c.seed) for _, c in product] == [
        ("dot", 8, 0), ("dot", 16, 0), ("linrec", 8, 0), ("linrec", 16, 0)]
    zipped = load_sweep(write(tmp_path, "seeds = [3, 4]\n" + TINY + """
        [axes]
        attention = ["dot", "linrec"]
        max_len = [8, 16]
        combine = "zip"
    """))
    assert [(c.attention, c.max_len, c.seed) for _, c in zipped] == [
        ("dot", 8, 3), ("linrec", 16, 3), ("dot", 8, 4), ("linrec", 16, 4)]
    assert zipped[0][0] == {"name": "synthetic", "options": {"synthetic_options": {
        "num_users": 60, "num_items": 40, "mean_length": 12, "max_length": 20, "seed": 0}}}


def test_an_integer_for_a_float_setting_is_that_float(tmp_path):
    (_, config), = load_sweep(write(tmp_path, TINY.replace("[base]", "[base]\nlr = 1") + "[axes]\nseed = [0]\n"))
    assert config.lr == 1.0 and isinstance(config.lr, float)
    assert config.cell_id("x") == TrainConfig(**{**config.__dict__}).cell_id("x")


@pytest.mark.parametrize("text, message", [
    (TINY + "[axes]\nattention = []\n", "axes.attention must be a non-empty list of values"),
    (TINY + "[axes]\nattention = [\"nope\"]\n", "group[0].axes.attention = 'nope' is not a registered attention"),
    (TINY + "[axes]\nmax_len = [\"long\"]\n", "group[0].axes.max_len must be int, got str 'long'"),
    (TINY + "[axes]\nwidth = [1]\n", "unknown setting 'group[0].axes.width'; valid: model, attention"),
    (TINY + "[axes]\nmax_len = [8, 16]\nattention = [\"dot\"]\ncombine = \"zip\"\n", "needs lists of one length"),
    (TINY + "[axes]\nmax_len = [8]\ncombine = \"sum\"\n", "combine = 'sum'; valid: product, zip"),
    ("colour = 1\n" + TINY + "[axes]\nseed = [0]\n", "unknown key 'colour'; valid: seeds, data, base"),
    ("seeds = [-1]\n" + TINY + "[axes]\nmax_len = [8]\n", "seeds must be a non-empty list of seeds"),
    (TINY.replace("synthetic\"", "movies\"") + "[axes]\nseed = [0]\n", "data.name = 'movies'; valid: ml-100k"),
    (TINY.replace("[base]", "[base]\ndropout = \"high\"") + "[axes]\nseed = [0]\n", "base.dropout must be float"),
    (TINY, "no cells: add [axes] or at least one [[group]]"),
    ("[base]\nmax_len = 8\n[axes]\nseed = [0]\n", "no [data] table"),
    (TINY + "[axes]\nseed = [0]\n[[group]]\nset = {}\n", "either [axes] (one group) or [[group]] tables"),
    (TINY + "[[group]]\nsets = {max_len = 8}\n", "unknown key 'group[0].sets'; valid: set, axes, seeds"),
    (TINY + "[[group]]\nset = {shuffle_train_order = 1}\n", "group[0].set.shuffle_train_order must be bool"),
    ("[data\nname=", "not valid TOML"),
], ids=["empty-axis", "unknown-variant", "bad-type", "unknown-setting", "zip-lengths", "bad-combine",
        "unknown-top-key", "bad-seeds", "unknown-dataset", "bad-base-type", "no-cells", "no-data", "axes-and-groups",
        "unknown-group-key", "bool-type", "bad-toml"])
def test_a_mistake_in_a_sweep_file_is_one_line_naming_the_file_and_key(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(SweepError) as err:
        load_sweep(path)
    assert message in str(err.value) and str(err.value).startswith(str(path)) and "\n" not in str(err.value)


def test_train_grid_takes_a_sweep_file_and_a_bad_one_is_exit_2(tmp_path, capsys):
    missing = main(["train-grid", str(tmp_path / "absent.toml"), "--run-dir", str(tmp_path / "x")])
    assert missing == 2 and "absent.toml: no such sweep file" in capsys.readouterr().err
    assert main(["train-grid", "no-such-grid"]) == 2
    err = capsys.readouterr().err
    assert "unknown grid 'no-such-grid'; valid: " in err and "reference-ml100k" in err and "a sweep file (.toml)" in err
    assert not (tmp_path / "x").exists()  # nothing made for a sweep that cannot run


def test_workers_run_a_cell_from_its_planned_record_not_the_file(tmp_path):
    sweep = write(tmp_path, TINY + "[axes]\nattention = [\"dot\", \"sdpa\"]\n", "tiny.toml")
    run = tmp_path / "runs" / "tiny"
    assert main(["train-grid", str(sweep), "--run-dir", str(run), "--device", "cpu", "--no-progress",
                 "--limit", "1", "--data-dir", str(tmp_path / "data")]) == 0
    plan = read_json(run / "plan.json")
    assert len(plan["cells"]) == 2 and set(plan["settings"]) == set(plan["cells"])
    left = plan["cells"][1]
    assert plan["settings"][left]["train"]["attention"] == "sdpa"
    sweep.unlink()  # the worker needs only the record
    assert main(["train-cell", left, "--run-dir", str(run), "--device", "cpu", "--data-dir",
                 str(tmp_path / "data")]) == 0
    finished = {r["cell"] for r in read_rows(run / "rows.jsonl") if r.get("metric") == "status"}
    assert finished == set(plan["cells"])
    assert main(["train-cell", "no-such-cell", "--run-dir", str(run), "--device", "cpu"]) == 2


def test_a_plugin_variant_runs_in_a_two_worker_pool(tmp_path):
    sweep = write(tmp_path, TINY + "[axes]\nattention = [\"sigmoid\", \"dilated_conv\"]\n", "plug.toml")
    run = tmp_path / "pool"
    env = {**os.environ, "LINREC_COMPILE": "0",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "examples" / "plugin"), str(ROOT)])}
    env.pop("LINREC_BENCH_PLUGINS", None)
    done = subprocess.run([sys.executable, "-m", "bench", "--plugin", "linrec_bench_example", "train-grid",
                           str(sweep), "--run-dir", str(run), "--device", "cpu", "--no-progress", "--executor",
                           "local", "--workers", "2", "--data-dir", str(tmp_path / "data")],
                          capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    statuses = {r["attention"]: r["status"] for r in read_rows(run / "rows.jsonl") if r.get("metric") == "status"}
    assert statuses == {"sigmoid": "finished", "dilated_conv": "finished"}
    logs = "".join(path.read_text() for path in (run / "workers").glob("*.log"))
    assert "training (sasrec, sigmoid" in logs and "training (sasrec, dilated_conv" in logs  # in the workers
