"""The main job's orchestration on tiny stand-ins: every stage into its own folder, resumable, a report at the end."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import bench.run_all as run_all
import bench.train.grids as grids
from bench.__main__ import main
from bench.results import read_rows
from bench.train import TrainConfig
from bench.train.grids import GRIDS
from tests.test_train_cli import inter_file  # noqa: F401  (a fixture)

TINY = TrainConfig(max_len=6, hidden=8, inner=16, layers=1, epochs=1, batch_size=128, last_path="auto")


@pytest.fixture
def tiny_job(inter_file, monkeypatch):  # noqa: F811
    spec = {"name": "inter", "options": {"path": str(inter_file)}}
    monkeypatch.setitem(grids.GRIDS, "quick-accuracy",
                        lambda: [(spec, TrainConfig(**{**TINY.__dict__, "attention": a})) for a in ("dot", "linrec")])
    monkeypatch.setitem(grids.GRIDS, "quick-sensitivity", lambda: [(spec, TINY)])
    monkeypatch.setitem(grids.GRIDS, "quick-ablation", lambda: [(spec, TINY)])
    monkeypatch.setattr(run_all, "profile_sweeps", lambda profile: [{
        "attention": ["dot", "linrec"], "lengths": [16, 32], "tokens": 64, "mode": ["fwdbwd"],
        "repeats": 2, "no_memory": True, "no_progress": True}])
    return spec


def test_every_stage_runs_into_its_folder_and_the_report_closes(tiny_job, tmp_path, capsys):
    root = tmp_path / "job"
    stages = ["accuracy", "sensitivity", "ablation", "profile", "heatmaps", "report"]
    assert main(["run-all", "--quick", "--root", str(root), "--stages", *stages]) in (0, 2)  # 2: no chromium
    out = capsys.readouterr().out
    assert "== 1/6 accuracy (quick)" in out and "report: " in out
    for folder in ("accuracy", "sensitivity", "ablation", "profile-1"):
        assert (root / folder / "rows.jsonl").exists(), folder
    assert (root / "accuracy" / "heatmaps.jsonl").exists()
    html = (root / "report" / "report.html").read_text()
    assert "Quick profile: ML-100K" in html and "Overall accuracy, full protocol" in html


def test_a_second_run_redoes_nothing(tiny_job, tmp_path, capsys):
    root = tmp_path / "job"
    assert main(["run-all", "--quick", "--root", str(root), "--stages", "accuracy"]) == 0
    before = len(read_rows(root / "accuracy" / "rows.jsonl"))
    assert main(["run-all", "--quick", "--root", str(root), "--stages", "accuracy"]) == 0
    assert "2 cells, 2 finished, 0 to run" in capsys.readouterr().out
    assert len(read_rows(root / "accuracy" / "rows.jsonl")) == before


def test_a_report_before_any_results_is_one_line(tmp_path, capsys):
    assert main(["run-all", "--quick", "--root", str(tmp_path / "none"), "--stages", "report"]) == 2
    assert "no stage has results yet" in capsys.readouterr().err


RUN_ALL_GRIDS = sorted(name for name in GRIDS if name.startswith(("quick-", "full-")))
FROZEN_IDS = json.loads((Path(__file__).parent / "run_all_grid_ids.json").read_text())


def base_cell(profile: str) -> TrainConfig:
    """The profile's base cell: its accuracy grid's first SASRec cell (seed 0, dot)."""
    return next(c for _, c in GRIDS[f"{profile}-accuracy"]() if c.model == "sasrec")


@pytest.mark.parametrize("name", RUN_ALL_GRIDS)
def test_the_real_grids_are_well_formed(name):
    cells = GRIDS[name]()
    ids = [config.cell_id("x") for _, config in cells]
    assert len(ids) == len(set(ids)), f"{name} repeats a cell"
    assert all(config.model in ("sasrec", "bert4rec", "pop") for _, config in cells)


@pytest.mark.parametrize("name", sorted(FROZEN_IDS))
def test_the_shipped_sweep_files_keep_every_cell_id_and_its_order(name):
    # a results folder made before a sweep file was edited still resumes: a changed cell must be a deliberate change
    assert [config.cell_id("x") for _, config in GRIDS[name]()] == FROZEN_IDS[name]


@pytest.mark.parametrize("profile", ["quick", "full"])
def test_bert4rec_gets_more_smaller_steps_than_sasrec(profile):
    # one cloze window per user an epoch: at SASRec's batch and epochs BERT4Rec would take a dozen steps in all
    cells = [config for _, config in GRIDS[f"{profile}-accuracy"]()]
    bert = {(c.batch_size, c.epochs) for c in cells if c.model == "bert4rec"}
    sas = {(c.batch_size, c.epochs) for c in cells if c.model == "sasrec"}
    assert len(bert) == len(sas) == 1
    (bert_batch, bert_epochs), (sas_batch, sas_epochs) = bert.pop(), sas.pop()
    assert bert_batch < sas_batch and bert_epochs > sas_epochs


@pytest.mark.parametrize("profile", ["quick", "full"])
def test_every_stage_of_a_profile_trains_at_one_base_cell_on_one_data_set(profile):
    base = base_cell(profile)
    for stage in ("accuracy", "sensitivity", "ablation"):
        cells = GRIDS[f"{profile}-{stage}"]()
        assert {str(spec) for spec, _ in cells} == {str(GRIDS[f"{profile}-accuracy"]()[0][0])}, stage
        assert any(c == TrainConfig(**{**base.__dict__, "attention": c.attention, "seed": c.seed})
                   for _, c in cells), stage


@pytest.mark.parametrize("profile", ["quick", "full"])
def test_the_profile_sweeps_are_valid_profile_options_at_the_base_cells_shape(profile):
    from bench.__main__ import build_parser

    for sweep in run_all.profile_sweeps(profile):
        args = build_parser().parse_args(["profile", *run_all.as_arguments(sweep)])  # argparse exits on a bad one
        assert args.command == "profile"
    base = base_cell(profile)
    model = [s for s in run_all.profile_sweeps(profile) if s.get("level") == "model"]
    assert len(model) == 1 and base.max_len in model[0]["lengths"]
    assert (model[0]["hidden"], model[0]["heads"], model[0]["layers"]) == (base.hidden, base.heads, base.layers)


def test_a_profile_sweep_file_without_sweeps_is_one_line(tmp_path, monkeypatch):
    (tmp_path / "profile").mkdir()
    (tmp_path / "profile" / "quick.toml").write_text("lengths = [64]\n")
    monkeypatch.setattr(run_all, "SWEEPS", tmp_path)
    with pytest.raises(ValueError, match=r"quick.toml: needs \[\[sweep\]\] tables"):
        run_all.profile_sweeps("quick")


def test_run_all_sh_explains_itself():
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(["bash", str(root / "run_all.sh"), "--help"], capture_output=True, text=True, timeout=120,
                          env={"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    for needed in ("--quick", "--full", "resumable", "heatmaps", "report"):
        assert needed in done.stdout


def test_sweeps_are_options_and_the_scale_note_follows_the_grids():
    assert run_all.as_arguments({"attention": ["dot", "linrec"], "tokens": 64, "no_memory": True, "batch": None,
                                 "isolate": False}) == ["--attention", "dot", "linrec", "--tokens", "64", "--no-memory"]
    note = run_all.scale_note("quick")
    seeds = lambda grid: len({c.seed for _, c in GRIDS[grid]()})
    assert note.startswith("Quick profile: ML-100K 5-core") and f"N={base_cell('quick').max_len}," in note
    assert f"{seeds('quick-accuracy')} seeds" in note and "up to T=2048" in note
    assert f"{seeds('quick-ablation')} for the ablation" in note and seeds("quick-ablation") < seeds("quick-accuracy")
    assert "for the ablation" not in run_all.scale_note("full")  # every stage trains on the same seeds there
    assert run_all.stage_commands("data", "quick", None, None) == [
        ["bench", "data", "--dataset", "ml-100k", "--user-k", "5", "--item-k", "5", "--max-history", "40"]]



@pytest.mark.parametrize("profile", ["quick", "full"])
def test_each_sensitivity_sweep_passes_through_its_base_cell(profile):
    base = base_cell(profile)
    cells = [config for _, config in GRIDS[f"{profile}-sensitivity"]()]
    for attention in ("dot", "linrec"):
        assert cells.count(TrainConfig(**{**base.__dict__, "attention": attention})) == 1
        swept = [c for c in cells if c.attention == attention and c.hidden != base.hidden]
        assert {c.inner * base.hidden for c in swept} == {base.inner * c.hidden for c in swept}  # the base ratio


def test_the_full_profile_isolates_every_cell_and_races_the_triton_kernels():
    for sweep in run_all.profile_sweeps("full"):
        assert "--isolate" in run_all.as_arguments(sweep)  # an OOM is a row; no cell shares a crashed cell's allocator
    variants = {v for sweep in run_all.profile_sweeps("full") for v in sweep["attention"]}
    assert {"linrec_triton", "linrec_causal_triton"} <= variants


def test_run_all_passes_how_training_cells_run_to_every_training_stage(tmp_path):
    executor = {"executor": "local", "workers": 2, "gpus": ["0", "1"], "cluster": None}
    for stage in ("accuracy", "sensitivity", "ablation"):
        argv = run_all.stage_commands(stage, "quick", tmp_path, None, "cuda", executor)[0]
        assert argv[-7:] == ["--executor", "local", "--workers", "2", "--gpus", "0", "1"]


def test_a_training_stage_reuses_the_cells_the_stages_before_it_finished(tmp_path):
    assert "--reuse-from" not in run_all.stage_commands("sensitivity", "quick", tmp_path, None)[0]  # none yet
    (tmp_path / "accuracy").mkdir()
    (tmp_path / "accuracy" / "rows.jsonl").write_text("")
    argv = run_all.stage_commands("ablation", "quick", tmp_path, None)[0]
    assert argv[argv.index("--reuse-from") + 1:] == [str(tmp_path / "accuracy")]
    assert "--reuse-from" not in run_all.stage_commands("accuracy", "quick", tmp_path, None)[0]  # never itself


@pytest.mark.parametrize("executor, spread", [({"executor": "local", "workers": 2}, False),
                                              ({"executor": "local", "workers": 2, "gpus": ["0", "1"]}, True),
                                              ({"executor": "submitit", "cluster": "local"}, True)],
                         ids=["cpu-pool", "gpu-pool", "submitit"])
def test_profiling_stages_spread_over_workers_only_with_a_gpu_each_or_a_job_array(tmp_path, executor, spread):
    argv = run_all.stage_commands("profile", "full", tmp_path, None, "cuda", executor)[0]
    assert ("--executor" in argv) == spread
