"""``python -m bench device-check`` without a GPU: the one-line refusal, the budget and failure handling of its
steps, and its verdicts computed from fixture rows (the GPU steps themselves run only where a GPU is lent)."""
from __future__ import annotations

import time

import pandas as pd
import pytest

from bench.__main__ import main
from bench.device.cli import gpu_slug, new_folder, run_steps
from bench.device.steps import Check, profile_cells
from bench.device.verdicts import memory_verdict, speed_verdicts, verdict, verdict_table


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="a GPU is here")
def test_without_a_gpu_it_says_so_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["device-check"]) == 2
    err = capsys.readouterr().err.strip()
    assert "device-check validates a GPU" in err and "sees none here" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "results").exists()


def test_a_raising_step_is_a_fail_row_and_the_budget_skips_the_rest(tmp_path, capsys):
    def fine(check):
        return [verdict("fine", "a path", "ok", "ran")]

    def broken(check):
        raise RuntimeError("CUDA error: an illegal memory access\nmore")

    def slow(check):
        time.sleep(0.05)
        return [verdict("slow", "a path", "ok")]

    check = Check(tmp_path, time.monotonic() + 0.02)
    rows = run_steps([("fine", fine), ("broken", broken), ("slow", slow), ("late", fine)], check)
    assert [(r["step"], r["verdict"]) for r in rows] == [("fine", "ok"), ("broken", "FAIL"), ("slow", "ok"),
                                                         ("late", "skipped")]
    assert rows[1]["detail"] == "RuntimeError: CUDA error: an illegal memory access"
    assert list(verdict_table(rows).columns) == ["step", "check", "verdict", "detail"]


def timing_rows(triton_ms: float, sdpa_ms: float, T: int = 1024) -> pd.DataFrame:
    base = {"level": "attention", "mode": "fwdbwd", "B": 64, "T": T, "H": 8, "D": 64, "dtype": "bfloat16",
            "device": "cuda", "device_name": "NVIDIA H200", "metric": "time", "stat": "median", "status": "ok",
            "options": None}
    return pd.DataFrame([{**base, "variant": "linrec_triton", "causal": False, "value": triton_ms, "cell": "a"},
                         {**base, "variant": "sdpa_flash", "causal": False, "value": sdpa_ms, "cell": "b"}])


@pytest.mark.parametrize("triton_ms, speed", [(0.5, "ok"), (2.0, "FAIL")], ids=["faster", "slower"])
def test_the_triton_kernel_must_beat_flash_attention_from_t_1024(triton_ms, speed):
    rows = speed_verdicts(timing_rows(triton_ms, 1.0))
    race = next(r for r in rows if "vs sdpa_flash" in r["check"])
    assert race["verdict"] == speed and f"{triton_ms:.2f}x sdpa_flash" in race["detail"]
    floor = next(r for r in rows if r["check"].endswith("roofline"))
    assert floor["verdict"] in ("ok", "FAIL") and "% of the floor" in floor["detail"]


def test_below_t_1024_no_race_is_claimed_and_no_rows_is_a_skip():
    rows = speed_verdicts(timing_rows(5.0, 1.0, T=512))
    assert [r["verdict"] for r in rows] == ["FAIL"] and "no bf16 time of a Triton kernel" in rows[0]["detail"]
    assert speed_verdicts(pd.DataFrame())[0]["verdict"] == "skipped"


def test_nvml_is_read_against_the_allocator():
    rows = pd.DataFrame([{"cell": c, "metric": m, "value": v, "status": "ok"} for c, m, v in (
        ("a", "peak_memory", 100.0), ("a", "nvml_memory", 600.0), ("b", "peak_memory", 1000.0),
        ("b", "nvml_memory", 1500.0))])
    row = memory_verdict(rows)
    assert row["verdict"] == "info" and "1.50x to 6.00x" in row["detail"]
    assert memory_verdict(rows[rows["metric"] == "peak_memory"])["verdict"] == "skipped"


def test_the_timed_cells_race_each_kernel_against_its_rivals():
    cells = profile_cells((1024, 16384))
    assert {c.variant for c in cells} >= {"linrec_triton", "linrec_causal_triton", "sdpa_flash", "linrec"}
    assert not any(c.variant == "sdpa_flash" and c.dtype == "float32" for c in cells)  # flash is half only
    assert all(c.B * c.T == 65536 for c in cells)
    pairs = {(c.variant, c.causal) for c in cells}
    assert {("linrec_triton", False), ("linrec_causal_triton", True), ("sdpa_flash", True)} <= pairs
    assert ("linrec_triton", True) not in pairs and ("linrec_causal_triton", False) not in pairs


def test_folders_are_new_and_named_after_the_gpu(tmp_path, monkeypatch):
    assert gpu_slug("NVIDIA H200") == "h200" and gpu_slug("NVIDIA A100-SXM4-80GB") == "a100-sxm4-80gb"
    monkeypatch.chdir(tmp_path)
    first, second = new_folder(None, "NVIDIA H200"), new_folder(None, "NVIDIA H200")
    assert first.name == "device-check-h200" and second.name == "device-check-h200-2"
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "x").write_text("x")
    with pytest.raises(ValueError, match="is not empty"):
        new_folder(tmp_path / "used", "NVIDIA H200")
