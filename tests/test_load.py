"""Timings and the machine's load: the load is read around each timing, a loaded timing is taken again, cells
still loaded or far off their series' trend are measured once more, and unreliable fits are marked as such."""
from __future__ import annotations

import pandas as pd
import pytest

import bench.load as load
import bench.profile.measure as measure
import bench.profile.recheck as recheck
from bench.profile.analysis import out_of_line, reliable_fit
from bench.profile.cells import ProfileCell
from bench.profile.measure import LOAD_FIELDS, cell_rows, time_under_least_load
from bench.profile.spec import MeasureOptions
from bench.results import read_rows, write_rows
from tests.test_analysis import law, rows


def counters(busy, steal, total, own_cpu):
    return {"wall": 0.0, "own_cpu": own_cpu, "jiffies": (busy, steal, total)}


@pytest.mark.parametrize("busy, steal, own, others, stolen, loaded", [
    (100, 0, 1.0, 0.0, 0.0, None),             # all the busy time was ours
    (180, 0, 1.0, 0.4, 0.0, "other processes used 40% of the CPUs"),
    (100, 20, 1.0, 0.0, 0.1, "the hypervisor stole 10% of the CPU time"),
], ids=["idle", "others", "steal"])
def test_the_load_is_the_others_share_of_the_cores(monkeypatch, busy, steal, own, others, stolen, loaded):
    monkeypatch.setattr(load.os, "sysconf", lambda name: 100)  # 100 ticks per second: 1 s of own CPU = 100 ticks
    reading = load.load_between(counters(0, 0, 0, 0.0), counters(busy, steal, 200, own))
    assert reading["others_cpu"] == pytest.approx(others) and reading["steal"] == pytest.approx(stolen)
    assert load.loaded_reason(reading) == loaded


def test_without_proc_stat_only_the_load_average_is_read(monkeypatch, tmp_path):
    monkeypatch.setattr(load, "PROC_STAT", tmp_path / "missing")
    reading = load.load_between(load.snapshot(), load.snapshot())
    assert reading["others_cpu"] is None and reading["steal"] is None and load.loaded_reason(reading) is None


def fake_timing(monkeypatch, shares):
    """Each timing attempt reads the next of ``shares`` as the others' CPU share."""
    readings = iter(shares)
    monkeypatch.setattr(measure, "time_step", lambda *a, **k: {"median": 1.0, "n": 3})
    monkeypatch.setattr(measure, "load_between",
                        lambda before, after: {"load_avg": 1.0, "others_cpu": next(readings), "steal": 0.0})
    monkeypatch.setattr(measure.time, "sleep", lambda seconds: None)


def test_a_loaded_timing_is_taken_again_until_the_load_passes(monkeypatch):
    fake_timing(monkeypatch, [0.6, 0.1])
    result = time_under_least_load(lambda: None, "cpu", MeasureOptions(load_attempts=3))
    assert result["attempts"] == 2 and result["loaded"] is None and result["others_cpu"] == 0.1


def test_a_timing_loaded_at_every_attempt_keeps_the_least_loaded_and_says_so(monkeypatch):
    fake_timing(monkeypatch, [0.6, 0.4, 0.9])
    result = time_under_least_load(lambda: None, "cpu", MeasureOptions(load_attempts=3))
    assert result["attempts"] == 3 and result["others_cpu"] == 0.4
    assert result["loaded"] == "other processes used 40% of the CPUs"


def test_time_rows_carry_the_load_they_were_taken_under():
    cell = profile_cell(16)
    timing = {"median": 1.0, "p20": 1.0, "p80": 1.0, "min": 1.0, "mean": 1.0, "n": 3, "load_avg": 0.5,
              "others_cpu": 0.01, "steal": 0.0, "attempts": 1, "loaded": None}
    time_rows = [r for r in cell_rows(cell, {"time": timing, "memory": None}) if r["metric"] == "time"]
    assert time_rows and all({f: r[f] for f in LOAD_FIELDS} == {f: timing[f] for f in LOAD_FIELDS}
                             for r in time_rows)


def profile_cell(T, variant="linrec"):
    return ProfileCell("attention", variant, "fwd", False, T, 32, 8, 16, "float32", "cpu", "fixed")


def with_cells(frame_rows):
    return [{**r, "cell": f"{r['variant']}-{r['T']}"} for r in frame_rows]


def test_a_timing_far_off_its_series_trend_is_out_of_line():
    smooth = law(0.01, 1.0)
    spiked = {**smooth, 256: smooth[256] * 10}
    found = out_of_line(pd.DataFrame(with_cells(rows("linrec", spiked) + rows("dot", law(0.001, 2.0)))))
    assert list(found) == ["linrec-256"] and "10x the trend" in found["linrec-256"]
    assert out_of_line(pd.DataFrame(with_cells(rows("linrec", {64: 1.0, 128: 50.0, 256: 1.0})))) == {}  # 3 points


@pytest.mark.parametrize("exponent, r2, problem", [(1.0, 0.99, None), (-0.13, 0.135, "negative slope, r² 0.14 < 0.9"),
                                                   (1.5, 0.5, "r² 0.50 < 0.9"), (-0.2, 0.95, "negative slope")],
                         ids=["good", "negative-poor", "poor", "negative"])
def test_fits_below_the_r2_threshold_or_falling_are_unreliable(exponent, r2, problem):
    assert reliable_fit(exponent, r2) == problem


def test_suspect_cells_are_measured_once_more_and_their_rows_replaced(tmp_path, monkeypatch):
    path = tmp_path / "rows.jsonl"
    spiked = {**law(0.01, 1.0), 256: law(0.01, 1.0)[256] * 10}
    cells = [profile_cell(T) for T in spiked]
    old = [{**r, "cell": cell.cell_id()} for r, cell in zip(rows("linrec", spiked), cells)]
    old[0]["loaded"] = "other processes used 60% of the CPUs"
    write_rows(path, old)
    measured = []
    monkeypatch.setattr(recheck, "measure_cell", lambda cell, options: measured.append(cell.T) or
                        [{"metric": "time", "stat": "median", "status": "ok", "value": 0.01 * cell.T, "T": cell.T}])
    again = recheck.recheck_cells(path, cells, MeasureOptions(), {"run_id": "r"})
    first, spike = cells[0].cell_id(), cells[2].cell_id()
    assert set(again) == {first, spike} and sorted(measured) == [64, 256]
    assert "timed under load" in again[first] and "trend" in again[spike]
    by_cell = {r["cell"]: r for r in read_rows(path)}
    assert by_cell[spike]["remeasured"] == again[spike] and by_cell[spike]["cell_rows"] == 1
    assert by_cell[spike]["value"] == pytest.approx(2.56) and len(read_rows(path)) == len(old)  # replaced
    assert recheck.recheck_cells(path, cells, MeasureOptions(), {"run_id": "r"}) == {}  # never twice
