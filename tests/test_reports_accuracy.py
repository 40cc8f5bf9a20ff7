"""The accuracy table from fixture rows: seeds, change and paired test against dot, ranks, styles, protocols."""
from __future__ import annotations

import math

import pandas as pd
import pytest
from scipy import stats

from reports.accuracy import accuracy_summary, accuracy_table, excluded_cells

NDCG = {"dot": [0.050, 0.055, 0.060], "linrec": [0.060, 0.066, 0.071], "sdpa": [0.051]}


def train_rows(values=NDCG, protocol="full", extra_cells=()):
    """Rows as the trainer writes them: a status row per cell and test rows per metric."""
    rows = []
    for attention, per_seed in values.items():
        for seed, value in enumerate(per_seed):
            cell = f"{attention}-s{seed}-{protocol}"
            base = {"bench": "train", "cell": cell, "model": "sasrec", "attention": attention, "max_len": 50,
                    "dataset": "toy", "seed": seed, "protocol": protocol, "shuffle_train_order": False,
                    "path": "per-prefix"}
            rows.append({**base, "metric": "status", "status": "finished", "split": None})
            for metric, scale in (("hr@10", 2.0), ("ndcg@10", 1.0), ("mrr@10", 0.6)):
                rows.append({**base, "split": "test", "metric": metric, "value": value * scale})
    rows += list(extra_cells)
    return pd.DataFrame(rows)


def test_mean_std_change_and_paired_p_against_dot():
    summary = accuracy_summary(train_rows())
    row = summary[(summary["attention"] == "linrec") & (summary["metric"] == "ndcg@10")].iloc[0]
    assert row["mean"] == pytest.approx(sum(NDCG["linrec"]) / 3)
    assert row["std"] == pytest.approx(pd.Series(NDCG["linrec"]).std())
    assert row["change"] == pytest.approx(row["mean"] / (sum(NDCG["dot"]) / 3) - 1)
    assert row["p"] == pytest.approx(stats.ttest_rel(NDCG["linrec"], NDCG["dot"]).pvalue)
    single = summary[(summary["attention"] == "sdpa") & (summary["metric"] == "ndcg@10")].iloc[0]
    assert single["n"] == 1 and math.isnan(single["std"]) and math.isnan(single["p"])  # one shared seed: no test
    assert summary.set_index(["attention", "metric"]).loc[("linrec", "ndcg@10"), "rank"] == 1


@pytest.mark.parametrize("style, best, second", [("html", "<b>", "<u>"), ("latex", r"\textbf{", r"\underline{"),
                                                 ("text", "", "")])
def test_best_and_second_are_marked_in_each_style(style, best, second):
    table = accuracy_table(accuracy_summary(train_rows()), style)
    column = ("toy", "ndcg@10")
    linrec, dot, sdpa = (table.loc[("sasrec", a, 50, "per-prefix"), column] for a in ("linrec", "dot", "sdpa"))
    assert linrec.startswith(best) and dot.startswith(second)  # means: linrec 0.066, dot 0.055, sdpa 0.051
    assert not sdpa.startswith(("<", "\\"))
    assert "±" in dot or r"$\pm$" in dot
    assert list(table.columns) == [("toy", "hr@10"), ("toy", "ndcg@10"), ("toy", "mrr@10")]


def test_significance_marks_follow_p():
    strong = {"dot": [0.050, 0.051, 0.052], "linrec": [0.070, 0.0712, 0.0719]}
    text = accuracy_table(accuracy_summary(train_rows(strong)), "text").loc[("sasrec", "linrec", 50, "per-prefix"),
                                                                            ("toy", "ndcg@10")]
    assert "**)" in text or "*)" in text
    noisy = {"dot": [0.050, 0.060, 0.055], "linrec": [0.060, 0.050, 0.056]}
    text = accuracy_table(accuracy_summary(train_rows(noisy)), "text").loc[("sasrec", "linrec", 50, "per-prefix"),
                                                                           ("toy", "ndcg@10")]
    assert "*" not in text


def test_protocols_never_share_a_table():
    frame = pd.concat([train_rows(), train_rows(protocol="uni100")])
    full, sampled = accuracy_summary(frame, "full"), accuracy_summary(frame, "uni100")
    assert set(full["protocol"]) == {"full"} and set(sampled["protocol"]) == {"uni100"}
    with pytest.raises(ValueError, match="no finished test rows under protocol 'pop100'; these runs hold: full, "
                                         "uni100"):
        accuracy_summary(frame, "pop100")


def test_unfinished_cells_are_left_out_and_listed():
    diverged = [{"bench": "train", "cell": "linrec-s9", "model": "sasrec", "attention": "linrec", "max_len": 50,
                 "dataset": "toy", "seed": 9, "protocol": "full", "metric": "status", "status": "diverged",
                 "message": "training loss became nan at step 3", "split": None},
                {"bench": "train", "cell": "linrec-s9", "model": "sasrec", "attention": "linrec", "max_len": 50,
                 "dataset": "toy", "seed": 9, "protocol": "full", "metric": "ndcg@10", "split": "test", "value": 0.9}]
    frame = train_rows(extra_cells=diverged)
    summary = accuracy_summary(frame)
    assert summary.set_index(["attention", "metric"]).loc[("linrec", "ndcg@10"), "n"] == 3  # the 0.9 is not in
    assert excluded_cells(frame).to_dict("records") == [
        {"cell": "linrec-s9", "status": "diverged", "message": "training loss became nan at step 3"}]


def test_shuffled_order_is_its_own_row_compared_with_dot():
    shuffled = train_rows({"dot": [0.02]})
    shuffled = shuffled.assign(shuffle_train_order=True, cell=shuffled["cell"] + "-shuffled")
    summary = accuracy_summary(pd.concat([train_rows(), shuffled]))
    assert "dot (shuffled order)" in set(summary["attention"])
    row = summary[(summary["attention"] == "dot (shuffled order)") & (summary["metric"] == "ndcg@10")].iloc[0]
    assert row["change"] == pytest.approx(0.02 / 0.055 - 1)


def test_no_training_rows_and_an_unknown_style_are_one_line_errors():
    with pytest.raises(ValueError, match="no training rows"):
        accuracy_summary(pd.DataFrame())
    with pytest.raises(ValueError, match="unknown table style 'pdf'"):
        accuracy_table(accuracy_summary(train_rows()), "pdf")


def test_cells_trained_with_other_settings_are_rows_of_their_own_not_seeds():
    wide = train_rows({"dot": [0.07], "linrec": [0.08]})
    wide = wide.assign(hidden=128, cell=wide["cell"] + "-wide")
    frame = pd.concat([train_rows().assign(hidden=64), wide])
    summary = accuracy_summary(frame)
    linrec = summary[(summary["attention"] == "linrec") & (summary["metric"] == "ndcg@10")].set_index("hidden")
    assert linrec.loc[64, "n"] == 3 and linrec.loc[128, "n"] == 1
    assert linrec.loc[128, "change"] == pytest.approx(0.08 / 0.07 - 1)  # against dot with the same hidden size
    table = accuracy_table(summary, "text")
    assert table.index.names == ["model", "attention", "max_len", "path", "hidden"]


@pytest.mark.parametrize("setting, values", [("activation", ("gelu", "relu")), ("objective", ("last", "all")),
                                             ("device", ("cpu", "cuda")), ("last_path", ("auto", "per-prefix"))],
                         ids=["activation", "objective", "device", "last_path"])
def test_any_setting_that_varies_keys_the_rows(setting, values):
    other = train_rows({"dot": [0.07], "linrec": [0.08]})
    frame = pd.concat([train_rows().assign(**{setting: values[0]}),
                       other.assign(**{setting: values[1]}, cell=other["cell"] + "-other")])
    summary = accuracy_summary(frame)
    linrec = summary[(summary["attention"] == "linrec") & (summary["metric"] == "ndcg@10")].set_index(setting)
    assert linrec.loc[values[0], "n"] == 3 and linrec.loc[values[1], "n"] == 1  # never averaged as seeds
    assert linrec.loc[values[1], "change"] == pytest.approx(0.08 / 0.07 - 1)
    assert setting in accuracy_table(summary, "text").index.names


def test_the_path_is_shown_and_attentions_on_other_paths_still_compare_with_dot():
    frame = train_rows()
    frame = frame.assign(path=frame["path"].where(frame["attention"] != "dot", "per-sequence"))
    summary = accuracy_summary(frame)
    table = accuracy_table(summary, "text")
    assert {("sasrec", "dot", 50, "per-sequence"), ("sasrec", "linrec", 50, "per-prefix")} <= set(table.index)
    linrec = summary[(summary["attention"] == "linrec") & (summary["metric"] == "ndcg@10")].iloc[0]
    assert linrec["change"] == pytest.approx(sum(NDCG["linrec"]) / sum(NDCG["dot"]) - 1) and linrec["rank"] == 1


def test_whole_number_settings_print_as_whole_numbers():
    wide = train_rows({"dot": [0.07], "linrec": [0.08]})
    frame = pd.concat([train_rows().assign(hidden=64.0, dropout=0.2),
                       wide.assign(hidden=128.0, dropout=0.5, cell=wide["cell"] + "-wide")])  # as JSON reads them
    html = accuracy_table(accuracy_summary(frame), "html").to_html()
    assert ">128<" in html and ">128.0<" not in html and ">0.5<" in html


def test_one_cell_in_two_runs_counts_once():
    frame = pd.concat([train_rows().assign(run_id="a"), train_rows().assign(run_id="b")])
    summary = accuracy_summary(frame)
    assert summary.set_index(["attention", "metric"]).loc[("linrec", "ndcg@10"), "n"] == 3
