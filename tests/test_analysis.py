"""Derived analysis on synthetic rows with known power laws: exponents, crossovers, speedups."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from bench.profile.analysis import SCALING_KEY, crossovers, scaling_exponents, speedup_table

LENGTHS = (64, 128, 256, 512, 1024)


def rows(variant: str, values: dict, B=32, run_id="r1", dtype="bfloat16", status: dict | None = None, **extra):
    """Tidy time rows, one per length: value = values[T]; lengths in ``status`` become failed rows instead."""
    out = []
    for T, value in values.items():
        base = {"run_id": run_id, "bench": "profile", "level": "attention", "model": None, "variant": variant,
                "mode": "fwd", "causal": False, "T": T, "B": B(T) if callable(B) else B, "H": 8, "D": 16,
                "batch_policy": "fixed", "tokens": None, "dtype": dtype, "device": "cuda", "metric": "time", **extra}
        failed = (status or {}).get(T)
        out.append({**base, "status": failed, "message": "CUDA out of memory"} if failed else
                   {**base, "stat": "median", "value": value, "unit": "ms", "n": 9, "status": "ok"})
    return out


def law(c: float, power: float, lengths=LENGTHS) -> dict:
    return {T: c * T ** power for T in lengths}


def test_exponents_recover_power_laws():
    frame = pd.DataFrame(rows("dot", law(3e-5, 2)) + rows("linrec", law(7e-3, 1)))
    table = scaling_exponents(frame).set_index("variant")
    assert table.loc["dot", "exponent"] == pytest.approx(2.0, abs=1e-6)
    assert table.loc["linrec", "exponent"] == pytest.approx(1.0, abs=1e-6)
    assert table.loc["dot", "intercept"] == pytest.approx(math.log(3e-5), abs=1e-6)
    assert (table["r2"] > 1 - 1e-9).all() and (table["points"] == 5).all()
    assert list(table.columns[:len(SCALING_KEY) - 1]) == [c for c in SCALING_KEY if c != "variant"]


def test_per_sequence_under_a_token_budget():
    # B = tokens // T, batch time = c·B·T^2 -> T^1 per batch, T^2 per sequence.
    tokens = 2 ** 14
    frame = pd.DataFrame(rows("dot", {T: 1e-6 * (tokens // T) * T ** 2 for T in LENGTHS}, B=lambda T: tokens // T,
                              batch_policy="tokens", tokens=tokens))
    assert scaling_exponents(frame)["exponent"].iloc[0] == pytest.approx(1.0, abs=1e-6)
    table = scaling_exponents(frame, per_sequence=True)
    assert table["exponent"].iloc[0] == pytest.approx(2.0, abs=1e-6)
    assert len(table) == 1 and table["batch"].iloc[0] == tokens  # one series although B changes with T


@pytest.mark.parametrize("min_T, max_T, points, exponent", [
    pytest.param(None, None, 5, 2.0, id="all"),
    pytest.param(256, None, 3, 2.0, id="min_T"),
    pytest.param(None, 64, 1, math.nan, id="one-length-nan"),
    pytest.param(4096, None, 0, math.nan, id="none-in-range-kept"),
])
def test_length_window(min_T, max_T, points, exponent):
    table = scaling_exponents(pd.DataFrame(rows("dot", law(1e-4, 2))), min_T=min_T, max_T=max_T)
    assert len(table) == 1 and table["points"].iloc[0] == points
    assert table["exponent"].iloc[0] == pytest.approx(exponent, abs=1e-6, nan_ok=True)


def test_series_split_by_run_dtype_and_options_failures_ignored():
    frame = pd.DataFrame(rows("performer", law(1, 1), options={"num_features": 64})
                         + rows("performer", law(1, 1.5), options={"num_features": 128})
                         + rows("dot", law(1, 2), dtype="float32") + rows("dot", law(1, 2), run_id="r2")
                         + rows("dot", law(1, 2), status={1024: "oom"}))
    table = scaling_exponents(frame)
    assert len(table) == 5
    assert sorted(table.loc[table["variant"] == "performer", "exponent"].round(6)) == [1.0, 1.5]
    assert table.loc[(table["variant"] == "dot") & (table["run_id"] == "r1") & (table["dtype"] == "bfloat16"),
                     "points"].iloc[0] == 4


def cross(variant_values, baseline_values, baseline="sdpa", baseline_status=None, variant_status=None, **kw):
    frame = pd.DataFrame(rows("linrec", variant_values, status=variant_status)
                         + rows(baseline, baseline_values, status=baseline_status, **kw))
    table = crossovers(frame, baselines=(baseline,))
    assert len(table) == 1
    return table.iloc[0]


def test_crossover_power_laws_interpolate_exactly():
    # ratio = 150·T / T^2 = 150 / T: slower at 128, faster from 256; log-log interpolation is exact for a power law.
    row = cross(law(150, 1), law(1, 2))
    assert (row["status"], row["crossover_T"], row["T_max"]) == ("crosses", 256, 1024)
    assert row["crossover_estimate"] == pytest.approx(150)
    assert row["ratio_at_max_T"] == pytest.approx(150 / 1024)


def test_crossover_interpolation_by_hand_and_late_slowdown_counts():
    # ratios 0.5 (faster, but slower again later), 3, 2, 0.5, 0.25: crossover from 512, between 256 (r=2) and
    # 512 (r=0.5): log r crosses 0 halfway in log T -> 256·sqrt(2).
    ratios = dict(zip(LENGTHS, (0.5, 3, 2, 0.5, 0.25)))
    row = cross(ratios, {T: 1.0 for T in LENGTHS})
    assert (row["status"], row["crossover_T"]) == ("crosses", 512)
    assert row["crossover_estimate"] == pytest.approx(256 * math.sqrt(2))


@pytest.mark.parametrize("ratio, status, crossover_T, estimate", [
    pytest.param(0.9, "always faster", 64, 64.0, id="always-faster"),
    pytest.param(1.0, "never faster", math.nan, math.nan, id="equal-is-not-faster"),
    pytest.param(1.5, "never faster", math.nan, math.nan, id="never-faster"),
])
def test_crossover_uniform_ratio(ratio, status, crossover_T, estimate):
    row = cross({T: ratio for T in LENGTHS}, {T: 1.0 for T in LENGTHS})
    assert row["status"] == status
    assert row["crossover_T"] == pytest.approx(crossover_T, nan_ok=True)
    assert row["crossover_estimate"] == pytest.approx(estimate, nan_ok=True)


def test_baseline_oom_counts_as_variant_faster():
    row = cross({T: 2.0 for T in LENGTHS}, {T: 1.0 for T in LENGTHS}, baseline="dot",
                baseline_status={512: "oom", 1024: "oom"})
    assert (row["status"], row["crossover_T"], row["crossover_estimate"]) == ("crosses", 512, 512.0)
    assert row["note"] == "baseline oom at T>=512"
    assert math.isnan(row["ratio_at_max_T"]) and row["T_max"] == 1024


def test_unsupported_baseline_length_is_left_out_and_variant_oom_is_slower():
    row = cross({T: 0.5 for T in LENGTHS}, {T: 1.0 for T in LENGTHS}, baseline_status={1024: "unsupported"},
                variant_status={64: "oom"})
    assert (row["status"], row["crossover_T"], row["T_max"]) == ("crosses", 128, 512)
    assert row["note"] == "variant oom at T>=64"


@pytest.mark.parametrize("failure", ["unavailable", "unsupported", "error"])
def test_variant_failure_other_than_oom_says_nothing_about_speed(failure):
    row = cross({T: 0.5 for T in LENGTHS}, {T: 1.0 for T in LENGTHS}, variant_status={1024: failure})
    assert (row["status"], row["crossover_T"], row["T_max"]) == ("always faster", 64, 512)
    everywhere = cross({T: 0.5 for T in LENGTHS}, {T: 1.0 for T in LENGTHS},
                       variant_status={T: failure for T in LENGTHS})
    assert everywhere["status"] == "no common lengths"


@pytest.mark.parametrize("variant_values, baseline_values, baseline_B", [
    pytest.param({64: 1.0, 128: 1.0}, {256: 1.0, 512: 1.0}, 32, id="disjoint-lengths"),
    pytest.param({64: 1.0, 128: 1.0}, {64: 1.0, 128: 1.0}, 16, id="same-T-other-B"),
])
def test_no_common_lengths(variant_values, baseline_values, baseline_B):
    row = cross(variant_values, baseline_values, B=baseline_B)
    assert row["status"] == "no common lengths" and math.isnan(row["crossover_T"])


def test_crossovers_per_baseline_and_model_level_with_model_none():
    frame = pd.DataFrame(rows("linrec", law(150, 1)) + rows("dot", law(1, 2)) + rows("sdpa", law(0.1, 2))
                         + rows("linrec", law(1, 1), level="model", model="sasrec")
                         + rows("sdpa", law(2, 1), level="model", model="sasrec"))
    table = crossovers(frame)
    attention = table[(table["level"] == "attention") & (table["variant"] == "linrec")].set_index("baseline")
    assert attention.loc["dot", "crossover_T"] == 256 and attention.loc["sdpa", "status"] == "never faster"
    model = table[(table["level"] == "model") & (table["baseline"] == "sdpa")]
    assert model["status"].tolist() == ["always faster"]
    # dot and sdpa are variants too when compared with the other baseline.
    assert set(table.loc[table["baseline"] == "dot", "variant"]) == {"linrec", "sdpa"}


def test_speedup_table_long_format():
    failed_with_none = {**rows("sdpa", {2048: None})[0], "stat": None}  # a harness may write value=None
    frame = pd.DataFrame(rows("linrec", law(150, 1)) + rows("sdpa", law(1, 2), status={1024: "oom"})
                         + rows("linrec", law(1, 1), level="model", model="sasrec") + [failed_with_none])
    table = speedup_table(frame, baseline="sdpa")
    assert table["T"].tolist() == [64, 128, 256, 512]
    assert table["speedup"].tolist() == pytest.approx([T / 150 for T in (64, 128, 256, 512)])
    assert set(table["variant"]) == {"linrec"} and set(table["baseline"]) == {"sdpa"}


@pytest.mark.parametrize("call", [
    pytest.param(scaling_exponents, id="scaling"),
    pytest.param(crossovers, id="crossovers"),
    pytest.param(speedup_table, id="speedup"),
])
def test_missing_column_is_named(call):
    frame = pd.DataFrame(rows("dot", law(1, 2))).drop(columns="value")
    with pytest.raises(ValueError, match="'value'"):
        call(frame)


def test_old_rows_without_label_columns():
    frame = pd.DataFrame(rows("dot", law(1, 2))).drop(columns=["model", "batch_policy", "tokens", "run_id"])
    assert scaling_exponents(frame)["exponent"].iloc[0] == pytest.approx(2.0, abs=1e-6)
