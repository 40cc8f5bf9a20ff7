"""The profiling grid and every bad input: a one-line error before anything is measured or written."""
from __future__ import annotations

import json

import pytest

from bench.__main__ import main
from bench.profile.cells import ProfileCell, batch_for, canonical_dtype, dtype_problem, make_grid
from bench.profile.spec import GridSpec


def test_grid_orders_by_length_and_resolves_batches():
    spec = GridSpec(variants=["dot", "linrec"], lengths=[128, 64], modes=["fwd", "infer"], tokens=1024)
    cells = make_grid(spec)
    assert len(cells) == 2 * 2 * 2
    assert [c.T for c in cells] == [64] * 4 + [128] * 4  # short lengths of every variant first
    assert {c.B for c in cells if c.T == 64} == {16} and {c.B for c in cells if c.T == 128} == {8}
    assert all(c.batch_policy == "tokens" and c.tokens == 1024 and not c.causal for c in cells)


def test_fixed_batch_and_causal_both():
    cells = make_grid(GridSpec(variants=["dot"], lengths=[32], batch=3, causal="both", tokens=None))
    assert [(c.B, c.causal, c.batch_policy, c.tokens) for c in cells] == [(3, False, "fixed", None),
                                                                          (3, True, "fixed", None)]


@pytest.mark.parametrize("model, variant, expected", [("sasrec", "dot", True), ("sasrec", "linrec", False),
                                                      ("bert4rec", "dot", False)], ids=["sasrec-dot", "sasrec-linrec",
                                                                                         "bert4rec-dot"])
def test_model_level_auto_causal_is_the_models_choice(model, variant, expected):
    cell, = make_grid(GridSpec(variants=[variant], lengths=[16], level="model", model=model, modes=["infer"],
                               tokens=64))
    assert cell.causal is expected and cell.model == model and cell.layers == 2 and cell.d == 128


def test_cell_ids_are_stable_and_distinct():
    a = ProfileCell("attention", "dot", "fwd", False, 64, 2, 8, 16, "float32", "cpu", "fixed")
    assert a.cell_id() == ProfileCell.from_json(a.as_json()).cell_id()
    assert a.cell_id().startswith("attention-dot-fwd-T64-B2-float32-cpu-")
    others = [ProfileCell("attention", "dot", "fwd", True, 64, 2, 8, 16, "float32", "cpu", "fixed"),
              ProfileCell("attention", "dot", "fwd", False, 64, 2, 8, 16, "float32", "cpu", "fixed", seed=1)]
    assert len({a.cell_id(), *(o.cell_id() for o in others)}) == 3


def test_batch_and_dtype_helpers():
    assert batch_for(512, None, 8192) == 16 and batch_for(512, 3, None) == 3
    assert canonical_dtype("bf16") == "bfloat16" and canonical_dtype("float16") == "float16"
    assert dtype_problem("cpu", "float32") is None


BAD_INPUTS = {
    "zero-length": (["--lengths", "0"], "expected a positive integer, got '0'"),
    "negative-length": (["--lengths", "-5"], "expected a positive integer"),
    "fractional-length": (["--lengths", "1.5"], "expected a positive integer, got '1.5'"),
    "word-length": (["--lengths", "long"], "expected a positive integer, got 'long'"),
    "unknown-variant": (["--attention", "flashy"], "unknown attention 'flashy'; valid names: dot, sdpa"),
    "unknown-dtype": (["--dtype", "fp8"], "unknown dtype 'fp8'"),
    "budget-below-one-sequence": (["--tokens", "100", "--lengths", "512"], "--tokens 100 cannot hold one sequence"),
    "cuda-without-gpu": (["--device", "cuda"], "no CUDA device"),
    "unknown-device": (["--device", "tpu"], "unknown device 'tpu'"),
    "zero-batch": (["--batch", "0"], "expected a positive integer"),
    "batch-and-tokens": (["--batch", "2", "--tokens", "64"], "not allowed with argument"),
    "unknown-mode": (["--mode", "train"], "invalid choice: 'train'"),
    "hidden-not-divisible": (["--hidden", "100", "--heads", "8"], "--hidden 100 is not divisible by --heads 8"),
    "hidden-and-head-dim": (["--hidden", "64", "--head-dim", "8"], "not allowed with argument"),
}


@pytest.mark.parametrize("extra, message", list(BAD_INPUTS.values()), ids=list(BAD_INPUTS))
def test_bad_input_is_one_line_before_anything_runs(extra, message, tmp_path, capsys):
    if "cuda" in extra and __import__("torch").cuda.is_available():
        pytest.skip("this machine has a GPU")
    args = ["profile", "--attention", "dot", "--lengths", "64", "--run-dir", str(tmp_path / "run"), "--no-progress"]
    args += extra  # a repeated option: argparse keeps the last one
    try:
        code = main(args)
    except SystemExit as exit_:  # argparse errors exit 2 with usage + one error line
        code = exit_.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert message in err[-1]
    assert not (tmp_path / "run").exists()  # nothing written, nothing measured


def test_a_dtype_the_device_lacks_is_refused(tmp_path, capsys, monkeypatch):
    import bench.profile.cells as cells

    monkeypatch.setattr(cells, "dtype_problem", lambda device, dtype: "no bfloat16 units" if dtype == "bfloat16"
                        else None)
    code = main(["profile", "--attention", "dot", "--lengths", "64", "--dtype", "fp32", "bf16",
                 "--run-dir", str(tmp_path / "run")])
    assert code == 2
    assert capsys.readouterr().err.strip() == "error: dtype bfloat16 cannot run on cpu: no bfloat16 units"
    assert not (tmp_path / "run").exists()


def test_a_folder_of_a_different_command_is_refused(tmp_path, capsys):
    run = tmp_path / "run"
    base = ["profile", "--attention", "dot", "--lengths", "16", "--mode", "infer", "--no-memory", "--repeats", "1",
            "--warmup", "0", "--run-dir", str(run), "--no-progress"]
    assert main(base) == 0
    rows = run.joinpath("rows.jsonl").read_text()
    assert main([*base, "--lengths", "32"]) == 2
    assert "holds results of a different command (differs in: lengths)" in capsys.readouterr().err
    assert run.joinpath("rows.jsonl").read_text() == rows  # nothing lost, nothing added
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    assert main([*base[:-3], "--run-dir", str(tmp_path / "other")]) == 2
    assert "not a profile run folder" in capsys.readouterr().err
    assert json.loads(run.joinpath("config.json").read_text())["grid"]["lengths"] == [16]


def test_a_gpu_sweep_estimates_its_time_from_the_roofline_floors():
    from bench.profile.estimate import PROCESS_START_S, estimate_line, gpu_seconds
    from bench.profile.spec import MeasureOptions

    cell = ProfileCell("attention", "dot", "fwdbwd", False, 16384, 4, 8, 64, "bfloat16", "cuda", "tokens",
                       tokens=65536)
    model = ProfileCell("model", "dot", "fwdbwd", False, 200, 4, 8, 16, "float32", "cuda", "tokens", tokens=800,
                        model="sasrec", layers=2, items=100)
    quick, isolated = MeasureOptions(isolate=False), MeasureOptions(isolate=True)
    seconds, unknown = gpu_seconds([cell], quick, "NVIDIA H200")
    assert unknown == 0 and seconds > 0.2  # dot at T=16384 has a real floor to add
    assert gpu_seconds([cell], isolated, "NVIDIA H200")[0] == pytest.approx(seconds - 0.2 + PROCESS_START_S)
    assert gpu_seconds([model], quick, "NVIDIA H200") == (pytest.approx(0.2), 1)
    assert gpu_seconds([cell], quick, "Some Unknown GPU")[1] == 1
    assert estimate_line([cell, model], quick, "NVIDIA H200").startswith("estimate: at least ")
