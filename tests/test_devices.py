"""--device auto|cpu|cuda|cuda:N on every command: checked in one line before anything runs, resolved to the device
type the cells use (GPU N made current), recorded in the rows; a cell trained elsewhere is another cell."""
from __future__ import annotations

import pytest
import torch

import bench.environment as environment
from bench.__main__ import main
from bench.environment import select_device
from bench.run_all import stage_commands
from bench.train import TrainConfig


def test_auto_is_the_cpu_without_a_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert select_device("auto") == "cpu" and select_device("cpu") == "cpu"


@pytest.mark.parametrize("device, message", [
    ("tpu", "unknown device 'tpu'; valid: auto, cpu, cuda or cuda:N"),
    ("cuda:x", "unknown device 'cuda:x'"),
    ("cuda", "--device cuda asked for, but torch sees no CUDA device here"),
    ("cuda:1", "--device cuda:1 asked for, but torch sees no CUDA device here"),
], ids=["unknown", "bad-index", "cuda", "cuda-1"])
def test_a_device_that_cannot_run_here_is_one_line(monkeypatch, device, message):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        select_device(device)


def test_cuda_n_checks_the_index_and_makes_that_gpu_current(monkeypatch):
    chosen = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "set_device", chosen.append)
    assert select_device("cuda:1") == "cuda" and chosen == [1]
    assert select_device("auto") == "cuda" and select_device("cuda") == "cuda"
    with pytest.raises(ValueError, match=r"torch sees 2 CUDA device\(s\) \(cuda:0 to cuda:1\)"):
        select_device("cuda:2")
    assert environment.check_device("cuda:0") is None


@pytest.mark.parametrize("argv", [["train-grid", "reference-ml100k"], ["heatmaps", "some-run"],
                                  ["profile", "--attention", "dot", "--lengths", "16"], ["perf"], ["run-all"],
                                  ["train", "--model", "pop"]],
                         ids=["train-grid", "heatmaps", "profile", "perf", "run-all", "train"])
def test_every_command_takes_a_device_and_refuses_one_it_cannot_use(tmp_path, monkeypatch, capsys, argv):
    monkeypatch.chdir(tmp_path)  # commands that make folders make them under ./results
    assert main([*argv, "--device", "tpu"]) == 2
    err = capsys.readouterr().err.strip()
    assert "unknown device 'tpu'" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "results").exists(), "refused before any folder is made"


def test_run_all_passes_its_device_to_training_profiling_and_heatmaps(tmp_path):
    for stage in ("accuracy", "profile", "heatmaps"):
        for argv in stage_commands(stage, "quick", tmp_path, None, "cuda:1"):
            assert argv[-2:] == ["--device", "cuda:1"], stage
    assert "--device" not in stage_commands("data", "quick", tmp_path, None, "cuda")[0]


def test_a_cell_trained_on_another_device_is_another_cell():
    assert TrainConfig(device="cuda").cell_id("toy") != TrainConfig().cell_id("toy")
    assert TrainConfig(device="cpu").cell_id("toy") == TrainConfig().cell_id("toy")  # the reference cells keep ids
