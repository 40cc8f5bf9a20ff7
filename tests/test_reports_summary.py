"""What each run shows: the findings written from fixture rows (best attention and its significance, first places
over configurations, crossovers against sdpa, memory exponents) and the caveats each run carries."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from scipy import stats

from bench.results import write_rows
from reports.summary import run_findings
from tests.test_reports_accuracy import NDCG, train_rows
from tests.test_reports_figures import model_level_rows, profile_rows


def findings(rows: pd.DataFrame, marks=None, scale="") -> dict:
    table = run_findings([Path("results/fixture")], rows.assign(run_id="fixture"), marks or {}, scale)[0][1]
    return dict(zip(table["finding"], table["what the numbers say"]))


def test_a_training_run_names_its_best_attention_with_the_paired_test():
    said = findings(train_rows())
    p = stats.ttest_rel(NDCG["linrec"], NDCG["dot"]).pvalue
    change = 100 * (sum(NDCG["linrec"]) / sum(NDCG["dot"]) - 1)
    verdict = "significant" if p < 0.05 else "not significant"
    assert said["best test NDCG@10, sasrec, full protocol, N=50"] == (
        f"linrec {sum(NDCG['linrec']) / 3:.4f} (+{change:.1f}% vs dot, p = {p:.2g} over 3 seeds: {verdict})")
    assert said["caveats"] == "none recorded"


@pytest.mark.parametrize("values, expected", [
    ({"dot": [0.05], "linrec": [0.06]}, "linrec 0.0600 (+20.0% vs dot, one seed: no significance test)"),
    ({"dot": [0.06], "linrec": [0.05]}, "dot 0.0600; the next, linrec, -16.7% vs dot, one seed: no significance test"),
    ({"dot": [0.050, 0.051, 0.052], "linrec": [0.070, 0.0712, 0.0719]}, ": significant)"),
    ({"dot": [0.050, 0.060, 0.055], "linrec": [0.060, 0.050, 0.056]}, ": not significant)"),
], ids=["one-seed", "dot-first", "significant", "noisy"])
def test_the_best_attention_says_how_sure_it_is(values, expected):
    said = findings(train_rows(values))["best test NDCG@10, sasrec, full protocol, N=50"]
    assert said.endswith(expected)


def test_a_sensitivity_run_counts_first_places_over_its_configurations():
    rows = pd.concat([train_rows({"dot": [0.05], "linrec": [0.06]}).assign(hidden=16),
                      train_rows({"dot": [0.05], "linrec": [0.04]}).assign(hidden=32),
                      train_rows({"dot": [0.05], "linrec": [0.07]}).assign(hidden=64)])
    rows["cell"] = rows["cell"] + "-" + rows["hidden"].astype(str)
    said = findings(rows)["best test NDCG@10, sasrec, full protocol, 3 configurations"]
    assert said == "first: linrec in 2, dot in 1; linrec above dot in 2 of 3 (no seeds to test)"


def test_a_profiling_run_gives_crossovers_against_sdpa_and_memory_exponents():
    rows = profile_rows()
    linrec = (rows["variant"] == "linrec") & (rows["metric"] == "time")
    rows.loc[linrec & rows["T"].ge(256), "value"] /= 100  # faster than sdpa from 256 on
    said = findings(rows)
    crossing = said["faster than sdpa, attention, fwdbwd, float32, cpu"]
    assert "dot never (" in crossing and "sdpa's time at T=512" in crossing and "linrec from T≈" in crossing
    estimate = float(crossing.split("linrec from T≈")[1])
    assert 128 < estimate < 256  # between the last slower length and the first faster one
    memory = said["peak memory per sequence ~ T^b, attention, fwdbwd, float32, cpu"]
    assert memory == "linrec T^1.00, sdpa T^1.00, dot T^2.00"
    assert said["caveats"] == "1 profiled cells did not measure (oom 1)"


def test_a_model_level_run_compares_linrec_as_sasrec_trains_it():
    said = findings(model_level_rows())
    key = next(k for k in said if k.startswith("faster than sdpa, model sasrec"))
    assert "causal except linrec (no causal mask)" in key and "linrec" in said[key]


def test_the_caveats_name_scale_provenance_unfinished_cells_and_load():
    rows = profile_rows()
    rows.loc[(rows["variant"] == "linrec") & (rows["metric"] == "time") & (rows["T"] == 64), "loaded"] = "busy"
    said = findings(rows, marks={"fixture": ["measured on a dirty tree (abc-dirty)"]}, scale="Quick profile")
    assert said["caveats"] == ("Quick profile; measured on a dirty tree (abc-dirty); 1 profiled cells did not "
                               "measure (oom 1); 1 timings taken under load even after retries (marked in the "
                               "scaling captions)")
    diverged = train_rows({"dot": [0.05], "linrec": [0.06]})
    diverged.loc[(diverged["cell"] == "linrec-s0-full") & (diverged["metric"] == "status"), "status"] = "diverged"
    epochs = pd.DataFrame([{"bench": "train", "cell": "dot-s0-full", "metric": "others_cpu", "value": share,
                            "split": "train", "epoch": epoch} for epoch, share in ((1, 0.6), (2, 0.0))])
    said = findings(pd.concat([diverged, epochs]))
    assert said["caveats"] == ("1 of 2 training cells did not finish (diverged 1); 1 of 2 training epochs timed "
                               "while other processes used more than 25% of the CPUs")


def test_cells_copied_from_another_run_are_said_and_never_a_setting():
    rows = train_rows({"dot": [0.05, 0.06], "linrec": [0.06, 0.07]})
    rows.loc[rows["attention"] == "dot", "reused_from"] = "accuracy"
    said = findings(rows)
    assert list(said)[0] == "best test NDCG@10, sasrec, full protocol, N=50"  # one configuration, not two
    assert said["caveats"] == "2 of 4 training cells copied from accuracy, where the same cell was trained"


def test_planned_cells_without_a_result_are_a_caveat(tmp_path):
    run = tmp_path / "fixture"
    run.mkdir()
    rows = train_rows({"dot": [0.05], "linrec": [0.06]})
    write_rows(run / "rows.jsonl", rows.to_dict("records"))
    cells = sorted(set(rows["cell"]))
    (run / "plan.json").write_text(json.dumps({"grid": "g", "cells": cells + ["dot-N200-s0", "linrec-N200-s0"]}))
    table = run_findings([run], rows.assign(run_id="fixture"), {})[0][1]
    said = dict(zip(table["finding"], table["what the numbers say"]))
    assert said["caveats"] == ("2 of 4 planned training cells have no result yet (not run, still running or "
                               "failed)")
    (run / "plan.json").write_text(json.dumps({"grid": "g", "cells": cells}))
    table = run_findings([run], rows.assign(run_id="fixture"), {})[0][1]
    assert table["what the numbers say"].iloc[-1] == "none recorded"
    (run / "plan.json").write_text('{"grid": "g", "cel')
    table = run_findings([run], rows.assign(run_id="fixture"), {})[0][1]
    assert table["what the numbers say"].iloc[-1].startswith("its plan could not be read (")
