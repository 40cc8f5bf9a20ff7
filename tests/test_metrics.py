"""Ranking metrics and evaluation protocols on hand-computed cases."""
import math

import pytest
import torch

from bench.train.batches import LeaveOneOut
from bench.train.evaluate import evaluate
from bench.train.metrics import ranking_metrics, sample_negatives, target_ranks
from tests.conftest import sequence_data


@pytest.mark.parametrize("scores, target, rank", [
    pytest.param([0.1, 0.5, 0.3], 2, 1, id="second"),
    pytest.param([0.9, 0.5, 0.3], 0, 0, id="top"),
    pytest.param([1.0, 1.0, 0.0], 0, 1, id="tie-counts-against"),
    pytest.param([1.0, 1.0, 1.0, 1.0], 3, 3, id="all-tied-last"),
    pytest.param([0.2, float("-inf"), 0.1], 2, 1, id="minus-inf-below"),
])
def test_target_rank(scores, target, rank):
    assert target_ranks(torch.tensor([scores]), torch.tensor([target])).item() == rank


def test_metric_values_hand_computed():
    values = ranking_metrics(torch.tensor([0, 1, 4, 9, 19, 25]), ks=(5, 10, 20))
    assert values["hr@5"].tolist() == [1, 1, 1, 0, 0, 0]
    assert values["hr@20"].tolist() == [1, 1, 1, 1, 1, 0]
    assert values["ndcg@10"].tolist() == pytest.approx([1, 1 / math.log2(3), 1 / math.log2(6), 1 / math.log2(11), 0, 0])
    assert values["mrr@10"].tolist() == pytest.approx([1, 0.5, 0.2, 0.1, 0, 0])


def test_constant_scores_give_zero_not_one():
    scores = torch.zeros(7, 1349)
    values = ranking_metrics(target_ranks(scores, torch.arange(7) * 100), ks=(10,))
    assert all(float(v.mean()) == 0.0 for v in values.values())


def test_nan_scores_are_refused():
    with pytest.raises(ValueError, match="NaN"):
        target_ranks(torch.tensor([[0.1, float("nan")]]), torch.tensor([0]))


@pytest.mark.parametrize("weights", [None, torch.arange(1.0, 31.0)], ids=["uniform", "popularity"])
def test_negatives_are_distinct_unseen_and_seeded(weights):
    excluded = torch.zeros(4, 30, dtype=torch.bool)
    excluded[:, :10] = True
    first = sample_negatives(excluded, 15, torch.Generator().manual_seed(1), weights)
    again = sample_negatives(excluded, 15, torch.Generator().manual_seed(1), weights)
    assert torch.equal(first, again)
    assert (first >= 10).all()
    assert all(len(set(row.tolist())) == 15 for row in first)


def test_popularity_sampling_follows_weights():
    weights = torch.tensor([0.0, 1.0, 1.0, 8.0] + [1.0] * 6)
    draws = sample_negatives(torch.zeros(4000, 10, dtype=torch.bool), 1, torch.Generator().manual_seed(0), weights)
    counts = torch.bincount(draws.flatten(), minlength=10).double() / 4000
    assert counts[0] == 0 and counts[3] == pytest.approx(0.5, abs=0.04)


def test_too_few_candidates_is_a_clear_error():
    with pytest.raises(ValueError, match="cannot sample 100 negatives"):
        sample_negatives(torch.zeros(2, 50, dtype=torch.bool), 100, torch.Generator())


class FixedScores(torch.nn.Module):
    """A stand-in model: scores come from a function of the window."""

    def __init__(self, score, history_len=40):
        super().__init__()
        self.score, self.history_len, self.max_len = score, history_len, history_len

    def predict(self, item_seq, lengths, padded=None):
        return self.score(item_seq, lengths)


@pytest.fixture
def split():
    others = [list(range(start, min(start + 24, 131))) for start in range(13, 131, 24)]  # every item occurs somewhere
    return LeaveOneOut.from_data(sequence_data([[1, 2, 3, 4, 5], [6, 7, 8, 9], [2, 4, 6, 8, 10, 12]] + others, 130))


@pytest.mark.parametrize("protocol", ["full", "uni100", "pop100"])
def test_oracle_scores_one_and_constant_scores_zero(split, protocol):
    perfect = FixedScores(lambda s, n: torch.nn.functional.one_hot(split_targets(split, s, n), split.num_items).float())
    assert evaluate(perfect, split, "test", protocol=protocol)["ndcg@10"] == pytest.approx(1.0)
    flat = FixedScores(lambda s, n: torch.zeros(len(s), split.num_items))
    assert evaluate(flat, split, "test", protocol=protocol)["hr@20"] == 0.0


def split_targets(split, item_seq, lengths):
    """Column of each window's true next item (looked up from the split for the test windows)."""
    ends = {tuple(split.items[s:s + n].tolist()): int(split.items[s + n]) for s, n in
            zip(split.starts.tolist(), (split.lengths - 1).tolist())}
    keys = [tuple(row[:n].tolist()) for row, n in zip(item_seq, lengths.tolist())]
    return torch.tensor([ends[k] - 1 for k in keys])


def test_exclude_seen_removes_history_but_never_the_target(split):
    def history_above_target(item_seq, lengths):  # seen items 2, the target 1, the rest 0
        seen = 2.0 * (item_seq > 0).float()  # padding (id 0) adds nothing
        columns = (item_seq - 1).clamp(min=0)
        scores = torch.zeros(len(item_seq), split.num_items).scatter_reduce_(1, columns, seen, "amax")
        return scores.scatter_(1, split_targets(split, item_seq, lengths)[:, None], 1.0)

    model = FixedScores(history_above_target)
    assert evaluate(model, split, "test", ks=(1,))["hr@1"] == 0.0
    assert evaluate(model, split, "test", ks=(1,), exclude_seen=True)["hr@1"] == 1.0


def test_exclude_seen_only_with_full_ranking(split):
    with pytest.raises(ValueError, match="full ranking only"):
        evaluate(FixedScores(lambda s, n: torch.zeros(len(s), split.num_items)), split, "test", protocol="uni100",
                 exclude_seen=True)
    with pytest.raises(ValueError, match="unknown evaluation protocol"):
        evaluate(FixedScores(lambda s, n: torch.zeros(len(s), split.num_items)), split, "test", protocol="pop50")
