"""``python -m bench perf``: the claims table from rows, the memory-growth fit, the step breakdown, the command."""
from __future__ import annotations

import math
from dataclasses import replace

import pandas as pd
import pytest

import bench.perf.checks as perf
import bench.perf.cli as perf_cli
from bench.__main__ import main
from bench.perf.breakdown import PARTS, breakdown_steps, time_breakdown
from bench.perf.checks import Check, attention_cell, check_table, model_cell
from bench.perf.mixers import mixer_cell, mixer_checks
from bench.perf.training import SETTING, epoch_rows, throughput_table
from bench.results import read_rows
from models.attention.linrec_kernels import kernel_path
from tests.conftest import cyclic_data

TINY_TRAINING = replace(SETTING, max_len=8, hidden=16, inner=32, batch_size=64)


def rows_for(values: dict) -> pd.DataFrame:
    """Fixture rows: {(cell, metric): value or None (a failed cell)}."""
    rows = []
    for (cell, metric), value in values.items():
        stat = "median" if metric == "time" else "peak"
        status = "ok" if value is not None else "oom"
        rows.append({"cell": cell.cell_id(), "metric": metric, "stat": stat, "value": value, "status": status})
    return pd.DataFrame(rows)


OURS, BASE = attention_cell("linrec", 200, 64), attention_cell("linrec_official", 200, 64)
GROWTH = [attention_cell("linrec_causal", T, 2, causal=True) for T in (1024, 2048, 4096)]


@pytest.mark.parametrize("ours_ms, kind, bound, measured, met", [
    (20.0, "faster", 2.0, "2.50x", "yes"), (30.0, "faster", 2.0, "1.67x", "NO"),
    (60.0, "within", 1.5, "1.20x", "yes"), (80.0, "within", 1.5, "1.60x", "NO"),
    (40.0, "context", 3.0, "1.25x", "-"),
], ids=["faster-met", "faster-missed", "within-met", "within-missed", "context-no-target"])
def test_claims_are_judged_from_the_rows(ours_ms, kind, bound, measured, met):
    growth = {(cell, "peak_memory"): 10.0 * cell.T / 1024 for cell in GROWTH}  # exactly linear
    rows = rows_for({(OURS, "time"): ours_ms, (BASE, "time"): 50.0, **growth})
    table = check_table(rows, [Check("claim", "time", OURS, BASE, kind, bound)], GROWTH)
    assert table.loc[0, "measured"] == measured and table.loc[0, "met"] == met
    assert table.loc[1, "measured"] == "T^1.00" and table.loc[1, "met"] == "yes"


def test_quadratic_memory_growth_and_a_failed_cell_are_not_met():
    growth = {(cell, "peak_memory"): (cell.T / 1024) ** 2 for cell in GROWTH}
    rows = rows_for({(OURS, "time"): None, (BASE, "time"): 50.0, **growth})
    table = check_table(rows, [Check("claim", "time", OURS, BASE, "faster", 2.0)], GROWTH)
    assert table.loc[0, "met"] == "NO" and "nan" in table.loc[0, "ours"]
    assert table.loc[1, "measured"] == "T^2.00" and table.loc[1, "met"] == "NO"


def test_loglog_slope_needs_positive_values():
    assert math.isnan(perf.loglog_slope([1, 2], [1.0, 0.0]))
    assert perf.loglog_slope([1, 2, 4], [3.0, 6.0, 12.0]) == pytest.approx(1.0)


def tiny_model_cell(variant="linrec", T=16):
    cell = model_cell(variant, T)
    return type(cell)(**{**cell.__dict__, "B": 2, "H": 2, "D": 4, "items": 30})


def test_breakdown_parts_run_and_add_up():
    cell = tiny_model_cell()
    steps = breakdown_steps(cell)
    assert set(steps) == {"total", *PARTS}
    times = time_breakdown(cell, warmup=1, repeats=2)
    assert times["total"] > 0 and all(times[part] > 0 for part in PARTS)
    assert times["rest"] == pytest.approx(times["total"] - sum(times[p] for p in PARTS))


def test_breakdown_refuses_what_it_cannot_split():
    with pytest.raises(ValueError, match="SASRec training step"):
        breakdown_steps(attention_cell("linrec", 16, 2))


def test_command_writes_rows_and_prints_the_table(tmp_path, monkeypatch, capsys):
    ours, base = attention_cell("linrec", 32, 2), attention_cell("linrec_official", 32, 2)
    monkeypatch.setattr(perf_cli, "ratio_checks", lambda: [Check("tiny claim", "time", ours, base, "faster", 0.01),
                                                           Check("impossible claim", "time", ours, base, "faster",
                                                                 1e6)])
    monkeypatch.setattr(perf_cli, "exponent_cells",
                        lambda quick: [attention_cell("linrec_causal", T, 1, causal=True) for T in (16, 32)])
    monkeypatch.setattr(perf, "context_cells", lambda: [])
    monkeypatch.setattr(perf_cli, "BREAKDOWN_VARIANTS", ("linrec",))
    monkeypatch.setattr(perf_cli, "BREAKDOWN_LENGTHS", (16,))
    monkeypatch.setattr(perf_cli, "FIRST_CALL_CELL", attention_cell("linrec", 16, 2))
    monkeypatch.setattr(perf_cli, "model_cell", lambda variant, T: tiny_model_cell(variant, T))
    monkeypatch.setattr(perf_cli, "mixer_checks", lambda: [Check(
        "gru fast path vs its naive loop, tiny", "time", mixer_cell("gru", 16), mixer_cell("gru", 16, path="naive"),
        "context", 10.0)])
    monkeypatch.setattr(perf_cli, "growth_cells", lambda: {"gru": [mixer_cell("gru", T, B=1) for T in (16, 32)]})
    monkeypatch.setattr(perf_cli, "run_training", lambda args, run_dir, device: epoch_rows(
        cyclic_data(), tmp_path / "work", run_dir.name, runs=(("dot", "per-sequence"),), setting=TINY_TRAINING))
    run_dir = tmp_path / "perf"
    code = main(["perf", "--quick", "--run-dir", str(run_dir), "--no-progress"])
    out = capsys.readouterr().out
    assert "tiny claim" in out and "| yes" in out and "SASRec training step" in out
    rows = read_rows(run_dir / "rows.jsonl")
    assert {r["bench"] for r in rows} == {"profile", "perf_pair", "perf_breakdown", "perf_training", "perf_compile"}
    assert "linrec first fwd+bwd call in a process, T=16 B=2" in out
    assert "gru fast path vs its naive loop, tiny" in out and "gru peak memory growth" in out
    assert "training epoch outside the model, dot per-sequence" in out and "pairs/s" in out
    assert (run_dir / "env.json").exists() and (run_dir / "config.json").exists()
    impossible = next(line for line in out.splitlines() if "impossible claim" in line)
    assert "| NO" in impossible and code == 1  # a claim that cannot hold fails the run


def test_the_first_call_cost_is_reported_apart_from_the_steady_time():
    cell = attention_cell("linrec", 12, 2)
    cost = perf.first_call_cost(cell, calls=3)
    assert cost["first_s"] > 0 and cost["steady_ms"] > 0
    assert cost["compile_s"] == pytest.approx(max(0.0, cost["first_s"] - cost["steady_ms"] / 1e3))
    assert cost["kernels"] == kernel_path()  # what this process runs, as env.json records it
    assert isinstance(cost["cache_hits"], int) and isinstance(cost["cache_misses"], int)
    row = perf.compile_claim(cell, {**cost, "first_s": 2.5, "steady_ms": 4.0, "compile_s": 2.496})
    assert row["ours"] == "first call 2.5 s" and row["measured"] == "2.5 s compiling" and row["met"] == "-"
    assert row["baseline"] == "later calls 4 ms"


def test_the_ceiling_is_sdpas_step_against_the_same_step_without_its_attention():
    parts = [{"variant": v, "T": T, "component": c, "value": ms} for v, T, c, ms in (
        ("sdpa", 2048, "total", 400.0), ("sdpa", 2048, "attention", 240.0), ("linrec", 2048, "total", 180.0),
        ("linrec", 2048, "attention", 20.0), ("sdpa", 200, "total", 200.0), ("sdpa", 200, "attention", 50.0))]
    table = perf_cli.ceiling_claims(parts)
    assert list(table["measured"]) == ["1.33x", "2.50x"] and set(table["met"]) == {"-"}
    assert "T=2048" in table.loc[1, "claim"] and table.loc[1, "ours"] == "without attention 160 ms"
    assert perf_cli.ceiling_claims([p for p in parts if p["variant"] == "linrec"]).empty


def test_a_used_run_folder_is_refused(tmp_path, capsys):
    (tmp_path / "old.txt").write_text("x")
    assert main(["perf", "--run-dir", str(tmp_path)]) == 2
    assert "is not empty" in capsys.readouterr().err


def test_training_epochs_report_throughput_and_the_outside_share(tmp_path):
    runs = (("dot", "per-prefix"), ("dot", "per-sequence"))
    rows = epoch_rows(cyclic_data(), tmp_path, "perf-test", runs=runs, setting=TINY_TRAINING)
    assert [(r["attention"], r["path"]) for r in rows] == list(runs)
    assert rows[0]["pairs"] == rows[1]["pairs"] and rows[1]["windows"] < rows[0]["windows"]
    assert all(0 <= r["outside_share"] < 1 and r["epoch_s"] > 0 for r in rows)
    table = throughput_table(rows)
    assert list(table["vs first"])[0] == "1.0x" and (table["pairs/s"] > 0).all()


def test_time_claims_are_timed_side_by_side_in_alternating_calls():
    ours, base = attention_cell("linrec", 32, 2), attention_cell("linrec_official", 32, 2)
    check = Check("tiny", "time", ours, base, "faster", 1.0)
    pairs = perf.interleaved_pairs([check], rounds=3, warmup=1)
    assert pairs["tiny"]["rounds"] == 3 and pairs["tiny"]["ours"] > 0 and pairs["tiny"]["ratio"] > 0
    rows = rows_for({(ours, "time"): 1.0, (base, "time"): 100.0})  # the cells' own medians, overridden
    pairs = {"tiny": {"baseline": 30.0, "ours": 20.0, "ratio": 1.4, "rounds": 3}}
    table = check_table(rows, [check], GROWTH, pairs)
    assert table.loc[0, "measured"] == "1.40x" and "30 ms" in table.loc[0, "baseline"]


def test_a_step_that_cannot_run_gives_nan_not_a_crash(capsys):
    broken = attention_cell("xformers", 32, 2)  # unavailable on CPU
    pairs = perf.interleaved_pairs([Check("broken", "time", broken, attention_cell("dot", 32, 2), "faster", 1.0)],
                                   rounds=2)
    assert math.isnan(pairs["broken"]["ratio"]) and "not timed side by side" in capsys.readouterr().out


def test_the_microbench_writes_its_rows_and_no_progress_bar_into_a_log(tmp_path, capfd):
    assert main(["microbench", "--variants", "dot", "sdpa", "--lengths", "16", "--tokens", "64", "--repeats", "3",
                 "--max-seconds", "1", "--no-memory", "--results", str(tmp_path)]) == 0
    err = capfd.readouterr().err
    assert "\r" not in err and "time T=16" not in err  # stderr is no terminal here: no bar redrawn in it
    (run,) = tmp_path.iterdir()
    rows = read_rows(run / "rows.jsonl")
    assert {"dot", "sdpa"} <= {row["variant"] for row in rows} and all(row["T"] == 16 for row in rows)


def test_mixer_checks_pair_each_fast_path_with_its_naive_loop():
    checks = mixer_checks()
    pairs = [c for c in checks if "naive loop" in c.claim]
    assert pairs and all(c.baseline.options == "path=naive" for c in pairs)
    assert all(c.ours.options == ("path=loop" if c.ours.variant == "mamba" else "") for c in pairs)  # FAST_PATHS
    assert all(c.ours.variant == c.baseline.variant and c.ours.level == "mixer" for c in pairs)
    targets = {c.claim: c.kind for c in pairs}
    assert all(kind == "context" for claim, kind in targets.items() if "T=4096" not in claim or "gru" in claim)
    assert mixer_cell("gru", 200).cell_id() != mixer_cell("gru", 200, path="naive").cell_id()
