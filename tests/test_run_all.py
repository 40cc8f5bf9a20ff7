"""The main job's orchestration on tiny stand-ins: every stage into its own folder, resumable, a report at the end."""
from __future__ import annotations

import pytest

import bench.run_all as run_all
import bench.train.grids as grids
from bench.__main__ import main
from bench.results import read_rows
from bench.train import TrainConfig
from bench.train.grids import RUN_ALL_GRIDS
from tests.test_train_cli import inter_file  # noqa: F401  (a fixture)

TINY = TrainConfig(max_len=6, hidden=8, inner=16, layers=1, epochs=1, batch_size=128, last_path="auto")


@pytest.fixture
def tiny_job(inter_file, monkeypatch):  # noqa: F811
    spec = {"name": "inter", "options": {"path": str(inter_file)}}
    monkeypatch.setitem(grids.GRIDS, "quick-accuracy",
                        lambda: [(spec, TrainConfig(**{**TINY.__dict__, "attention": a})) for a in ("dot", "linrec")])
    monkeypatch.setitem(grids.GRIDS, "quick-sensitivity", lambda: [(spec, TINY)])
    monkeypatch.setitem(grids.GRIDS, "quick-ablation", lambda: [(spec, TINY)])
    monkeypatch.setitem(run_all.PROFILE_SWEEPS, "quick", [{
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


def test_the_real_grids_are_well_formed():
    for name, build in RUN_ALL_GRIDS.items():
        cells = build()
        ids = [config.cell_id("x") for _, config in cells]
        assert len(ids) == len(set(ids)), f"{name} repeats a cell"
        assert all(config.model in ("sasrec", "bert4rec", "pop") for _, config in cells)


@pytest.mark.parametrize("profile", ["quick", "full"])
def test_bert4rec_gets_more_smaller_steps_than_sasrec(profile):
    # one cloze window per user an epoch: at SASRec's batch and epochs BERT4Rec would take a dozen steps in all
    cells = [config for _, config in RUN_ALL_GRIDS[f"{profile}-accuracy"]()]
    bert = {(c.batch_size, c.epochs) for c in cells if c.model == "bert4rec"}
    sas = {(c.batch_size, c.epochs) for c in cells if c.model == "sasrec"}
    assert len(bert) == len(sas) == 1
    (bert_batch, bert_epochs), (sas_batch, sas_epochs) = bert.pop(), sas.pop()
    assert bert_batch < sas_batch and bert_epochs > sas_epochs


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
    assert note.startswith("Quick profile: ML-100K 5-core") and f"N={grids.QUICK.max_len}," in note
    assert f"{len(grids.QUICK_SEEDS)} seeds" in note and "up to T=2048" in note
    assert f"{len(grids.QUICK_ABLATION_SEEDS)} for the ablation" in note
    assert len({c.seed for _, c in grids.GRIDS["quick-ablation"]()}) == len(grids.QUICK_ABLATION_SEEDS)
    assert "for the ablation" not in run_all.scale_note("full")  # every stage trains on the same seeds there
    assert run_all.stage_commands("data", "quick", None, None) == [
        ["bench", "data", "--dataset", "ml-100k", "--user-k", "5", "--item-k", "5", "--max-history", "40"]]



@pytest.mark.parametrize("profile", ["quick", "full"])
def test_each_sensitivity_sweep_passes_through_its_base_cell(profile):
    base = {"quick": grids.QUICK, "full": grids.FULL}[profile]
    cells = [config for _, config in RUN_ALL_GRIDS[f"{profile}-sensitivity"]()]
    for attention in ("dot", "linrec"):
        assert cells.count(TrainConfig(**{**base.__dict__, "attention": attention})) == 1
        swept = [c for c in cells if c.attention == attention and c.hidden != base.hidden]
        assert {c.inner * base.hidden for c in swept} == {base.inner * c.hidden for c in swept}  # the base ratio


def test_the_full_profile_isolates_every_cell_and_races_the_triton_kernels():
    for sweep in run_all.PROFILE_SWEEPS["full"]:
        assert "--isolate" in run_all.as_arguments(sweep)  # an OOM is a row; no cell shares a crashed cell's allocator
    variants = {v for sweep in run_all.PROFILE_SWEEPS["full"] for v in sweep["attention"]}
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
