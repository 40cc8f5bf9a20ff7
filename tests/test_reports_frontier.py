"""The accuracy-cost frontier from fixture rows: epoch times, profiled peaks, Pareto optimality, the figure."""
from __future__ import annotations

import pandas as pd
import pytest

from reports.figures_frontier import frontier_figure, frontier_points, pareto_optimal

# mixer: (test NDCG@10 per seed, seconds per epoch, profiled peak MiB or None)
CELLS = {"dot": ([0.050, 0.054], 10.0, 300.0), "linrec": ([0.052, 0.056], 6.0, 120.0),
         "mamba": ([0.058, 0.060], 12.0, 100.0), "gru": ([0.040, 0.041], 3.0, None),
         "lru": ([0.045, 0.047], 7.0, 150.0)}


def rows(cells=CELLS) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training rows (status, two epoch times, test metrics) and model-level profile rows, as the benches write."""
    train, profile = [], []
    for mixer, (per_seed, seconds, peak) in cells.items():
        for seed, ndcg in enumerate(per_seed):
            base = {"bench": "train", "cell": f"{mixer}-s{seed}", "model": "sasrec", "attention": mixer,
                    "max_len": 20, "dataset": "toy", "seed": seed, "protocol": "full", "shuffle_train_order": False,
                    "path": "per-sequence"}
            train.append({**base, "metric": "status", "status": "finished", "split": None})
            train += [{**base, "split": "train", "metric": "epoch_time", "value": seconds + d} for d in (-1, 1)]
            train += [{**base, "split": "test", "metric": m, "value": ndcg} for m in ("hr@10", "ndcg@10", "mrr@10")]
        if peak is not None:
            cell = {"bench": "profile", "level": "model", "model": "sasrec", "mode": "fwdbwd", "variant": mixer,
                    "status": "ok"}
            profile += [{**cell, "T": 20, "metric": "peak_memory", "value": peak},
                        {**cell, "T": 200, "metric": "peak_memory", "value": peak * 9},
                        {**cell, "T": 20, "metric": "time", "stat": "median", "value": seconds / 10},
                        {**cell, "T": 20, "metric": "time", "stat": "mean", "value": 99.0}]  # not the median
    train.append({"bench": "train", "cell": "pop", "model": "pop", "attention": "none", "max_len": 20,
                  "dataset": "toy", "seed": 0, "protocol": "full", "shuffle_train_order": False, "path": "-",
                  "metric": "status", "status": "finished", "split": None})
    train += [{"bench": "train", "cell": "pop", "model": "pop", "attention": "none", "max_len": 20, "dataset": "toy",
               "seed": 0, "protocol": "full", "shuffle_train_order": False, "path": "-", "split": "test",
               "metric": m, "value": 0.02} for m in ("hr@10", "ndcg@10", "mrr@10")]
    return pd.DataFrame(train), pd.DataFrame(profile)


@pytest.mark.parametrize("accuracy, cost, expected", [
    ([0.5, 0.6, 0.4], [1.0, 2.0, 3.0], [True, True, False]),
    ([0.5, 0.5], [1.0, 1.0], [True, True]),  # a tie dominates neither
    ([0.5, 0.6], [1.0, None], [True, False]),  # no cost, no place on the frontier
    ([0.6, 0.5], [1.0, 2.0], [True, False]),
], ids=["chain", "tie", "missing-cost", "dominated"])
def test_pareto_optimal(accuracy, cost, expected):
    assert pareto_optimal(pd.Series(accuracy), pd.Series(cost, dtype=float)).tolist() == expected


def test_points_join_accuracy_time_and_memory():
    points = frontier_points(*rows()).set_index("attention")
    assert "none" not in points.index  # the most-popular floor trains no mixer
    assert points.at["mamba", "ndcg"] == pytest.approx(0.059)
    assert points.at["dot", "epoch_seconds"] == pytest.approx(10.0)  # median of every epoch of both seeds
    assert points.at["linrec", "peak_mib"] == pytest.approx(120.0)  # the profile cell at T = N, not T = 200
    assert points.at["linrec", "step_ms"] == pytest.approx(0.6)  # its median step time, side by side
    assert sorted(points.index[points["pareto_step_ms"]]) == ["linrec", "mamba"]  # gru has no profile cell
    assert pd.isna(points.at["gru", "peak_mib"])
    assert sorted(points.index[points["pareto_epoch_seconds"]]) == ["gru", "linrec", "mamba"]
    assert sorted(points.index[points["pareto_peak_mib"]]) == ["mamba"]  # the most accurate and the smallest


def test_an_epoch_disturbed_by_other_load_does_not_move_the_epoch_time():
    train, profile = rows()
    slow = train[(train["attention"] == "dot") & (train["metric"] == "epoch_time")].head(1).assign(value=1000.0)
    points = frontier_points(pd.concat([train, slow]), profile).set_index("attention")
    assert points.at["dot", "epoch_seconds"] == pytest.approx(11.0)  # median of 9, 11, 9, 11, 1000


def test_memory_comes_from_the_same_backbone():
    train, profile = rows()
    other = train.assign(model="bert4rec", cell=train["cell"] + "-b4r")  # BERT4Rec trained, only SASRec profiled
    points = frontier_points(pd.concat([train, other]), profile)
    assert points.loc[points["model"] == "bert4rec", "peak_mib"].isna().all()
    assert points.loc[points["model"] == "sasrec", "peak_mib"].notna().sum() == 4


def test_points_without_profile_rows_have_only_time():
    train, _ = rows()
    points = frontier_points(train, pd.DataFrame())
    assert points["peak_mib"].isna().all() and not points["pareto_peak_mib"].any()
    assert points["step_ms"].isna().all() and not points["pareto_step_ms"].any()
    figure, caption = frontier_figure(points)
    assert len(figure.axes) == 1 and "peak memory" not in caption and "step time" not in caption


def test_figure_has_two_time_panels_and_a_memory_panel_and_names_the_optimal():
    figure, caption = frontier_figure(frontier_points(*rows()))
    assert len(figure.axes) == 3 and "step time profiled side by side" in caption
    assert "Pareto-optimal by epoch time: sasrec N=20: " in caption
    for name in ("gru", "linrec", "mamba"):
        assert name in caption.split("Pareto-optimal by epoch time:")[1]
    assert "dot" not in caption.split("Pareto-optimal by epoch time:")[1]
